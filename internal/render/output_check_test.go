package render

import (
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/logplane/logplane/api/v1alpha1"
	"github.com/logplane/logplane/internal/alias"
	"github.com/logplane/logplane/internal/conditions"
	"github.com/logplane/logplane/internal/snapshot"
)

// The renderer gate runs the webhook's checks on outputs too: a ClusterLogOutput whose
// allowedNamespaces does not parse (stored past the webhook) is left out with
// InvalidValue on its own status, instead of silently admitting no namespace; the
// pipeline that uses it reports it and keeps its other output.
func TestOutputsFailingTheSharedChecksAreLeftOut(t *testing.T) {
	stdout := v1.OutputSpec{Type: v1.OutputStdout, Stdout: &v1.StdoutOutput{}}
	s := &snapshot.Snapshot{OperatorNamespace: "logplane-system",
		ClusterOutputs: []v1.ClusterLogOutput{
			{ObjectMeta: metav1.ObjectMeta{Name: "bad-selector"}, Spec: v1.ClusterLogOutputSpec{OutputSpec: stdout,
				AllowedNamespaces: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "team", Operator: "In"}}}}},
			{ObjectMeta: metav1.ObjectMeta{Name: "good"}, Spec: v1.ClusterLogOutputSpec{OutputSpec: stdout}},
		},
		ClusterPipelines: []v1.ClusterLogPipeline{{ObjectMeta: metav1.ObjectMeta{Name: "platform"},
			Spec: v1.ClusterLogPipelineSpec{Agent: "default", Input: v1.ClusterLogPipelineInput{Containers: &v1.ClusterContainerInput{}},
				ClusterOutputRefs: []v1.ResourceName{"bad-selector", "good"}}}},
	}
	res := Render(s)
	got := map[string]Problem{}
	for _, p := range res.Problems {
		got[p.Ref.String()] = p
	}
	out := got[Ref{Kind: alias.ClusterLogOutput, Name: "bad-selector"}.String()]
	if out.Reason != conditions.ReasonInvalidValue || !strings.Contains(out.Message, "allowedNamespaces.matchExpressions[0].values") {
		t.Errorf("output problem %+v, want InvalidValue on allowedNamespaces.matchExpressions[0].values", out)
	}
	if p := got[Ref{Kind: alias.ClusterLogPipeline, Name: "platform"}.String()]; p.Reason != conditions.ReasonOutputInvalid {
		t.Errorf("pipeline problem %+v, want OutputInvalid", p)
	}
	if _, ok := got[Ref{Kind: alias.ClusterLogOutput, Name: "good"}.String()]; ok {
		t.Error("the good output has a problem")
	}
	cfg := string(res.Agents[0].Files[0].Content)
	if !strings.Contains(cfg, "_clout_good\"") || strings.Contains(cfg, "bad-selector") {
		t.Errorf("want the good output alone in the configuration:\n%s", cfg)
	}
}
