package render

import (
	"bytes"
	"math/rand/v2"
	"slices"
	"testing"

	yaml "go.yaml.in/yaml/v3"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/logplane/logplane/api/v1alpha1"
	"github.com/logplane/logplane/internal/alias"
	"github.com/logplane/logplane/internal/conditions"
	"github.com/logplane/logplane/internal/snapshot"
)

// The renderer never panics on what the API server admits, and what it renders always
// fits where it goes. Inputs are whole snapshots (agents, cluster and tenant pipelines,
// outputs of every type, cluster outputs, policies, namespaces, Secrets) drawn up to the
// CRDs' maxima by gen and admitted through the CRDs as the API server would (admission).
//
//	go test ./internal/render -run '^$' -fuzz FuzzRenderAdmittedSnapshot -fuzztime 5m
func FuzzRenderAdmittedSnapshot(f *testing.F) {
	for _, seed := range snapshotSeeds() {
		f.Add(seed)
	}
	a := admissionFor(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		s, _ := admitted(a, newGen(data).snapshot())
		checkRender(t, s)
	})
}

// snapshotSeeds start the fuzzer: nothing, the maxima where every draw is largest, and
// random inputs of a few sizes.
func snapshotSeeds() [][]byte {
	seeds := [][]byte{{}, bytes.Repeat([]byte{0xff}, 48), bytes.Repeat([]byte{0xf0}, 512)}
	r := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{8, 64, 256} {
		for range 5 {
			b := make([]byte, n)
			for i := range b {
				b[i] = byte(r.Uint32())
			}
			seeds = append(seeds, b)
		}
	}
	return seeds
}

// admitted keeps the objects of s that the API server would store, as it would store
// them, and returns why it refused the others.
func admitted(a *admission, s *snapshot.Snapshot) (*snapshot.Snapshot, []field.ErrorList) {
	var refused []field.ErrorList
	keep := func(obj client.Object, kind string) bool {
		errs := a.admit(obj, kind)
		if len(errs) > 0 {
			refused = append(refused, errs)
		}
		return len(errs) == 0
	}
	s.Agents = slices.DeleteFunc(s.Agents, func(x v1.LogAgent) bool { return !keep(&x, "LogAgent") })
	seen := map[string]bool{}
	s.Agents = slices.DeleteFunc(s.Agents, func(x v1.LogAgent) bool { dup := seen[x.Name]; seen[x.Name] = true; return dup })
	for _, list := range []struct {
		n    int
		kind string
		obj  func(i int) client.Object
	}{
		{len(s.Agents), "LogAgent", func(i int) client.Object { return &s.Agents[i] }},
		{len(s.Policies), "RetentionPolicy", func(i int) client.Object { return &s.Policies[i] }},
		{len(s.Outputs), "LogOutput", func(i int) client.Object { return &s.Outputs[i] }},
		{len(s.ClusterOutputs), "ClusterLogOutput", func(i int) client.Object { return &s.ClusterOutputs[i] }},
		{len(s.Pipelines), "LogPipeline", func(i int) client.Object { return &s.Pipelines[i] }},
		{len(s.ClusterPipelines), "ClusterLogPipeline", func(i int) client.Object { return &s.ClusterPipelines[i] }},
		{len(s.Grants), "IdentityGrant", func(i int) client.Object { return &s.Grants[i] }},
	} {
		for i := range list.n {
			if !keep(list.obj(i), list.kind) {
				list.obj(i).SetName("") // dropped below
			}
		}
	}
	s.Policies = slices.DeleteFunc(s.Policies, func(x v1.RetentionPolicy) bool { return x.Name == "" })
	s.Outputs = slices.DeleteFunc(s.Outputs, func(x v1.LogOutput) bool { return x.Name == "" })
	s.ClusterOutputs = slices.DeleteFunc(s.ClusterOutputs, func(x v1.ClusterLogOutput) bool { return x.Name == "" })
	s.Pipelines = slices.DeleteFunc(s.Pipelines, func(x v1.LogPipeline) bool { return x.Name == "" })
	s.ClusterPipelines = slices.DeleteFunc(s.ClusterPipelines, func(x v1.ClusterLogPipeline) bool { return x.Name == "" })
	s.Grants = slices.DeleteFunc(s.Grants, func(x v1.IdentityGrant) bool { return x.Name == "" })
	return s, refused
}

// checkRender renders s and fails on a panic (with its stack: the guard is bypassed),
// a file that does not fit, a pipeline neither rendered nor reported, or a
// remembering Renderer that renders otherwise.
func checkRender(t *testing.T, s *snapshot.Snapshot) {
	t.Helper()
	res := render(s, nil, nil, nil)
	configs := []Config{}
	for _, a := range res.Agents {
		configs = append(configs, a.Config)
	}
	for _, sc := range res.Sidecars {
		configs = append(configs, sc.Config)
	}
	if res.Events != nil {
		configs = append(configs, *res.Events)
	}
	rendered := map[Ref]bool{}
	total := 0
	for _, c := range configs {
		if len(c.Files) > maxShards+1 {
			t.Errorf("%d files", len(c.Files))
		}
		for _, f := range c.Files {
			total += len(f.Content)
			if len(f.Content) > maxFileBytes {
				t.Errorf("%s is %d bytes, over %d", f.Name, len(f.Content), maxFileBytes)
			}
		}
		for _, p := range c.Pipelines {
			rendered[p] = true
		}
	}
	// go.yaml.in/yaml takes time quadratic in a file's size: only small ones.
	if total < 256<<10 {
		for _, c := range configs {
			for _, f := range c.Files {
				var doc map[string]any
				if err := yaml.Unmarshal(f.Content, &doc); err != nil {
					t.Errorf("%s is not YAML: %v", f.Name, err)
				}
			}
		}
	}
	reported := map[Ref]bool{}
	for _, p := range res.Problems {
		reported[p.Ref] = true
		if p.Reason == conditions.ReasonRenderFailed {
			t.Errorf("RenderFailed: %s", p)
		}
	}
	for _, p := range s.Pipelines {
		if ref := (Ref{Kind: alias.LogPipeline, Namespace: p.Namespace, Name: p.Name}); !rendered[ref] && !reported[ref] {
			t.Errorf("%s is neither rendered nor reported", ref)
		}
	}
	for _, p := range s.ClusterPipelines {
		if ref := (Ref{Kind: alias.ClusterLogPipeline, Name: p.Name}); !rendered[ref] && !reported[ref] {
			t.Errorf("%s is neither rendered nor reported", ref)
		}
	}
	r := NewRenderer()
	for _, step := range []string{"first", "remembered"} {
		got := r.Render(s)
		if !sameResults(got, res) {
			t.Fatalf("%s render of a Renderer differs from Render", step)
		}
	}
}

func sameResults(a, b *Result) bool {
	if len(a.Agents) != len(b.Agents) || len(a.Sidecars) != len(b.Sidecars) || (a.Events == nil) != (b.Events == nil) {
		return false
	}
	for i := range a.Agents {
		if a.Agents[i].Hash != b.Agents[i].Hash || !slices.Equal(a.Agents[i].Pipelines, b.Agents[i].Pipelines) {
			return false
		}
	}
	for i := range a.Sidecars {
		if a.Sidecars[i].Hash != b.Sidecars[i].Hash {
			return false
		}
	}
	if a.Events != nil && a.Events.Hash != b.Events.Hash {
		return false
	}
	return slices.Equal(a.Problems, b.Problems)
}

// The generator keeps to the CRDs: nearly everything it draws is admitted, so the fuzzer
// spends its time on the renderer, not on inputs the API server would refuse.
func TestGeneratedSnapshotsAreAdmitted(t *testing.T) {
	a := admissionFor(t)
	objects, refused := 0, 0
	reasons := map[string]int{}
	for _, seed := range snapshotSeeds() {
		s := newGen(seed).snapshot()
		objects += len(s.Agents) + len(s.Policies) + len(s.Outputs) + len(s.ClusterOutputs) + len(s.Pipelines) + len(s.ClusterPipelines) + len(s.Grants)
		_, errs := admitted(a, s)
		refused += len(errs)
		for _, e := range errs {
			reasons[e[0].Field+": "+e[0].Detail]++
		}
	}
	for r, n := range reasons {
		t.Logf("%d× %s", n, r)
	}
	if refused*20 > objects {
		t.Errorf("%d of %d objects refused", refused, objects)
	}
}

// The admission the fuzz test relies on refuses what the API server refuses: schema
// (enum, lengths) and CEL rules.
func TestAdmissionRefusesLikeTheAPIServer(t *testing.T) {
	a := admissionFor(t)
	for name, obj := range map[string]client.Object{
		"LogOutput": &v1.LogOutput{ObjectMeta: metav1.ObjectMeta{Name: "o", Namespace: "a"}, Spec: v1.OutputSpec{Type: v1.OutputS3}},
		"LogPipeline": &v1.LogPipeline{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "a"}, Spec: v1.LogPipelineSpec{
			Input: v1.LogPipelineInput{Containers: &v1.ContainerSelection{}}, OutputRefs: []v1.ResourceName{"o"},
			Filters: []v1.Filter{{Type: v1.FilterGrep, Grep: &v1.GrepFilter{Include: []v1.FieldMatch{{Field: "log", Regex: "${X}"}}}}}}},
		"LogAgent": &v1.LogAgent{ObjectMeta: metav1.ObjectMeta{Name: "a"}, Spec: v1.LogAgentSpec{MetricsPort: 80}},
	} {
		if errs := a.admit(obj, name); len(errs) == 0 {
			t.Errorf("%s admitted", name)
		}
	}
	ok := &v1.LogOutput{ObjectMeta: metav1.ObjectMeta{Name: "o", Namespace: "a"}, Spec: v1.OutputSpec{Type: v1.OutputHTTP,
		HTTP: &v1.HTTPOutput{Host: "logs.example.com"}}}
	if errs := a.admit(ok, "LogOutput"); len(errs) > 0 {
		t.Fatalf("refused: %v", errs)
	}
	if ok.Spec.HTTP.Port != 443 || ok.Spec.HTTP.Format != "JSONLines" {
		t.Errorf("defaults not applied: %+v", ok.Spec.HTTP)
	}
}
