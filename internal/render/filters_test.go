package render

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/logplane/logplane/api/v1alpha1"
	"github.com/logplane/logplane/internal/snapshot"
)

// Every filter type, and every label-selector operator, in one tenant pipeline.
func TestFiltersGolden(t *testing.T) {
	s := &snapshot.Snapshot{
		OperatorNamespace: "logplane-system",
		Namespaces:        []snapshot.Namespace{{Name: "team-a"}},
		Outputs: []v1.LogOutput{{ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: "debug"},
			Spec: v1.OutputSpec{Type: v1.OutputStdout, Stdout: &v1.StdoutOutput{}}}},
		Pipelines: []v1.LogPipeline{{
			ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: "every-filter"},
			Spec: v1.LogPipelineSpec{
				Input: v1.LogPipelineInput{Containers: &v1.ContainerSelection{
					PodSelector: &metav1.LabelSelector{
						MatchLabels: map[string]string{"app.kubernetes.io/name": "web", "tier": "front.end"},
						MatchExpressions: []metav1.LabelSelectorRequirement{
							{Key: "env", Operator: metav1.LabelSelectorOpIn, Values: []string{"prod", "staging"}},
							{Key: "canary", Operator: metav1.LabelSelectorOpNotIn, Values: []string{"true"}},
							{Key: "team", Operator: metav1.LabelSelectorOpExists},
							{Key: "legacy", Operator: metav1.LabelSelectorOpDoesNotExist},
						},
					},
					Include: []v1.ContainerName{"app", "worker"},
				}},
				Filters: []v1.Filter{
					{Type: v1.FilterMultiline, Multiline: &v1.MultilineFilter{Parser: "java", Field: "log"}},
					{Type: v1.FilterParse, Parse: &v1.ParseFilter{Field: "log", Format: v1.ParseLogfmt}},
					{Type: v1.FilterParse, Parse: &v1.ParseFilter{Field: "msg", Format: v1.ParseRegex,
						Regex: ptr(v1.Regex(`^(?<status>\d{3}) (?<path>\S+)$`)), TimeKey: ptr(v1.FieldPath("ts")),
						TimeFormat: ptr(v1.ConfigString("%Y-%m-%dT%H:%M:%S%z")), KeepOriginal: true}},
					{Type: v1.FilterGrep, Grep: &v1.GrepFilter{
						Include: []v1.FieldMatch{{Field: "level", Regex: "^(warn|error)$"}, {Field: "$kubernetes['container_name']", Regex: "^app$"}},
						Exclude: []v1.FieldMatch{{Field: "path", Regex: "^/healthz"}, {Field: "user_agent", Regex: "kube-probe"}},
					}},
					{Type: v1.FilterAddFields, AddFields: &v1.AddFieldsFilter{Fields: []v1.KeyValue{
						{Key: "cluster", Value: "prod-eu"}, {Key: "note", Value: `said "hi" \ bye`}}}},
					{Type: v1.FilterRemoveFields, RemoveFields: &v1.RemoveFieldsFilter{Fields: []string{"_p", "stream"}}},
					{Type: v1.FilterThrottle, Throttle: &v1.ThrottleFilter{Records: 500, Interval: "1m", Window: 10}},
				},
				OutputRefs: []v1.ResourceName{"debug"},
			},
		}},
	}
	res := Render(s)
	if len(res.Problems) != 0 {
		t.Fatalf("problems: %v", res.Problems)
	}
	golden(t, "filters/fluent-bit.yaml", res.Agents[0].Files[0].Content)
}
