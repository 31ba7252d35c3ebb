package render

import (
	"testing"

	yaml "go.yaml.in/yaml/v3"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/logplane/logplane/api/v1alpha1"
	"github.com/logplane/logplane/internal/snapshot"
)

// Whatever strings reach the renderer — including ones the API server would refuse,
// since `logplane render` reads files — it never panics, always writes YAML, and a
// user's value never becomes a new section or key.
func FuzzRenderKeepsStructure(f *testing.F) {
	for _, s := range []string{"plain", "a\nb", "${AWS_SECRET_ACCESS_KEY}", "@INCLUDE x", "[OUTPUT]",
		"k: v", "- item", `"quoted"`, "$kubernetes['labels']['app']", "}{${", "\x00", "é ü ∑"} {
		f.Add(s, s, s)
	}
	f.Fuzz(func(t *testing.T, value, regex, header string) {
		s := &snapshot.Snapshot{
			OperatorNamespace: "ops",
			Namespaces:        []snapshot.Namespace{{Name: "team-a"}},
			Outputs: []v1.LogOutput{{
				ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: "out"},
				Spec: v1.OutputSpec{Type: v1.OutputHTTP, HTTP: &v1.HTTPOutput{
					Host: "logs.example.com", Path: v1.URIPath("/" + value),
					Headers: []v1.Header{{Name: "X-Fuzz", Value: ptr(v1.ConfigString(header))}},
				}},
			}},
			Pipelines: []v1.LogPipeline{{
				ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: "p"},
				Spec: v1.LogPipelineSpec{
					Input: v1.LogPipelineInput{Containers: &v1.ContainerSelection{
						PodSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": value}}}},
					Filters: []v1.Filter{
						{Type: v1.FilterGrep, Grep: &v1.GrepFilter{Include: []v1.FieldMatch{{Field: "log", Regex: v1.Regex(regex)}}}},
						{Type: v1.FilterAddFields, AddFields: &v1.AddFieldsFilter{Fields: []v1.KeyValue{{Key: "k", Value: v1.ConfigString(value)}}}},
					},
					OutputRefs: []v1.ResourceName{"out"},
				},
			}},
		}
		res := Render(s)
		if len(res.Agents) != 1 {
			t.Fatalf("want one agent, got %d", len(res.Agents))
		}
		var doc struct {
			Pipeline struct {
				Inputs  []map[string]any `yaml:"inputs"`
				Outputs []map[string]any `yaml:"outputs"`
			} `yaml:"pipeline"`
		}
		cfg := res.Agents[0].Files[0].Content
		if err := yaml.Unmarshal(cfg, &doc); err != nil {
			t.Fatalf("not YAML: %v\n%s", err, cfg)
		}
		rendered := len(res.Agents[0].Pipelines) == 1
		if rendered != (len(doc.Pipeline.Outputs) == 1) || len(doc.Pipeline.Outputs) > 1 {
			t.Fatalf("rendered=%v but %d outputs:\n%s", rendered, len(doc.Pipeline.Outputs), cfg)
		}
		if !rendered {
			if len(res.Problems) == 0 {
				t.Fatal("pipeline left out without a problem")
			}
			return
		}
		out := doc.Pipeline.Outputs[0]
		for key := range out {
			switch key {
			case "name", "match", "match_regex", "alias", "host", "uri", "header", "format", "http_method",
				"port", "retry_limit", "processors":
			default:
				t.Fatalf("unexpected key %q in output:\n%s", key, cfg)
			}
		}
		if out["uri"] != "/"+value {
			t.Fatalf("uri changed: %q", out["uri"])
		}
	})
}
