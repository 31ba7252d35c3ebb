package render

import (
	"fmt"
	"slices"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/logplane/logplane/api/v1alpha1"
	"github.com/logplane/logplane/internal/conditions"
	"github.com/logplane/logplane/internal/snapshot"
)

// brokenFleet is a fleet large enough to be resolved in parts, with broken outputs
// that pipelines of every part use, and a broken pipeline in each part.
func brokenFleet(n int) *snapshot.Snapshot {
	s := fleet(n)
	s.ClusterOutputs = append(s.ClusterOutputs, v1.ClusterLogOutput{
		ObjectMeta: metav1.ObjectMeta{Name: "broken", ResourceVersion: "1"},
		Spec: v1.ClusterLogOutputSpec{
			OutputSpec: v1.OutputSpec{Type: v1.OutputLoki, Loki: &v1.LokiOutput{Host: "loki",
				BearerToken: &v1.SecretKeyRef{Name: "absent", Key: "token"}}},
			AllowedNamespaces: &metav1.LabelSelector{MatchLabels: map[string]string{"logging": "central"}},
		},
	})
	s.ClusterOutputs = append(s.ClusterOutputs, v1.ClusterLogOutput{ // no pipeline uses it
		ObjectMeta: metav1.ObjectMeta{Name: "unused-broken", ResourceVersion: "1"},
		Spec: v1.ClusterLogOutputSpec{OutputSpec: v1.OutputSpec{Type: v1.OutputLoki, Loki: &v1.LokiOutput{Host: "loki",
			BearerToken: &v1.SecretKeyRef{Name: "absent", Key: "token"}}}},
	})
	ns := s.Pipelines[5].Namespace // its pipelines are spread over the whole list
	// Raw parameters: one output with a warning, one with a refused key.
	s.ClusterOutputs = append(s.ClusterOutputs, v1.ClusterLogOutput{
		ObjectMeta: metav1.ObjectMeta{Name: "raw", ResourceVersion: "1"},
		Spec: v1.ClusterLogOutputSpec{
			OutputSpec:        v1.OutputSpec{Type: v1.OutputStdout, Stdout: &v1.StdoutOutput{}},
			RawParameters:     []v1.RawParameter{{Key: "json_date_format", Value: "iso8601"}},
			AllowedNamespaces: &metav1.LabelSelector{MatchLabels: map[string]string{"logging": "central"}},
		},
	}, v1.ClusterLogOutput{
		ObjectMeta: metav1.ObjectMeta{Name: "raw-refused", ResourceVersion: "1"},
		Spec: v1.ClusterLogOutputSpec{
			OutputSpec:        v1.OutputSpec{Type: v1.OutputStdout, Stdout: &v1.StdoutOutput{}},
			RawParameters:     []v1.RawParameter{{Key: "match_regex", Value: ".*"}},
			AllowedNamespaces: &metav1.LabelSelector{MatchLabels: map[string]string{"logging": "central"}},
		},
	})
	for i := range s.Pipelines {
		p := &s.Pipelines[i].Spec
		switch {
		case i%97 == 0:
			p.ClusterOutputRefs = append(slices.Clone(p.ClusterOutputRefs), "broken")
		case i%89 == 0:
			p.Filters = slices.Clone(p.Filters)
			p.Filters[2] = v1.Filter{Type: v1.FilterAddFields, AddFields: &v1.AddFieldsFilter{Fields: []v1.KeyValue{{Key: "x", Value: "${TOKEN}"}}}}
		}
		if s.Pipelines[i].Namespace == ns {
			p.ClusterOutputRefs = append(slices.Clone(p.ClusterOutputRefs), "raw", "raw-refused")
		}
	}
	return s
}

// Resolving in parts finds the pipelines and problems of resolving in one go: an
// output that several parts use is reported once.
func TestParallelResolveMatchesSerial(t *testing.T) {
	s := sortedCopy(brokenFleet(2000))
	serial := newResolver(s)
	want := serial.resolveRange(0, len(s.ClusterPipelines)+len(s.Pipelines))
	serial.resolveUnusedOutputs()
	parallel := newResolver(s)
	got := parallel.resolveParallel()
	parallel.resolveUnusedOutputs()
	if workersFor(len(s.Pipelines), 512) < 2 {
		t.Log("one processor: resolved in one part")
	}
	refs := func(ps []*pipeline) string {
		slices.SortFunc(ps, func(a, b *pipeline) int { return compareRefs(a.Ref, b.Ref) })
		var out []string
		for _, p := range ps {
			out = append(out, fmt.Sprint(p.Ref, len(p.Outputs)))
		}
		return fmt.Sprint(out)
	}
	if refs(got) != refs(want) {
		t.Error("resolved pipelines differ")
	}
	sorted := func(ps []Problem) string {
		ps = slices.Clone(ps)
		slices.SortStableFunc(ps, func(a, b Problem) int { return compareRefs(a.Ref, b.Ref) })
		return fmt.Sprint(ps)
	}
	if sorted(parallel.problems) != sorted(serial.problems) {
		t.Errorf("problems differ:\n%s\nwant:\n%s", sorted(parallel.problems), sorted(serial.problems))
	}
	count := map[string]int{}
	for _, p := range parallel.problems {
		count[p.Ref.String()+" "+p.Reason]++
	}
	for _, key := range []string{
		"ClusterLogOutput/broken " + conditions.ReasonSecretNotFound,
		"ClusterLogOutput/unused-broken " + conditions.ReasonSecretNotFound,
		"ClusterLogOutput/raw " + conditions.ReasonUnsupported,
		"ClusterLogOutput/raw-refused " + conditions.ReasonRawParameterRefused,
	} {
		if count[key] != 1 {
			t.Errorf("%s reported %d times, want once", key, count[key])
		}
	}
	if count["LogPipeline/team-089/app-0089 "+conditions.ReasonUnsafeValue] != 1 {
		t.Errorf("the unsafe pipeline is not reported once: %v", count)
	}
}

// A Renderer (which resolves in one go) and Render agree on a fleet with problems.
func TestRendererMatchesRenderWithProblems(t *testing.T) {
	s := brokenFleet(2000)
	want, got := Render(s), NewRenderer().Render(s)
	if fmt.Sprint(want.Problems) != fmt.Sprint(got.Problems) {
		t.Fatalf("problems differ:\n%v\nwant:\n%v", got.Problems, want.Problems)
	}
	if !sameFiles(want.Agents[0].Files, got.Agents[0].Files) || want.Agents[0].Hash != got.Agents[0].Hash {
		t.Fatal("configurations differ")
	}
}
