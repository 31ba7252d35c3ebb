package flow

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	v1 "github.com/logplane/logplane/api/v1alpha1"
	"github.com/logplane/logplane/internal/alias"
	"github.com/logplane/logplane/internal/conditions"
	"github.com/logplane/logplane/internal/flow"
	"github.com/logplane/logplane/internal/render"
	"github.com/logplane/logplane/internal/status"
)

type cycles []struct {
	c   flow.Cycle
	err error
}

// withSidecars is a source that reads injected sidecars too.
type withSidecars struct{ *cycles }

func (withSidecars) ReadsSidecars() bool { return true }

func (s *cycles) Measure(context.Context) (flow.Cycle, error) {
	next := (*s)[0]
	*s = (*s)[1:]
	return next.c, next.err
}

var (
	web    = render.Ref{Kind: alias.LogPipeline, Namespace: "team-a", Name: "web"}
	quiet  = render.Ref{Kind: alias.LogPipeline, Namespace: "team-b", Name: "new"}
	files  = render.Ref{Kind: alias.LogPipeline, Namespace: "team-c", Name: "files"}
	broken = render.Ref{Kind: alias.LogPipeline, Namespace: "team-d", Name: "broken"}
)

func rates(records, dropped float64) map[string]flow.OutputCounters {
	return map[string]flow.OutputCounters{
		alias.Output{PipelineKind: alias.LogPipeline, Namespace: "team-a", Pipeline: "web", OutputKind: alias.LogOutput, Output: "loki"}.Encode():   {Records: records, Dropped: dropped},
		alias.Output{PipelineKind: alias.LogPipeline, Namespace: "team-a", Pipeline: "web", OutputKind: alias.LogOutput, Output: "bucket"}.Encode(): {Records: 40},
	}
}

func TestMonitorJudgesEveryKnownPipeline(t *testing.T) {
	scheme := runtime.NewScheme()
	_ = v1.AddToScheme(scheme)
	bucket := &v1.LogOutput{ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: "bucket"}, Spec: v1.OutputSpec{Type: v1.OutputS3}}
	loki := &v1.LogOutput{ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: "loki"}, Spec: v1.OutputSpec{Type: v1.OutputLoki}}
	board := status.NewBoard()
	ok := conditions.New(conditions.TypeConfigGenerated, metav1.ConditionTrue, conditions.ReasonConfigGenerated, 1)
	failed := conditions.New(conditions.TypeConfigGenerated, metav1.ConditionFalse, conditions.ReasonOutputNotFound, 1, "x")
	board.PublishConfig("default", map[render.Ref]status.Verdict{
		web:    {Agent: "default", Rendered: true, Config: ok},
		quiet:  {Agent: "default", Rendered: true, Config: ok},
		files:  {Sidecar: true, Rendered: true, Config: ok},
		broken: {Agent: "default", Config: failed},
	})
	src := &cycles{
		{c: flow.Cycle{Targets: 2}},
		{c: flow.Cycle{Targets: 2, Window: 30 * time.Second, Rates: rates(100, 0)}},
		{c: flow.Cycle{Targets: 2, Window: 30 * time.Second, Rates: rates(90, 10)}},
		{c: flow.Cycle{Targets: 2, Window: 30 * time.Second, Rates: rates(90, 10)}},
		{err: errors.New("connection refused")},
		{err: errors.New("connection refused")},
	}
	reg := prometheus.NewRegistry()
	m := &Monitor{Client: fake.NewClientBuilder().WithScheme(scheme).WithObjects(bucket, loki).Build(), Board: board, Source: src,
		Debounce: &flow.Debouncer{Cycles: 2}, Metrics: NewMetrics(reg), Now: func() time.Time { return time.Unix(1e9, 0) }}
	ctx := context.Background()

	step := func() {
		t.Helper()
		if err := m.Step(ctx); err != nil {
			t.Fatal(err)
		}
	}
	step()
	if e, _ := board.Get(web); e.Flow != nil {
		t.Fatal("a first sample produced a verdict")
	}

	step()
	e, _ := board.Get(web)
	if e.Flow == nil || e.Flow.Condition.Reason != conditions.ReasonFlowHealthy || e.Flow.Throughput.RecordsPerSecond != 100 {
		t.Fatalf("web: %+v", e.Flow)
	}
	if out := e.Flow.Throughput.Outputs; len(out) != 2 || out[0].Name != "bucket" || !strings.Contains(out[0].NotMeasurable, "S3") {
		t.Errorf("web outputs: %+v", out)
	}
	if e, _ := board.Get(quiet); e.Flow == nil || e.Flow.Condition.Reason != conditions.ReasonProbingFailed ||
		!strings.Contains(e.Flow.Condition.Message, "do not report this pipeline yet") {
		t.Errorf("a pipeline the agents do not report yet: %+v", e.Flow)
	}
	if e, _ := board.Get(files); e.Flow != nil {
		t.Errorf("a sidecar pipeline got a verdict from a source that does not read sidecars: %+v", e.Flow)
	}
	if e, _ := board.Get(broken); e.Flow != nil {
		t.Errorf("a pipeline out of the configuration got a flow verdict: %+v", e.Flow)
	}
	if got := testutil.ToFloat64(m.Metrics.rates["records"].WithLabelValues(alias.LogPipeline, "team-a", "web")); got != 140 {
		t.Errorf("records gauge %v, want 140 (S3 included: the gauge is what Fluent Bit reports)", got)
	}

	step() // one window with drops: debounced
	if e, _ := board.Get(web); e.Flow.Condition.Reason != conditions.ReasonFlowHealthy || e.Flow.Throughput.DroppedRecordsPerSecond != 10 {
		t.Errorf("after one dropping window: %s, dropped %d/s", e.Flow.Condition.Reason, e.Flow.Throughput.DroppedRecordsPerSecond)
	}
	step()
	if e, _ := board.Get(web); e.Flow.Condition.Reason != conditions.ReasonSomeDataDropped {
		t.Errorf("after two dropping windows: %s", e.Flow.Condition.Reason)
	}
	step()
	step() // two failed probes in a row
	if e, _ := board.Get(web); e.Flow.Condition.Reason != conditions.ReasonProbingFailed || !strings.Contains(e.Flow.Condition.Message, "connection refused") {
		t.Errorf("after failed probes: %+v", e.Flow.Condition)
	}
	if got := testutil.ToFloat64(m.Metrics.cycles.WithLabelValues("failed")); got != 2 {
		t.Errorf("failed cycles %v, want 2", got)
	}
}

// A file-input pipeline runs in the sidecars of the pods it selects: figures when
// they report it, and otherwise a verdict that says why there are none.
func TestMonitorJudgesSidecarPipelines(t *testing.T) {
	section := alias.Output{PipelineKind: alias.LogPipeline, Namespace: "team-c", Pipeline: "files", OutputKind: alias.LogOutput, Output: "loki"}.Encode()
	webRates := rates(100, 0)
	withFiles := func(r flow.OutputCounters) map[string]flow.OutputCounters {
		out := rates(100, 0)
		out[section] = r
		return out
	}
	cases := []struct {
		name    string
		cycle   flow.Cycle
		err     error
		status  metav1.ConditionStatus // "" when no verdict is published
		reason  string
		message string
		records int64
	}{
		{name: "measured like an agent's pipeline",
			cycle:  flow.Cycle{Targets: 3, Window: 30 * time.Second, Rates: withFiles(flow.OutputCounters{Records: 45, Dropped: 5}), Reported: map[string]bool{section: true}},
			status: metav1.ConditionFalse, reason: conditions.ReasonSomeDataDropped, records: 45},
		{name: "no running injected pod",
			cycle:  flow.Cycle{Targets: 2, Window: 30 * time.Second, Rates: webRates},
			status: metav1.ConditionUnknown, reason: conditions.ReasonNoSidecarsRunning, message: "No running pod has this pipeline's sidecar"},
		{name: "no target at all",
			cycle:  flow.Cycle{},
			status: metav1.ConditionUnknown, reason: conditions.ReasonNoSidecarsRunning},
		{name: "its sidecar was read once: no verdict yet",
			cycle: flow.Cycle{Targets: 3, Window: 30 * time.Second, Rates: webRates, Reported: map[string]bool{section: true}}},
		{name: "a sidecar of its namespace could not be read",
			cycle: flow.Cycle{Targets: 3, Failed: 1, Window: 30 * time.Second, Rates: webRates,
				FailedNamespaces: map[string]string{"team-c": "connection refused", "team-x": "secret-pod-name"}},
			status: metav1.ConditionUnknown, reason: conditions.ReasonProbingFailed, message: "sidecars in namespace team-c could not be read (connection refused)"},
		{name: "a sidecar of another namespace could not be read",
			cycle: flow.Cycle{Targets: 3, Failed: 1, Window: 30 * time.Second, Rates: webRates,
				FailedNamespaces: map[string]string{"team-x": "connection refused"}},
			status: metav1.ConditionUnknown, reason: conditions.ReasonNoSidecarsRunning},
		{name: "nothing could be read, its sidecars included",
			cycle:  flow.Cycle{Targets: 2, Failed: 2, FailedNamespaces: map[string]string{"team-c": "timeout"}, Errors: []string{"agent timeout"}},
			status: metav1.ConditionUnknown, reason: conditions.ReasonProbingFailed, message: "timeout"},
		{name: "only agents, and they could not be read",
			cycle:  flow.Cycle{Targets: 2, Failed: 2, Errors: []string{"timeout"}},
			status: metav1.ConditionUnknown, reason: conditions.ReasonNoSidecarsRunning},
		{name: "its sidecar missed this cycle; its last rates were carried",
			cycle: flow.Cycle{Targets: 1, Failed: 1, Carried: 1, Window: 30 * time.Second, Errors: []string{"timeout"},
				Rates: map[string]flow.OutputCounters{section: {Records: 45}}, Reported: map[string]bool{section: true}}},
		{name: "the pods could not be listed", err: errors.New("cache not synced"),
			status: metav1.ConditionUnknown, reason: conditions.ReasonProbingFailed, message: "cache not synced"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			board := status.NewBoard()
			ok := conditions.New(conditions.TypeConfigGenerated, metav1.ConditionTrue, conditions.ReasonConfigGenerated, 1)
			board.PublishConfig("default", map[render.Ref]status.Verdict{
				web:   {Agent: "default", Rendered: true, Config: ok},
				files: {Sidecar: true, Rendered: true, Config: ok},
			})
			scheme := runtime.NewScheme()
			_ = v1.AddToScheme(scheme)
			m := &Monitor{Client: fake.NewClientBuilder().WithScheme(scheme).Build(), Board: board,
				Source: withSidecars{&cycles{{c: tc.cycle, err: tc.err}}}, Debounce: &flow.Debouncer{Cycles: 2},
				Now: func() time.Time { return time.Unix(1e9, 0) }}
			if err := m.Step(context.Background()); err != nil {
				t.Fatal(err)
			}
			e, _ := board.Get(files)
			if tc.status == "" {
				if e.Flow != nil {
					t.Fatalf("a verdict before the sidecar's second sample: %+v", e.Flow)
				}
				return
			}
			if e.Flow == nil {
				t.Fatal("no verdict")
			}
			c := e.Flow.Condition
			// Another namespace's sidecar error names a pod this tenant may not see.
			if c.Status != tc.status || c.Reason != tc.reason || !strings.Contains(c.Message, tc.message) || strings.Contains(c.Message, "secret-pod-name") {
				t.Errorf("FlowHealthy %s %s %q, want %s %s containing %q", c.Status, c.Reason, c.Message, tc.status, tc.reason, tc.message)
			}
			if got := e.Flow.Throughput; tc.records != 0 && (got == nil || got.RecordsPerSecond != tc.records) {
				t.Errorf("throughput %+v, want %d records/s", got, tc.records)
			}
			// Missing figures are no fault of the pipeline: Ready is not held back.
			if tc.status == metav1.ConditionUnknown {
				if r := status.Ready(1, ok, c); r.Status != metav1.ConditionTrue {
					t.Errorf("Ready %s %s with FlowHealthy %s", r.Status, r.Reason, c.Reason)
				}
			}
		})
	}
}
