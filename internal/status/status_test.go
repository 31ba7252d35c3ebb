package status

import (
	"slices"
	"testing"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/logplane/logplane/api/v1alpha1"
	"github.com/logplane/logplane/internal/conditions"
	"github.com/logplane/logplane/internal/render"
)

var (
	web   = render.Ref{Kind: "LogPipeline", Namespace: "team-a", Name: "web"}
	audit = render.Ref{Kind: "ClusterLogPipeline", Name: "audit"}
)

func configured(gen int64) metav1.Condition {
	return conditions.New(conditions.TypeConfigGenerated, metav1.ConditionTrue, conditions.ReasonConfigGenerated, gen)
}

func healthy(ready, total int) metav1.Condition {
	if ready < total {
		return conditions.New(conditions.TypeAgentHealthy, metav1.ConditionFalse, conditions.ReasonAgentNotReady, 0, ready, total, "pending")
	}
	return conditions.New(conditions.TypeAgentHealthy, metav1.ConditionTrue, conditions.ReasonAgentReady, 0, ready, total)
}

func recorder(b *Board) *[]render.Ref {
	var got []render.Ref
	for _, k := range []string{"LogPipeline", "ClusterLogPipeline"} {
		b.Listen(k, func(r render.Ref) { got = append(got, r) })
	}
	return &got
}

func TestBoardNotifiesOnlyChangedPipelines(t *testing.T) {
	b := NewBoard()
	got := recorder(b)
	b.PublishAgentHealth("default", healthy(2, 2))
	b.PublishConfig("default", map[render.Ref]Verdict{web: {Agent: "default", Config: configured(1)}, audit: {Agent: "default", Config: configured(3)}})
	if len(*got) != 2 {
		t.Fatalf("first publish notified %v, want both pipelines", *got)
	}

	steps := []struct {
		name    string
		publish func()
		want    []render.Ref
	}{
		{"same verdicts again", func() {
			b.PublishConfig("default", map[render.Ref]Verdict{web: {Agent: "default", Config: configured(1)}, audit: {Agent: "default", Config: configured(3)}})
		}, nil},
		{"one generation moves", func() {
			b.PublishConfig("default", map[render.Ref]Verdict{web: {Agent: "default", Config: configured(2)}, audit: {Agent: "default", Config: configured(3)}})
		}, []render.Ref{web}},
		{"same health", func() { b.PublishAgentHealth("default", healthy(2, 2)) }, nil},
		{"health of another agent", func() { b.PublishAgentHealth("gpu", healthy(0, 1)) }, nil},
		{"health changes", func() { b.PublishAgentHealth("default", healthy(1, 2)) }, []render.Ref{audit, web}},
		{"another publisher leaves ours alone", func() { b.PublishConfig("gpu", nil) }, nil},
		{"a pipeline goes away", func() {
			b.PublishConfig("default", map[render.Ref]Verdict{web: {Agent: "default", Config: configured(2)}})
		}, []render.Ref{audit}},
		{"flow of a known pipeline", func() {
			b.PublishFlow(map[render.Ref]Flow{web: {Throughput: &v1.Throughput{Figures: v1.Figures{RecordsPerSecond: 10}}}, audit: {}})
		}, []render.Ref{web}},
		{"same figures measured later", func() {
			now := metav1.Now()
			b.PublishFlow(map[render.Ref]Flow{web: {Throughput: &v1.Throughput{Figures: v1.Figures{RecordsPerSecond: 10}, LastMeasured: &now}}})
		}, nil},
	}
	for _, s := range steps {
		*got = nil
		s.publish()
		slices.SortFunc(*got, func(a, b render.Ref) int { return compare(a, b) })
		if !slices.Equal(*got, s.want) {
			t.Errorf("%s: notified %v, want %v", s.name, *got, s.want)
		}
	}
	if _, ok := b.Get(audit); ok {
		t.Error("a withdrawn verdict is still on the board")
	}
}

func compare(a, b render.Ref) int {
	if a.String() < b.String() {
		return -1
	}
	if a.String() > b.String() {
		return 1
	}
	return 0
}

func TestApply(t *testing.T) {
	dropping := conditions.New(conditions.TypeFlowHealthy, metav1.ConditionFalse, conditions.ReasonSomeDataDropped, 0, "1.2%", "30s")
	unmeasured := conditions.New(conditions.TypeFlowHealthy, metav1.ConditionUnknown, conditions.ReasonProbingFailed, 0, "timeout")
	h := healthy(2, 2)
	sick := healthy(1, 2)
	tests := []struct {
		name      string
		entry     Entry
		wantReady metav1.ConditionStatus
		reason    string
		types     []string
	}{
		{"config only (sidecar pipeline)", Entry{Verdict: Verdict{Config: configured(4)}},
			metav1.ConditionTrue, conditions.ReasonReady, []string{"ConfigGenerated", "Ready"}},
		{"healthy agent", Entry{Verdict: Verdict{Agent: "default", Config: configured(4)}, Health: &h},
			metav1.ConditionTrue, conditions.ReasonReady, []string{"AgentHealthy", "ConfigGenerated", "Ready"}},
		{"agent not ready decides", Entry{Verdict: Verdict{Agent: "default", Config: configured(4)}, Health: &sick},
			metav1.ConditionFalse, conditions.ReasonAgentNotReady, []string{"AgentHealthy", "ConfigGenerated", "Ready"}},
		{"drops decide", Entry{Verdict: Verdict{Agent: "default", Config: configured(4)}, Health: &h, Flow: &Flow{Condition: dropping}},
			metav1.ConditionFalse, conditions.ReasonSomeDataDropped, []string{"AgentHealthy", "ConfigGenerated", "FlowHealthy", "Ready"}},
		{"unmeasurable flow does not hold Ready back", Entry{Verdict: Verdict{Agent: "default", Config: configured(4)}, Health: &h, Flow: &Flow{Condition: unmeasured}},
			metav1.ConditionTrue, conditions.ReasonReady, []string{"AgentHealthy", "ConfigGenerated", "FlowHealthy", "Ready"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := v1.PipelineStatus{Conditions: []metav1.Condition{
				{Type: "AgentHealthy", Status: metav1.ConditionTrue, Reason: "Old", LastTransitionTime: metav1.Now()},
				{Type: "SomeoneElses", Status: metav1.ConditionTrue, Reason: "Theirs", LastTransitionTime: metav1.Now()},
			}}
			if !Apply(&st, tt.entry) {
				t.Fatal("first Apply reported no change")
			}
			r := meta.FindStatusCondition(st.Conditions, conditions.TypeReady)
			if r.Status != tt.wantReady || r.Reason != tt.reason {
				t.Errorf("Ready = %s/%s, want %s/%s", r.Status, r.Reason, tt.wantReady, tt.reason)
			}
			var types []string
			for _, c := range st.Conditions {
				if c.Type != "SomeoneElses" {
					types = append(types, c.Type)
				}
				if c.Type != "SomeoneElses" && c.ObservedGeneration != 4 {
					t.Errorf("%s has observedGeneration %d, want the rendered 4", c.Type, c.ObservedGeneration)
				}
			}
			slices.Sort(types)
			if !slices.Equal(types, tt.types) {
				t.Errorf("conditions %v, want %v", types, tt.types)
			}
			if meta.FindStatusCondition(st.Conditions, "SomeoneElses") == nil {
				t.Error("a condition of another writer was removed")
			}
			if st.ObservedGeneration != 4 {
				t.Errorf("observedGeneration %d, want 4", st.ObservedGeneration)
			}
			if Apply(&st, tt.entry) {
				t.Error("applying the same entry twice reported a change")
			}
		})
	}
}

func TestApplyKeepsTheLastFlowVerdictUntilMeasured(t *testing.T) {
	h := healthy(2, 2)
	dropping := conditions.New(conditions.TypeFlowHealthy, metav1.ConditionFalse, conditions.ReasonSomeDataDropped, 0, "1.2%")
	measured := Entry{Verdict: Verdict{Agent: "default", Config: configured(4)}, Health: &h,
		Flow: &Flow{Condition: dropping, Throughput: &v1.Throughput{Figures: v1.Figures{RecordsPerSecond: 90, DroppedRecordsPerSecond: 1}}}}
	var st v1.PipelineStatus
	Apply(&st, measured)
	// After a restart the board knows the render and the agent, not the flow yet.
	restarted := measured
	restarted.Flow = nil
	if Apply(&st, restarted) {
		t.Errorf("a restart rewrote the status: %+v", st.Conditions)
	}
	if r := meta.FindStatusCondition(st.Conditions, conditions.TypeReady); r.Reason != conditions.ReasonSomeDataDropped || st.Throughput == nil {
		t.Errorf("Ready %s, throughput %v: the last flow verdict should still count", r.Reason, st.Throughput)
	}
}

func TestSameFigures(t *testing.T) {
	th := func(records, dropped int64, outputs ...v1.OutputThroughput) *v1.Throughput {
		return &v1.Throughput{Figures: v1.Figures{RecordsPerSecond: records, DroppedRecordsPerSecond: dropped}, Outputs: outputs}
	}
	s3 := v1.OutputThroughput{Kind: "LogOutput", Name: "s3", NotMeasurable: "S3"}
	tests := []struct {
		name string
		a, b *v1.Throughput
		same bool
	}{
		{"both unmeasured", nil, nil, true},
		{"first measurement", nil, th(1, 0), false},
		{"within 10%", th(1000, 0), th(1090, 0), true},
		{"beyond 10%", th(1000, 0), th(1120, 0), false},
		{"the first drop", th(1000, 0), th(1000, 1), false},
		{"an output appears", th(1000, 0), th(1000, 0, s3), false},
		{"same outputs", th(1000, 0, s3), th(1001, 0, s3), true},
		{"window and time do not count", &v1.Throughput{WindowSeconds: 30, LastMeasured: &metav1.Time{}}, &v1.Throughput{WindowSeconds: 31}, true},
	}
	for _, tt := range tests {
		if got := SameFigures(tt.a, tt.b); got != tt.same {
			t.Errorf("%s: SameFigures = %v, want %v", tt.name, got, tt.same)
		}
	}
}

func TestBoardLetsFiguresCreepUntilTheyMatter(t *testing.T) {
	b := NewBoard()
	got := recorder(b)
	b.PublishConfig("default", map[render.Ref]Verdict{web: {Agent: "default", Rendered: true, Config: configured(1)}})
	*got = nil
	for _, r := range []int64{1000, 1050, 1090, 1120} { // each step under 10%, the sum over it
		b.PublishFlow(map[render.Ref]Flow{web: {Throughput: &v1.Throughput{Figures: v1.Figures{RecordsPerSecond: r}}}})
	}
	if len(*got) != 2 {
		t.Errorf("notified %d times, want 2 (first figures, then when the creep passed 10%%)", len(*got))
	}
	if e, _ := b.Get(web); e.Flow.Throughput.RecordsPerSecond != 1120 {
		t.Errorf("board holds %d records/s, want the last told 1120", e.Flow.Throughput.RecordsPerSecond)
	}
}

func TestNewPipelineShowsTheUnmeasuredVerdictUntilMeasured(t *testing.T) {
	b := NewBoard()
	got := recorder(b)
	noPods := Flow{Condition: conditions.New(conditions.TypeFlowHealthy, metav1.ConditionUnknown, conditions.ReasonProbingFailed, 0, "no agent pod is running")}
	b.PublishUnmeasured(noPods)
	sidecar := render.Ref{Kind: "LogPipeline", Namespace: "team-a", Name: "files"}
	b.PublishConfig("default", map[render.Ref]Verdict{
		web:     {Agent: "default", Rendered: true, Config: configured(1)},
		audit:   {Agent: "default", Rendered: false, Config: configured(1)},
		sidecar: {Sidecar: true, Rendered: true, Config: configured(1)},
	})
	if e, _ := b.Get(web); e.Flow == nil || e.Flow.Condition.Reason != conditions.ReasonProbingFailed {
		t.Fatalf("a rendered agent pipeline shows %+v before its first cycle, want the unmeasured verdict", e.Flow)
	}
	for _, ref := range []render.Ref{audit, sidecar} {
		if e, _ := b.Get(ref); e.Flow != nil {
			t.Errorf("%s shows %+v; only rendered agent pipelines take the unmeasured verdict", ref, e.Flow)
		}
	}
	*got = nil
	b.PublishFlow(map[render.Ref]Flow{web: noPods})
	if len(*got) != 0 {
		t.Errorf("the cycle confirming the unmeasured verdict notified %v: that status would be written twice", *got)
	}
	// The verdict is now the pipeline's own: a later cycle that measures elsewhere
	// does not move it.
	b.PublishUnmeasured(Flow{Condition: conditions.New(conditions.TypeFlowHealthy, metav1.ConditionUnknown, conditions.ReasonProbingFailed, 0, "not reported yet")})
	if e, _ := b.Get(web); e.Flow.Condition.Message != noPods.Condition.Message {
		t.Errorf("own verdict replaced by the new unmeasured one: %+v", e.Flow.Condition)
	}
	b.PublishFlow(map[render.Ref]Flow{web: {Throughput: &v1.Throughput{Figures: v1.Figures{RecordsPerSecond: 10}}}})
	if !slices.Equal(*got, []render.Ref{web}) {
		t.Errorf("first figures notified %v, want web", *got)
	}
}
