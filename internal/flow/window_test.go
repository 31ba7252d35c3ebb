package flow

import (
	"errors"
	"math"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

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
	if _, ok := tr.last["b"]; ok {
		t.Error("a vanished pod is still tracked")
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
