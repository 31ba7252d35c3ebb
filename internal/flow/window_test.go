package flow

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/logplane/logplane/internal/alias"
	"github.com/logplane/logplane/internal/conditions"
)

func sampleAt(records float64) *Sample {
	return &Sample{Uptime: records, Outputs: map[string]OutputCounters{"o": {Records: records}}}
}

func result(key string, at time.Time, s *Sample, err error) Result {
	return Result{Target: Target{Key: key}, Sample: s, At: at, Err: err}
}

func TestTrackerRatesAcrossPodsGapsAndChurn(t *testing.T) {
	tr := NewTracker()
	t0 := time.Unix(1000, 0)
	// First cycle: nothing to compare with yet.
	if c := tr.Observe([]Result{result("a", t0, sampleAt(0), nil), result("b", t0, sampleAt(0), nil)}); len(c.Rates) != 0 || c.Window != 0 {
		t.Fatalf("rates from one sample: %v over %v", c.Rates, c.Window)
	}
	// a: 300 records in 30 s; b: 600 in 30 s → 30/s together.
	c := tr.Observe([]Result{result("a", t0.Add(30*time.Second), sampleAt(300), nil),
		result("b", t0.Add(30*time.Second), sampleAt(600), nil)})
	rates, window := c.Rates, c.Window
	if got := rates["o"].Records; math.Abs(got-30) > 1e-9 || window != 30*time.Second {
		t.Fatalf("rate %v over %v, want 30/s over 30s", got, window)
	}
	// a misses a scrape; b goes on.
	c = tr.Observe([]Result{result("a", t0.Add(60*time.Second), nil, errors.New("timeout")),
		result("b", t0.Add(60*time.Second), sampleAt(900), nil)})
	if c.Targets != 2 || c.Failed != 1 || len(c.Errors) != 1 || c.Errors[0] != "timeout" {
		t.Fatalf("a failed scrape is not accounted: %+v", c)
	}
	// a comes back: its window spans the gap (60 s, 600 records → 10/s).
	c = tr.Observe([]Result{result("a", t0.Add(90*time.Second), sampleAt(900), nil),
		result("b", t0.Add(90*time.Second), sampleAt(1200), nil)})
	rates, window = c.Rates, c.Window
	if got := rates["o"].Records; math.Abs(got-20) > 1e-9 || window != 60*time.Second {
		t.Fatalf("after a gap: %v/s over %v, want 10 + 10 = 20/s over 60s", got, window)
	}
	// b disappears: only a counts, and b's history is forgotten.
	rates = tr.Observe([]Result{result("a", t0.Add(120*time.Second), sampleAt(1200), nil)}).Rates
	if got := rates["o"].Records; math.Abs(got-10) > 1e-9 {
		t.Fatalf("after churn: %v/s, want 10/s", got)
	}
	if _, ok := tr.targets["b"]; ok {
		t.Error("a vanished pod is still tracked")
	}
}

// A cycle in which some processes could not be read: each step is one cycle, 30 s
// apart, giving each process's records counter (fail: not read; absent: the pod is
// gone). Every process delivers 10 records/s unless a counter says otherwise.
func TestTrackerPartialCycles(t *testing.T) {
	const fail = -1
	type step map[string]float64
	cases := []struct {
		name    string
		steps   []step
		rates   []float64 // total records/s per step; -1: no window yet
		carried []int
	}{
		{"one miss: the last rates stand in, then the gap is measured",
			[]step{{"a": 0, "b": 0}, {"a": 300, "b": 300}, {"a": fail, "b": 600}, {"a": 900, "b": 900}},
			[]float64{-1, 20, 20, 20}, []int{0, 0, 1, 0}},
		{"two misses in a row: carried once, then the pod stops counting",
			[]step{{"a": 0, "b": 0}, {"a": 300, "b": 300}, {"a": fail, "b": 600}, {"a": fail, "b": 900}, {"a": 1200, "b": 1200}},
			[]float64{-1, 20, 20, 10, 20}, []int{0, 0, 1, 0, 0}},
		{"a miss after a recovery is carried again",
			[]step{{"a": 0}, {"a": 300}, {"a": fail}, {"a": 900}, {"a": fail}},
			[]float64{-1, 10, 10, 10, 10}, []int{0, 0, 1, 0, 1}},
		{"a process read once has no rates to carry",
			[]step{{"a": 0}, {"a": 300, "b": 0}, {"a": 600, "b": fail}, {"a": 900, "b": 600}},
			[]float64{-1, 10, 10, 20}, []int{0, 0, 0, 0}},
		{"a pod that is gone is not carried",
			[]step{{"a": 0, "b": 0}, {"a": 300, "b": 300}, {"a": 600}},
			[]float64{-1, 20, 10}, []int{0, 0, 0}},
		{"a restart during the gap counts from zero",
			[]step{{"a": 0}, {"a": 300}, {"a": fail}, {"a": 600}},
			[]float64{-1, 10, 10, 10}, []int{0, 0, 1, 0}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tr := NewTracker()
			t0 := time.Unix(1000, 0)
			for i, st := range tc.steps {
				at := t0.Add(time.Duration(i) * 30 * time.Second)
				var results []Result
				for _, key := range []string{"a", "b"} {
					n, ok := st[key]
					switch {
					case !ok:
					case n == fail:
						results = append(results, result(key, at, nil, errors.New("timeout")))
					default:
						s := sampleAt(n)
						if tc.name == "a restart during the gap counts from zero" && i == 3 {
							s.Uptime = 5 // restarted: 600 records since
						}
						results = append(results, result(key, at, s, nil))
					}
				}
				c := tr.Observe(results)
				got := c.Rates["o"].Records
				if c.Window == 0 {
					got = -1
				}
				if math.Abs(got-tc.rates[i]) > 1e-9 || c.Carried != tc.carried[i] {
					t.Fatalf("step %d: %v records/s (%d carried), want %v (%d carried)", i, got, c.Carried, tc.rates[i], tc.carried[i])
				}
			}
		})
	}
}

// Pods of Jobs come and go by the thousand: the tracker remembers only the ones in
// the last cycle.
func TestTrackerForgetsProcessesThatAreGone(t *testing.T) {
	tr := NewTracker()
	t0 := time.Unix(1000, 0)
	for cycle := range 100 {
		var results []Result
		for j := range 10 { // every pod lives for three cycles
			key := fmt.Sprintf("job-%d", cycle/3*10+j)
			results = append(results, result(key, t0.Add(time.Duration(cycle)*30*time.Second), sampleAt(float64(cycle*300)), nil))
		}
		tr.Observe(results)
		if len(tr.targets) != 10 {
			t.Fatalf("cycle %d: %d processes remembered, want the 10 just read", cycle, len(tr.targets))
		}
	}
}

// A sidecar's process reports only its own namespace's LogPipelines: a tenant pod
// that serves metrics on the sidecar's port cannot move anyone else's figures.
func TestTrackerScopesSidecars(t *testing.T) {
	own := alias.Output{PipelineKind: alias.LogPipeline, Namespace: "team-a", Pipeline: "files", OutputKind: alias.ClusterLogOutput, Output: "s3"}.Encode()
	other := alias.Output{PipelineKind: alias.LogPipeline, Namespace: "team-b", Pipeline: "web", OutputKind: alias.LogOutput, Output: "loki"}.Encode()
	cluster := alias.Output{PipelineKind: alias.ClusterLogPipeline, Pipeline: "audit", OutputKind: alias.ClusterLogOutput, Output: "siem"}.Encode()
	sample := func(n float64) *Sample {
		s := &Sample{Uptime: n, Outputs: map[string]OutputCounters{}, BufferUsed: map[string]float64{}}
		for _, a := range []string{own, other, cluster} {
			s.Outputs[a] = OutputCounters{Records: n}
			s.BufferUsed[a] = 60
		}
		return s
	}
	t0 := time.Unix(1000, 0)
	sidecar := Target{Key: "team-a/job/logplane-sidecar/uid", Namespace: "team-a"}
	agent := Target{Key: "logplane-system/agent/fluent-bit/uid"}
	for _, tc := range []struct {
		target Target
		want   []string
	}{{sidecar, []string{own}}, {agent, []string{cluster, own, other}}} {
		tr := NewTracker()
		tr.Observe([]Result{{Target: tc.target, Sample: sample(0), At: t0}})
		c := tr.Observe([]Result{{Target: tc.target, Sample: sample(300), At: t0.Add(30 * time.Second)}})
		got := slices.Sorted(maps.Keys(c.Rates))
		want := slices.Sorted(slices.Values(tc.want))
		if !slices.Equal(got, want) || len(c.BufferUsed) != len(want) || len(c.Reported) != len(want) {
			t.Errorf("%s: rates for %v, buffers %v, want %v", tc.target.Key, got, c.BufferUsed, want)
		}
	}
	// A sidecar that cannot be read and has nothing to carry names its namespace.
	c := NewTracker().Observe([]Result{{Target: sidecar, Err: errors.New("refused")}, {Target: agent, Err: errors.New("refused")}})
	if len(c.FailedNamespaces) != 1 || c.FailedNamespaces["team-a"] == "" {
		t.Errorf("failed namespaces %v, want team-a only", c.FailedNamespaces)
	}
}

// A process read for the first time reports its sections, though it has no rate yet.
func TestTrackerReportsSectionsBeforeRates(t *testing.T) {
	c := NewTracker().Observe([]Result{result("a", time.Unix(1000, 0), sampleAt(5), nil)})
	if !c.Reported["o"] || len(c.Rates) != 0 {
		t.Errorf("reported %v, rates %v", c.Reported, c.Rates)
	}
}

func TestTrackerKeepsTheFullestBuffer(t *testing.T) {
	full := func(used float64) *Sample {
		return &Sample{Outputs: map[string]OutputCounters{}, BufferUsed: map[string]float64{"o": used}}
	}
	now := time.Unix(1000, 0)
	c := NewTracker().Observe([]Result{result("a", now, full(20), nil), result("b", now, full(70), nil), result("c", now, full(5), nil)})
	if c.BufferUsed["o"] != 70 {
		t.Errorf("buffer used %v%%, want the fullest pod's 70%%", c.BufferUsed["o"])
	}
}

func TestDebouncerNeedsConsecutiveWindows(t *testing.T) {
	d := &Debouncer{Cycles: 2}
	healthy := metav1.Condition{Type: conditions.TypeFlowHealthy, Status: metav1.ConditionTrue, Reason: conditions.ReasonFlowHealthy}
	dropping := metav1.Condition{Type: conditions.TypeFlowHealthy, Status: metav1.ConditionFalse, Reason: conditions.ReasonSomeDataDropped}
	steps := []struct {
		in   metav1.Condition
		want string
	}{
		{healthy, conditions.ReasonFlowHealthy},      // first verdict: at once
		{dropping, conditions.ReasonFlowHealthy},     // one odd window: held back
		{healthy, conditions.ReasonFlowHealthy},      // back to normal: the odd one is forgotten
		{dropping, conditions.ReasonFlowHealthy},     // starts again
		{dropping, conditions.ReasonSomeDataDropped}, // two in a row: reported
		{healthy, conditions.ReasonSomeDataDropped},  // recovery needs two windows too
		{healthy, conditions.ReasonFlowHealthy},
	}
	for i, s := range steps {
		if got := d.Settle("p", s.in).Reason; got != s.want {
			t.Fatalf("step %d: reported %s, want %s", i, got, s.want)
		}
	}
	d.Forget("p")
	if got := d.Settle("p", dropping).Reason; got != conditions.ReasonSomeDataDropped {
		t.Errorf("after Forget the first verdict is reported at once, got %s", got)
	}
}
