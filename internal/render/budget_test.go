package render

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/logplane/logplane/api/v1alpha1"
	"github.com/logplane/logplane/internal/alias"
	"github.com/logplane/logplane/internal/conditions"
	"github.com/logplane/logplane/internal/snapshot"
)

func TestClaimOf(t *testing.T) {
	gi := resource.MustParse("1Gi")
	small := resource.MustParse("100Mi")
	atLeastOnce := &v1.RetentionPolicy{Spec: v1.RetentionPolicySpec{Delivery: v1.DeliveryAtLeastOnce, Buffer: v1.RetentionBuffer{MaxSize: &small}}}
	throttle := v1.Filter{Type: v1.FilterThrottle}
	out := func(t v1.OutputType, workers *int32, policy *v1.RetentionPolicy) *output {
		return &output{Spec: &v1.OutputSpec{Type: t, Workers: workers}, Policy: policy}
	}
	for _, tc := range []struct {
		name    string
		outputs []*output
		filters []v1.Filter
		want    claim
	}{
		{"http without workers has its plugin's 2", []*output{out(v1.OutputHTTP, nil, nil)}, nil, claim{1, 2, 0, 0, gi.Value()}},
		{"workers set", []*output{out(v1.OutputHTTP, ptr(int32(16)), nil)}, nil, claim{1, 16, 0, 0, gi.Value()}},
		{"loki delivers from the engine", []*output{out(v1.OutputLoki, nil, nil)}, nil, claim{1, 0, 0, 0, gi.Value()}},
		{"s3 keeps its own store on disk", []*output{out(v1.OutputS3, nil, nil)}, nil, claim{1, 1, 0, gi.Value(), 0}},
		{"a policy's buffer", []*output{out(v1.OutputCloudWatchLogs, nil, atLeastOnce), out(v1.OutputS3, ptr(int32(3)), atLeastOnce)},
			nil, claim{2, 4, 0, small.Value(), small.Value()}},
		{"a throttle thread per section", []*output{out(v1.OutputLoki, nil, nil), out(v1.OutputLoki, nil, nil), out(v1.OutputLoki, nil, nil)},
			[]v1.Filter{throttle, {Type: v1.FilterGrep}, throttle}, claim{3, 0, 6, 0, 3 * gi.Value()}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := claimOf(&pipeline{Outputs: tc.outputs, Filters: tc.filters}); got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

// The usage a LogAgent reports counts only the pipelines its configuration carries,
// and disk for non-s3 outputs only once one of them buffers on the filesystem.
func TestUsageOf(t *testing.T) {
	gi := int64(1 << 30)
	atLeastOnce := &v1.RetentionPolicy{Spec: v1.RetentionPolicySpec{Delivery: v1.DeliveryAtLeastOnce}}
	memory := candidate("a", "memory", 1, outputs(2, v1.OutputHTTP, nil, nil)...)
	s3 := candidate("a", "s3", 2, outputs(1, v1.OutputS3, ptr(int32(3)), nil)...)
	durable := withFilters(candidate("", "durable", 3, outputs(1, v1.OutputLoki, nil, atLeastOnce)...), 1, v1.FilterThrottle)
	all := []*pipeline{memory, s3, durable}
	for _, tc := range []struct {
		name    string
		carried []*pipeline
		want    [4]int64 // sections, workers, threads, disk
	}{
		{"none", nil, [4]int64{0, 0, 0, 0}},
		{"in memory: no disk", []*pipeline{memory}, [4]int64{2, 4, 0, 0}},
		{"s3 keeps its own store", []*pipeline{memory, s3}, [4]int64{3, 7, 0, gi}},
		{"filesystem buffering claims every section's buffer", all, [4]int64{4, 7, 1, 4 * gi}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var refs []Ref
			for _, p := range tc.carried {
				refs = append(refs, p.Ref)
			}
			u := usageOf(all, refs)
			got := [4]int64{int64(u.OutputSections), int64(u.Workers), int64(u.FilterThreads), u.FilesystemBuffer.Value()}
			if got != tc.want {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestBudgetsOf(t *testing.T) {
	def := budgetsOf("a", v1.AgentBudgets{})
	want := budgetLimits{agent: "a", nsSections: 16, nsWorkers: 12, nsThreads: 32, nsDisk: 5 << 30, pipelineBytes: 128 << 10,
		agentSections: 48, agentWorkers: 32, agentThreads: 128, agentDisk: 20 << 30}
	if def != want {
		t.Errorf("defaults: got %+v, want %+v", def, want)
	}
	disk := resource.MustParse("1Ti")
	set := budgetsOf("b", v1.AgentBudgets{
		PerNamespace: v1.NamespaceBudget{OutputSections: 1, Workers: 2, FilterThreads: 3, FilesystemBuffer: &disk, PipelineConfigBytes: 4096},
		PerAgent:     v1.AgentBudget{OutputSections: 5, Workers: 6, FilterThreads: 7, FilesystemBuffer: &disk},
	})
	want = budgetLimits{agent: "b", nsSections: 1, nsWorkers: 2, nsThreads: 3, nsDisk: 1 << 40, pipelineBytes: 4096,
		agentSections: 5, agentWorkers: 6, agentThreads: 7, agentDisk: 1 << 40}
	if set != want {
		t.Errorf("set: got %+v, want %+v", set, want)
	}
}

// candidate is a pipeline for withinBudgets: namespace "" makes it a ClusterLogPipeline.
func candidate(ns, name string, day int, outputs ...*output) *pipeline {
	kind := alias.LogPipeline
	if ns == "" {
		kind = alias.ClusterLogPipeline
	}
	return &pipeline{Ref: Ref{Kind: kind, Namespace: ns, Name: name}, Outputs: outputs,
		Created: metav1.NewTime(time.Date(2026, 1, day, 0, 0, 0, 0, time.UTC))}
}

// withFilters gives p n filters of type t.
func withFilters(p *pipeline, n int, t v1.FilterType) *pipeline {
	for range n {
		p.Filters = append(p.Filters, v1.Filter{Type: t})
	}
	return p
}

// outputs is n outputs of type t with workers each (nil: the plugin's default).
func outputs(n int, t v1.OutputType, workers *int32, policy *v1.RetentionPolicy) []*output {
	out := make([]*output, n)
	for i := range out {
		out[i] = &output{Spec: &v1.OutputSpec{Type: t, Workers: workers}, Policy: policy}
	}
	return out
}

func TestWithinBudgets(t *testing.T) {
	one := ptr(int32(1))
	atLeastOnce := &v1.RetentionPolicy{Spec: v1.RetentionPolicySpec{Delivery: v1.DeliveryAtLeastOnce}}
	lim := budgetsOf("default", v1.AgentBudgets{})
	for _, tc := range []struct {
		name       string
		pipelines  []*pipeline
		lim        budgetLimits
		refused    map[string]string // name → the budget field in its message
		wantDetail string
	}{
		{name: "the newcomer is refused, the incumbent keeps its share", pipelines: []*pipeline{
			candidate("a", "new", 2, outputs(10, v1.OutputLoki, nil, nil)...),
			candidate("a", "old", 1, outputs(10, v1.OutputLoki, nil, nil)...),
		}, refused: map[string]string{"new": "perNamespace.outputSections"},
			wantDetail: "its 10 output sections would bring namespace a's total to 20, over the budget of 16"},
		{name: "created at once: by name", pipelines: []*pipeline{
			candidate("a", "b", 1, outputs(10, v1.OutputLoki, nil, nil)...),
			candidate("a", "a", 1, outputs(10, v1.OutputLoki, nil, nil)...),
		}, refused: map[string]string{"b": "perNamespace.outputSections"}},
		{name: "a refused pipeline takes nothing: a smaller newer one fits", pipelines: []*pipeline{
			candidate("a", "old", 1, outputs(10, v1.OutputLoki, nil, nil)...),
			candidate("a", "big", 2, outputs(10, v1.OutputLoki, nil, nil)...),
			candidate("a", "small", 3, outputs(6, v1.OutputLoki, nil, nil)...),
		}, refused: map[string]string{"big": "perNamespace.outputSections"}},
		{name: "workers: http's default of 2 counts", pipelines: []*pipeline{
			candidate("a", "p", 1, outputs(7, v1.OutputHTTP, nil, nil)...),
		}, refused: map[string]string{"p": "perNamespace.workers"},
			wantDetail: "its 14 output workers would bring namespace a's total to 14, over the budget of 12"},
		{name: "the agent's workers across namespaces", pipelines: []*pipeline{
			candidate("a", "p", 1, outputs(12, v1.OutputHTTP, one, nil)...),
			candidate("b", "p", 2, outputs(12, v1.OutputHTTP, one, nil)...),
			candidate("c", "p", 3, outputs(12, v1.OutputHTTP, one, nil)...),
		}, refused: map[string]string{"c/p": "perAgent.workers"},
			wantDetail: "its 12 output workers would bring the agent's total to 36, over the budget of 32"},
		{name: "cluster pipelines count against the agent only", pipelines: []*pipeline{
			candidate("", "platform", 1, outputs(40, v1.OutputLoki, nil, nil)...),
			candidate("a", "p", 2, outputs(8, v1.OutputLoki, nil, nil)...),
			candidate("b", "p", 3, outputs(1, v1.OutputLoki, nil, nil)...),
		}, refused: map[string]string{"b/p": "perAgent.outputSections"}},
		{name: "a newer cluster pipeline is refused too", pipelines: []*pipeline{
			candidate("a", "p", 1, outputs(16, v1.OutputLoki, nil, nil)...),
			candidate("b", "p", 1, outputs(16, v1.OutputLoki, nil, nil)...),
			candidate("c", "p", 1, outputs(16, v1.OutputLoki, nil, nil)...),
			candidate("", "platform", 2, outputs(1, v1.OutputLoki, nil, nil)...),
		}, refused: map[string]string{"platform": "perAgent.outputSections"}},
		{name: "throttle threads", pipelines: []*pipeline{
			withFilters(candidate("a", "p", 1, outputs(16, v1.OutputLoki, nil, nil)...), 3, v1.FilterThrottle),
		}, refused: map[string]string{"p": "perNamespace.filterThreads"},
			wantDetail: "its 48 filter threads would bring namespace a's total to 48, over the budget of 32"},
		{name: "s3 claims disk without AtLeastOnce", pipelines: []*pipeline{
			candidate("a", "p", 1, outputs(6, v1.OutputS3, nil, nil)...),
		}, refused: map[string]string{"p": "perNamespace.filesystemBuffer"},
			wantDetail: "its 6Gi of filesystem buffer would bring namespace a's total to 6Gi, over the budget of 5Gi"},
		{name: "without filesystem buffering other outputs claim no disk", pipelines: []*pipeline{
			candidate("a", "p", 1, outputs(6, v1.OutputLoki, nil, nil)...),
		}},
		{name: "with it every output does", pipelines: []*pipeline{
			candidate("", "audit", 1, outputs(1, v1.OutputLoki, nil, atLeastOnce)...),
			candidate("a", "p", 2, outputs(6, v1.OutputLoki, nil, nil)...),
		}, refused: map[string]string{"a/p": "perNamespace.filesystemBuffer"}},
		{name: "the pipeline that turns filesystem buffering on is refused when an older namespace would overflow", pipelines: []*pipeline{
			candidate("a", "p", 1, outputs(6, v1.OutputLoki, nil, nil)...),
			candidate("b", "audit", 2, outputs(1, v1.OutputLoki, nil, atLeastOnce)...),
		}, refused: map[string]string{"b/audit": "perNamespace.filesystemBuffer"},
			wantDetail: "which would bring namespace a's filesystem buffer to 6Gi"},
		{name: "the agent's disk", lim: budgetLimits{agent: "x", nsSections: 99, nsWorkers: 99, nsDisk: 99 << 30, pipelineBytes: 1 << 20,
			agentSections: 99, agentWorkers: 99, agentDisk: 2 << 30}, pipelines: []*pipeline{
			candidate("a", "p", 1, outputs(2, v1.OutputS3, nil, nil)...),
			candidate("b", "p", 2, outputs(1, v1.OutputS3, nil, nil)...),
		}, refused: map[string]string{"b/p": "perAgent.filesystemBuffer"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := lim
			if tc.lim.agent != "" {
				l = tc.lim
			}
			check := func(pipelines []*pipeline) {
				kept, probs := withinBudgets(pipelines, l)
				got := map[string]string{}
				for _, p := range probs {
					if p.Reason != conditions.ReasonOverBudget {
						t.Errorf("reason %s", p.Reason)
					}
					field := p.Message[strings.Index(p.Message, "spec.budgets.")+len("spec.budgets.") : strings.Index(p.Message, "). ")]
					got[key(tc.refused, p.Ref)] = field
					if tc.wantDetail != "" && !strings.Contains(p.Message, tc.wantDetail) {
						t.Errorf("message %q lacks %q", p.Message, tc.wantDetail)
					}
				}
				if fmt.Sprint(got) != fmt.Sprint(nonNil(tc.refused)) {
					t.Errorf("refused %v, want %v", got, tc.refused)
				}
				if len(kept)+len(probs) != len(pipelines) {
					t.Errorf("%d kept and %d refused of %d", len(kept), len(probs), len(pipelines))
				}
				if !slices.IsSortedFunc(kept, func(a, b *pipeline) int { return slices.Index(pipelines, a) - slices.Index(pipelines, b) }) {
					t.Error("kept pipelines are out of their order")
				}
			}
			check(tc.pipelines)
			// The same verdicts whatever order the pipelines come in.
			r := rand.New(rand.NewPCG(1, 2))
			for range 5 {
				s := slices.Clone(tc.pipelines)
				r.Shuffle(len(s), func(i, j int) { s[i], s[j] = s[j], s[i] })
				check(s)
			}
		})
	}
}

// key names p as the test table does: by name, or namespace/name where it says so.
func key(table map[string]string, r Ref) string {
	if _, ok := table[r.Name]; ok {
		return r.Name
	}
	return strings.TrimPrefix(r.Namespace+"/"+r.Name, "/")
}

func nonNil(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

// budgetFleet is tenants with one http output each, a Secret header on it, created a
// day apart, and the agent's budgets as given.
func budgetFleet(n int, budgets v1.AgentBudgets) *snapshot.Snapshot {
	s := &snapshot.Snapshot{OperatorNamespace: "logplane-system",
		Agents: []v1.LogAgent{{ObjectMeta: metav1.ObjectMeta{Name: v1.DefaultAgentName}, Spec: v1.LogAgentSpec{Budgets: budgets}}}}
	for i := range n {
		ns := fmt.Sprintf("team-%d", i%2)
		name := fmt.Sprintf("app-%02d", i)
		s.Secrets = append(s.Secrets, snapshot.Secret{Namespace: ns, Name: name, Keys: []string{"token"}})
		s.Outputs = append(s.Outputs, v1.LogOutput{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, ResourceVersion: "1"},
			Spec: v1.OutputSpec{Type: v1.OutputHTTP, Workers: ptr(int32(1)), HTTP: &v1.HTTPOutput{Host: "sink.example.com", Port: 443, Format: "JSONLines",
				Headers: []v1.Header{{Name: "Authorization", ValueFrom: &v1.SecretKeyRef{Name: v1.ResourceName(name), Key: "token"}}}}}})
		s.Pipelines = append(s.Pipelines, v1.LogPipeline{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, ResourceVersion: "1",
				CreationTimestamp: metav1.NewTime(time.Date(2026, 1, 1+i, 0, 0, 0, 0, time.UTC))},
			Spec: v1.LogPipelineSpec{Agent: v1.DefaultAgentName, Input: v1.LogPipelineInput{Containers: &v1.ContainerSelection{}},
				OutputRefs: []v1.ResourceName{v1.ResourceName(name)}}})
	}
	s.Namespaces = []snapshot.Namespace{{Name: "team-0"}, {Name: "team-1"}}
	return s
}

// A pipeline over a budget is reported on its own status and left out; the
// configuration is then byte for byte the one rendered without it, its Secrets
// included, with a fresh render and with a remembering one.
func TestOverBudgetPipelineLeavesTheOthersUnchanged(t *testing.T) {
	budgets := v1.AgentBudgets{PerAgent: v1.AgentBudget{OutputSections: 5}}
	newcomer := Ref{Kind: alias.LogPipeline, Namespace: "team-1", Name: "app-05"}
	for name, render := range map[string]func(*snapshot.Snapshot) *Result{"Render": Render, "Renderer": NewRenderer().Render} {
		t.Run(name, func(t *testing.T) {
			res := render(budgetFleet(6, budgets))
			if len(res.Problems) != 1 || res.Problems[0].Ref != newcomer || res.Problems[0].Reason != conditions.ReasonOverBudget {
				t.Fatalf("problems %v", res.Problems)
			}
			want := Render(budgetFleet(5, budgets)).Agents[0]
			got := res.Agents[0]
			if got.Hash != want.Hash || !slices.EqualFunc(got.Files, want.Files, func(a, b File) bool { return a.Name == b.Name && bytes.Equal(a.Content, b.Content) }) {
				t.Error("the configuration differs from the one without the newcomer")
			}
			if len(got.Env) != 5 || slices.Contains(got.Pipelines, newcomer) {
				t.Errorf("%d env vars, pipelines %v", len(got.Env), got.Pipelines)
			}
			// The usage the LogAgent reports is the five that run: one section and one
			// worker each, 1 GiB of disk each once buffered on the filesystem (none here).
			if u := got.Usage; u.OutputSections != 5 || u.Workers != 5 || u.FilterThreads != 0 || !u.FilesystemBuffer.IsZero() {
				t.Errorf("usage %+v, want 5 sections, 5 workers", u)
			}
			// Raising the budget admits it.
			raised := budgetFleet(6, v1.AgentBudgets{PerAgent: v1.AgentBudget{OutputSections: 6}})
			if res := render(raised); len(res.Problems) != 0 || len(res.Agents[0].Pipelines) != 6 || res.Agents[0].Usage.OutputSections != 6 {
				t.Errorf("raised: problems %v, usage %+v", res.Problems, res.Agents[0].Usage)
			}
		})
	}
}

// A pipeline over its namespace's pipelineConfigBytes is left out with OverBudget, and
// its Secrets stay out of the configuration; the other namespace's render.
func TestPipelineConfigBytesBudget(t *testing.T) {
	for name, render := range map[string]func(*snapshot.Snapshot) *Result{"Render": Render, "Renderer": NewRenderer().Render} {
		t.Run(name, func(t *testing.T) {
			s := budgetFleet(2, v1.AgentBudgets{PerNamespace: v1.NamespaceBudget{PipelineConfigBytes: 1024}})
			long := make([]v1.Filter, 8)
			for i := range long {
				long[i] = v1.Filter{Type: v1.FilterGrep, Grep: &v1.GrepFilter{Exclude: []v1.FieldMatch{{Field: "log", Regex: v1.Regex(strings.Repeat("x", 200))}}}}
			}
			s.Pipelines[1].Spec.Filters = long
			res := render(s)
			big := Ref{Kind: alias.LogPipeline, Namespace: "team-1", Name: "app-01"}
			if len(res.Problems) != 1 || res.Problems[0].Ref != big || !strings.Contains(res.Problems[0].Message, "spec.budgets.perNamespace.pipelineConfigBytes") {
				t.Fatalf("problems %v", res.Problems)
			}
			cfg := res.Agents[0]
			if len(cfg.Pipelines) != 1 || len(cfg.Env) != 1 || cfg.Env[0].Source.Namespace != "team-0" {
				t.Errorf("pipelines %v, env %v", cfg.Pipelines, cfg.Env)
			}
		})
	}
}

// The measured incident of a ~1 MB pipeline (twoTenants) is refused by the default
// pipelineConfigBytes budget before the file limits are reached.
func TestHugePipelineIsOverBudget(t *testing.T) {
	s := twoTenants()
	s.Agents = nil
	res := Render(s)
	if len(res.Problems) != 1 || res.Problems[0].Reason != conditions.ReasonOverBudget || res.Problems[0].Ref.Name != "huge" {
		t.Fatalf("problems %v", res.Problems)
	}
	if len(res.Agents[0].Pipelines) != 1 || res.Agents[0].Pipelines[0].Name != "small" {
		t.Errorf("pipelines %v", res.Agents[0].Pipelines)
	}
}

// BenchmarkWithinBudgets is the budgets' share of BenchmarkRender's 2,000 pipelines.
func BenchmarkWithinBudgets(b *testing.B) {
	s := fleet(2000)
	r := newResolver(s)
	r.prechecked = precheck(s, nil)()
	pipelines := r.resolve()
	lim := budgetsOf("default", s.Agents[0].Spec.Budgets)
	b.ReportAllocs()
	for b.Loop() {
		withinBudgets(pipelines, lim)
	}
}
