package render

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/logplane/logplane/api/v1alpha1"
	"github.com/logplane/logplane/internal/alias"
	"github.com/logplane/logplane/internal/conditions"
	"github.com/logplane/logplane/internal/snapshot"
)

// The sample scenarios render to reviewed golden files: every file of every
// configuration, and the problems found.
func TestSamplesGolden(t *testing.T) {
	s, err := snapshot.LoadFiles([]string{filepath.Join("..", "..", "config", "samples")}, "logplane-system", "default")
	if err != nil {
		t.Fatal(err)
	}
	goldenResult(t, "samples", Render(s))
}

// goldenResult writes one golden per generated file and one for the problems.
func goldenResult(t *testing.T, dir string, res *Result) {
	t.Helper()
	for _, a := range res.Agents {
		goldenConfig(t, dir+"/agent-"+a.Agent, a.Config)
	}
	if res.Events != nil {
		goldenConfig(t, dir+"/events", *res.Events)
	}
	for _, sc := range res.Sidecars {
		goldenConfig(t, dir+"/sidecar-"+sc.Pipeline.Namespace+"-"+sc.Pipeline.Name, sc.Config)
	}
	var b strings.Builder
	for _, p := range res.Problems {
		fmt.Fprintf(&b, "%s (warning: %v)\n", p, p.Warning)
	}
	golden(t, dir+"/problems.txt", []byte(b.String()))
}

func goldenConfig(t *testing.T, dir string, c Config) {
	t.Helper()
	for _, f := range c.Files {
		golden(t, dir+"/"+f.Name, f.Content)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "hash %s\n", c.Hash)
	for _, p := range c.Pipelines {
		fmt.Fprintf(&b, "pipeline %s\n", p)
	}
	for _, e := range c.Env {
		fmt.Fprintf(&b, "env %s = %s/%s[%s]\n", e.Name, e.Source.Namespace, e.Source.Name, e.Source.Key)
	}
	for _, f := range c.SecretFiles {
		fmt.Fprintf(&b, "file %s = %s/%s[%s]\n", f.Path, f.Source.Namespace, f.Source.Name, f.Source.Key)
	}
	for _, p := range c.AWSProfiles {
		fmt.Fprintf(&b, "aws profile %s = %s/%s[%s], %s/%s[%s]\n", p.Name, p.AccessKeyID.Namespace, p.AccessKeyID.Name,
			p.AccessKeyID.Key, p.SecretAccessKey.Namespace, p.SecretAccessKey.Name, p.SecretAccessKey.Key)
	}
	golden(t, dir+"/credentials.txt", []byte(b.String()))
}

// A fleet of tenants: n LogPipelines over n/10 namespaces, each with realistic filters
// and two outputs, one of them a shared ClusterLogOutput.
// Its agent's budgets are raised as a platform team running that many would (the
// defaults hold an agent to 48 output sections).
func fleet(n int) *snapshot.Snapshot {
	s := &snapshot.Snapshot{OperatorNamespace: "logplane-system", Agents: []v1.LogAgent{raisedBudgets(v1.DefaultAgentName)}}
	s.ClusterOutputs = append(s.ClusterOutputs, v1.ClusterLogOutput{
		ObjectMeta: metav1.ObjectMeta{Name: "central", ResourceVersion: "1"},
		Spec: v1.ClusterLogOutputSpec{
			OutputSpec:        v1.OutputSpec{Type: v1.OutputHTTP, HTTP: &v1.HTTPOutput{Host: "central.logging.svc", Port: 8080, Path: "/ingest", Format: "JSONLines"}},
			AllowedNamespaces: &metav1.LabelSelector{MatchLabels: map[string]string{"logging": "central"}},
		},
	})
	for i := 0; i < max(n/10, 1); i++ {
		s.Namespaces = append(s.Namespaces, snapshot.Namespace{Name: fmt.Sprintf("team-%03d", i), Labels: map[string]string{"logging": "central"}})
	}
	for i := 0; i < n; i++ {
		ns := fmt.Sprintf("team-%03d", i%max(n/10, 1))
		name := fmt.Sprintf("app-%04d", i)
		s.Secrets = append(s.Secrets, snapshot.Secret{Namespace: ns, Name: name + "-token", Keys: []string{"token"}})
		s.Outputs = append(s.Outputs, v1.LogOutput{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, ResourceVersion: "1"},
			Spec: v1.OutputSpec{Type: v1.OutputHTTP, HTTP: &v1.HTTPOutput{
				Host: v1.Host(name + ".example.com"), Port: 443, Path: "/logs", Format: "JSONLines",
				Headers: []v1.Header{{Name: "Authorization", ValueFrom: &v1.SecretKeyRef{Name: v1.ResourceName(name + "-token"), Key: "token"}}},
			}, TLS: &v1.TLS{}},
		})
		s.Pipelines = append(s.Pipelines, v1.LogPipeline{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, ResourceVersion: "1"},
			Spec: v1.LogPipelineSpec{
				Agent: "default",
				Input: v1.LogPipelineInput{Containers: &v1.ContainerSelection{
					PodSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}},
					Exclude:     []v1.ContainerName{"istio-proxy"},
				}},
				Filters: []v1.Filter{
					{Type: v1.FilterGrep, Grep: &v1.GrepFilter{Exclude: []v1.FieldMatch{{Field: "log", Regex: `GET /healthz`}}}},
					{Type: v1.FilterParse, Parse: &v1.ParseFilter{Field: "log", Format: v1.ParseJSON}},
					{Type: v1.FilterAddFields, AddFields: &v1.AddFieldsFilter{Fields: []v1.KeyValue{{Key: "team", Value: v1.ConfigString(ns)}}}},
				},
				OutputRefs:        []v1.ResourceName{v1.ResourceName(name)},
				ClusterOutputRefs: []v1.ResourceName{"central"},
			},
		})
	}
	return s
}

// raisedBudgets is a LogAgent whose budgets are the most the API allows.
func raisedBudgets(name string) v1.LogAgent {
	most := resource.MustParse("100Ti")
	return v1.LogAgent{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: v1.LogAgentSpec{Budgets: v1.AgentBudgets{
		PerNamespace: v1.NamespaceBudget{OutputSections: 100000, Workers: 100000, FilterThreads: 100000, FilesystemBuffer: &most, PipelineConfigBytes: 16 << 20},
		PerAgent:     v1.AgentBudget{OutputSections: 100000, Workers: 100000, FilterThreads: 100000, FilesystemBuffer: &most},
	}}}
}

func shuffled(s *snapshot.Snapshot, seed uint64) *snapshot.Snapshot {
	c := *s
	r := rand.New(rand.NewPCG(seed, seed))
	c.Pipelines = slices.Clone(s.Pipelines)
	r.Shuffle(len(c.Pipelines), func(i, j int) { c.Pipelines[i], c.Pipelines[j] = c.Pipelines[j], c.Pipelines[i] })
	c.Outputs = slices.Clone(s.Outputs)
	r.Shuffle(len(c.Outputs), func(i, j int) { c.Outputs[i], c.Outputs[j] = c.Outputs[j], c.Outputs[i] })
	c.Secrets = slices.Clone(s.Secrets)
	r.Shuffle(len(c.Secrets), func(i, j int) { c.Secrets[i], c.Secrets[j] = c.Secrets[j], c.Secrets[i] })
	c.Namespaces = slices.Clone(s.Namespaces)
	r.Shuffle(len(c.Namespaces), func(i, j int) { c.Namespaces[i], c.Namespaces[j] = c.Namespaces[j], c.Namespaces[i] })
	return &c
}

func TestRenderIsDeterministicUnderShuffling(t *testing.T) {
	base := fleet(60)
	want := Render(base)
	if len(want.Problems) != 0 {
		t.Fatalf("fleet has problems: %v", want.Problems)
	}
	for seed := uint64(1); seed <= 5; seed++ {
		got := Render(shuffled(base, seed))
		if !sameFiles(got.Agents[0].Files, want.Agents[0].Files) || got.Agents[0].Hash != want.Agents[0].Hash {
			t.Fatalf("seed %d: shuffled input rendered differently", seed)
		}
	}
}

func sameFiles(a, b []File) bool {
	return slices.EqualFunc(a, b, func(x, y File) bool { return x.Name == y.Name && bytes.Equal(x.Content, y.Content) })
}

func TestHashChangesIffBytesChange(t *testing.T) {
	base := fleet(20)
	a := Render(base).Agents[0]
	same := Render(fleet(20)).Agents[0]
	if a.Hash != same.Hash {
		t.Fatal("equal input, different hash")
	}
	edited := fleet(20)
	edited.Pipelines[3].Spec.Filters[0].Grep.Exclude[0].Regex = "GET /livez"
	b := Render(edited).Agents[0]
	if sameFiles(a.Files, b.Files) || a.Hash == b.Hash {
		t.Fatal("an edit that changes the bytes must change the hash")
	}
}

// One tenant's mistakes never change what anyone else ships.
func TestBrokenTenantChangesNothingForOthers(t *testing.T) {
	healthy := fleet(50)
	broken := fleet(50)
	ns := "team-002"
	broken.Pipelines = append(broken.Pipelines,
		v1.LogPipeline{ // references an output that does not exist
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "missing-output"},
			Spec:       v1.LogPipelineSpec{Input: v1.LogPipelineInput{Containers: &v1.ContainerSelection{}}, OutputRefs: []v1.ResourceName{"nope"}},
		},
		v1.LogPipeline{ // uses an output whose Secret key is missing
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "missing-secret"},
			Spec:       v1.LogPipelineSpec{Input: v1.LogPipelineInput{Containers: &v1.ContainerSelection{}}, OutputRefs: []v1.ResourceName{"no-secret"}},
		},
		v1.LogPipeline{ // a cluster output that does not admit its namespace
			ObjectMeta: metav1.ObjectMeta{Namespace: "outsider", Name: "not-allowed"},
			Spec:       v1.LogPipelineSpec{Input: v1.LogPipelineInput{Containers: &v1.ContainerSelection{}}, ClusterOutputRefs: []v1.ResourceName{"central"}},
		},
		v1.LogPipeline{ // an injection attempt that bypassed the API server (render from files)
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "injection"},
			Spec: v1.LogPipelineSpec{Input: v1.LogPipelineInput{Containers: &v1.ContainerSelection{}}, OutputRefs: []v1.ResourceName{"app-0002"},
				Filters: []v1.Filter{{Type: v1.FilterAddFields, AddFields: &v1.AddFieldsFilter{Fields: []v1.KeyValue{{Key: "x", Value: "${AWS_SECRET_ACCESS_KEY}"}}}}}},
		},
	)
	broken.Namespaces = append(broken.Namespaces, snapshot.Namespace{Name: "outsider"})
	broken.Outputs = append(broken.Outputs, v1.LogOutput{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "no-secret"},
		Spec: v1.OutputSpec{Type: v1.OutputLoki, Loki: &v1.LokiOutput{Host: "loki",
			BearerToken: &v1.SecretKeyRef{Name: "absent", Key: "token"}}},
	}, v1.LogOutput{ // no pipeline uses it yet; its status still says what is wrong
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "unused"},
		Spec: v1.OutputSpec{Type: v1.OutputLoki, Loki: &v1.LokiOutput{Host: "loki",
			BearerToken: &v1.SecretKeyRef{Name: "absent", Key: "token"}}},
	})

	h, b := Render(healthy), Render(broken)
	if !sameFiles(h.Agents[0].Files, b.Agents[0].Files) {
		t.Fatalf("the broken tenant changed the configuration:\n%s", b.Agents[0].Files[0].Content)
	}
	want := map[string]string{
		"LogPipeline/team-002/missing-output": conditions.ReasonOutputNotFound,
		"LogPipeline/team-002/missing-secret": conditions.ReasonOutputInvalid,
		"LogOutput/team-002/no-secret":        conditions.ReasonSecretNotFound,
		"LogOutput/team-002/unused":           conditions.ReasonSecretNotFound,
		"LogPipeline/outsider/not-allowed":    conditions.ReasonOutputNotAllowed,
		"LogPipeline/team-002/injection":      conditions.ReasonUnsafeValue,
	}
	got := map[string]string{}
	for _, p := range b.Problems {
		got[p.Ref.String()] = p.Reason
	}
	for ref, reason := range want {
		if got[ref] != reason {
			t.Errorf("%s: reason %q, want %q (all: %v)", ref, got[ref], reason, b.Problems)
		}
	}
	if len(b.Problems) != len(want) {
		t.Errorf("want %d problems, got %v", len(want), b.Problems)
	}
}

// A tenant pipeline only ever matches its own namespace's records.
func TestTenantMatchIsItsOwnNamespace(t *testing.T) {
	res := Render(fleet(30))
	cfg := string(res.Agents[0].Files[0].Content)
	for _, p := range fleet(30).Pipelines {
		a := alias.Output{PipelineKind: alias.LogPipeline, Namespace: p.Namespace, Pipeline: p.Name,
			OutputKind: alias.LogOutput, Output: p.Name}.Encode()
		i := strings.Index(cfg, `alias: "`+a+`"`)
		if i < 0 {
			t.Fatalf("no section for %s", a)
		}
		section := cfg[strings.LastIndex(cfg[:i], "- name:"):i]
		want := `match_regex: "^kube\\.` + strings.ReplaceAll(p.Namespace, "-", "-") + `\\.`
		if !strings.Contains(cfg[i:i+400], want) && !strings.Contains(section, want) {
			t.Fatalf("%s does not match only namespace %s:\n%s", a, p.Namespace, cfg[i:i+400])
		}
	}
}

// Thousands of pipelines still fit: the configuration splits into included files, each
// within a Secret's size limit.
func TestLargeConfigurationSplitsUnderSecretLimit(t *testing.T) {
	res := Render(fleet(2000))
	files := res.Agents[0].Files
	if len(files) < 2 {
		t.Fatalf("2,000 pipelines fit in one file of %d bytes?", len(files[0].Content))
	}
	total := 0
	for _, f := range files {
		if len(f.Content) > maxFileBytes {
			t.Errorf("%s is %d bytes, over %d", f.Name, len(f.Content), maxFileBytes)
		}
		total += len(f.Content)
	}
	main := string(files[0].Content)
	for _, f := range files[1:] {
		if !strings.Contains(main, `- "`+f.Name+`"`) {
			t.Errorf("main file does not include %s", f.Name)
		}
	}
	if n := len(res.Agents[0].Pipelines); n != 2000 {
		t.Errorf("%d pipelines rendered, want 2000", n)
	}
	t.Logf("2,000 pipelines: %d files, %d bytes in all", len(files), total)
}

// A Renderer that remembers sections renders exactly what Render renders, whatever
// changed in between: edits (new resourceVersions), deletions, additions.
func TestRememberingRendererMatchesRender(t *testing.T) {
	r := NewRenderer()
	s := fleet(40)
	check := func(step string) {
		t.Helper()
		want, got := Render(s), r.Render(s)
		if !sameFiles(want.Agents[0].Files, got.Agents[0].Files) || want.Agents[0].Hash != got.Agents[0].Hash {
			t.Fatalf("%s: remembered render differs from a fresh one", step)
		}
		if fmt.Sprint(want.Problems) != fmt.Sprint(got.Problems) || len(want.Agents[0].Env) != len(got.Agents[0].Env) {
			t.Fatalf("%s: problems or credentials differ", step)
		}
	}
	check("first render")
	check("nothing changed")
	s.Pipelines[3].Spec.Filters[0].Grep.Exclude[0].Regex = "GET /livez"
	s.Pipelines[3].ResourceVersion = "2"
	check("pipeline edited")
	s.Outputs[5].Spec.HTTP.Path = "/v2/logs"
	s.Outputs[5].ResourceVersion = "2"
	check("output edited")
	s.Pipelines = append(s.Pipelines[:7], s.Pipelines[8:]...)
	check("pipeline deleted")
	s.Outputs = append(s.Outputs, v1.LogOutput{ObjectMeta: metav1.ObjectMeta{Namespace: "team-000", Name: "extra", ResourceVersion: "1"},
		Spec: v1.OutputSpec{Type: v1.OutputStdout, Stdout: &v1.StdoutOutput{}}})
	s.Pipelines[0].Spec.OutputRefs = append(slices.Clone(s.Pipelines[0].Spec.OutputRefs), "extra")
	s.Pipelines[0].ResourceVersion = "2"
	check("output added to a pipeline")
	s.Namespaces = append(s.Namespaces, snapshot.Namespace{Name: "zz-new", Labels: map[string]string{"logging": "central"}})
	check("namespace added")
}

// BenchmarkRender renders fleets of tenant pipelines, each with a label selector, a
// container exclusion, three filters and two outputs (4,000 output sections at 2,000),
// and, for comparison with operators that render bare outputs, 2,000 pipelines with
// one output and nothing else.
func BenchmarkRender(b *testing.B) {
	for _, n := range []int{1, 100, 2000} {
		s := fleet(n)
		b.Run(fmt.Sprintf("pipelines=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				Render(s)
			}
		})
	}
	bare := fleet(2000)
	for i := range bare.Pipelines {
		bare.Pipelines[i].Spec = v1.LogPipelineSpec{Agent: "default", Input: v1.LogPipelineInput{Containers: &v1.ContainerSelection{}},
			OutputRefs: bare.Pipelines[i].Spec.OutputRefs}
	}
	b.Run("bare-pipelines=2000", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			Render(bare)
		}
	})
	// What the controller pays per burst: one pipeline changed since the last render.
	s := fleet(2000)
	r := NewRenderer()
	r.Render(s)
	b.Run("one-change-pipelines=2000", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			p := &s.Pipelines[i%len(s.Pipelines)]
			p.ResourceVersion = fmt.Sprint(i + 2)
			r.Render(s)
		}
	})
}

// The operator hands the renderer objects it shares with its informer cache (listed
// without a deep copy), so a render must leave its input exactly as it found it.
func TestRenderLeavesItsInputAlone(t *testing.T) {
	s, want := fleet(60), fleet(60)
	if !reflect.DeepEqual(s, want) {
		t.Fatal("fleet is not deterministic; the test cannot compare")
	}
	Render(s)
	r := NewRenderer()
	r.Render(s)
	s.Pipelines[1].ResourceVersion, want.Pipelines[1].ResourceVersion = "2", "2"
	r.Render(s)
	if !reflect.DeepEqual(s, want) {
		t.Fatal("rendering changed its input")
	}
}
