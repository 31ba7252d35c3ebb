package render

import (
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/logplane/logplane/api/v1alpha1"
	"github.com/logplane/logplane/internal/snapshot"
)

func clusterPipelineSnapshot(sel v1.NamespaceSelection) *snapshot.Snapshot {
	return &snapshot.Snapshot{
		OperatorNamespace: "logplane-system",
		Namespaces: []snapshot.Namespace{
			{Name: "kube-system"}, {Name: "logplane-system"},
			{Name: "shop", Labels: map[string]string{"tier": "prod"}},
			{Name: "billing", Labels: map[string]string{"tier": "prod"}},
			{Name: "sandbox", Labels: map[string]string{"tier": "dev"}},
		},
		ClusterOutputs: []v1.ClusterLogOutput{{ObjectMeta: metav1.ObjectMeta{Name: "out"},
			Spec: v1.ClusterLogOutputSpec{OutputSpec: v1.OutputSpec{Type: v1.OutputStdout, Stdout: &v1.StdoutOutput{}}}}},
		ClusterPipelines: []v1.ClusterLogPipeline{{ObjectMeta: metav1.ObjectMeta{Name: "p"},
			Spec: v1.ClusterLogPipelineSpec{
				Input:             v1.ClusterLogPipelineInput{Containers: &v1.ClusterContainerInput{Namespaces: sel}},
				ClusterOutputRefs: []v1.ResourceName{"out"},
			}}},
	}
}

func TestClusterPipelineNamespaceSelection(t *testing.T) {
	cases := []struct {
		name      string
		sel       v1.NamespaceSelection
		wantMatch string // the output's match or match_regex line; "" = no output at all
	}{
		{"everything but system namespaces", v1.NamespaceSelection{},
			`match_regex: "^kube\\.(?!(?:kube-node-lease|kube-public|kube-system|logplane-system)\\.)"`},
		{"everything but system and excluded", v1.NamespaceSelection{Exclude: []v1.NamespaceName{"sandbox"}},
			`match_regex: "^kube\\.(?!(?:kube-node-lease|kube-public|kube-system|logplane-system|sandbox)\\.)"`},
		{"by label", v1.NamespaceSelection{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"tier": "prod"}}},
			`match_regex: "^kube\\.(?:billing|shop)\\."`},
		{"by label minus exclude", v1.NamespaceSelection{
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"tier": "prod"}}, Exclude: []v1.NamespaceName{"shop"}},
			`match: "kube.billing.*"`},
		{"a system namespace only by name", v1.NamespaceSelection{Include: []v1.NamespaceName{"kube-system"}},
			`match: "kube.kube-system.*"`},
		{"a selector that matches nothing selects nothing", v1.NamespaceSelection{
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"tier": "none"}}}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := Render(clusterPipelineSnapshot(tc.sel))
			cfg := string(res.Agents[0].Files[0].Content)
			if tc.wantMatch == "" {
				if strings.Contains(cfg, "outputs:") {
					t.Fatalf("rendered an output for an empty selection:\n%s", cfg)
				}
				return
			}
			if !strings.Contains(cfg, tc.wantMatch) {
				t.Fatalf("want %s in:\n%s", tc.wantMatch, cfg)
			}
		})
	}
}
