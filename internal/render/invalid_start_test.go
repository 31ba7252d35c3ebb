package render

import (
	"fmt"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/logplane/logplane/api/v1alpha1"
	"github.com/logplane/logplane/internal/conditions"
	"github.com/logplane/logplane/internal/snapshot"
	"github.com/logplane/logplane/test/fbrun"
)

// Values admitted before a rule existed (or while the webhook was down) that Fluent
// Bit refuses at start, or that stall it, are left out with InvalidValue on their own
// pipeline; the configuration with the other tenants' pipelines starts.
func TestInvalidValuesAreLeftOutAndTheAgentStarts(t *testing.T) {
	bin := fbrun.Binary(t)
	grep := func(rx string) []v1.Filter {
		return []v1.Filter{{Type: v1.FilterGrep, Grep: &v1.GrepFilter{Include: []v1.FieldMatch{{Field: "log", Regex: v1.Regex(rx)}}}}}
	}
	parse := func(rx string) []v1.Filter {
		r := v1.Regex(rx)
		return []v1.Filter{{Type: v1.FilterParse, Parse: &v1.ParseFilter{Field: "log", Format: v1.ParseRegex, Regex: &r}}}
	}
	cases := []struct {
		name     string
		filters  []v1.Filter
		selector map[string]string
		field    string
	}{
		{"python-named-group", parse(`^(?P<level>\w+) (?P<msg>.*)$`), nil, "filters[0].parse.regex"},
		{"group-name-with-dash", parse(`^(?<log-level>\w+)`), nil, "filters[0].parse.regex"},
		{"dotall-flag", grep(`(?s)ERROR.*Exception`), nil, "filters[0].grep.include[0].regex"},
		{"ungreedy-flag", grep(`(?U)ERROR.*Exception`), nil, "filters[0].grep.include[0].regex"},
		{"unbalanced", grep(`GET /(healthz|readyz`), nil, "filters[0].grep.include[0].regex"},
		{"catastrophic", grep(`^(a+)+$`), nil, "filters[0].grep.include[0].regex"},
		{"quote-in-label-key", nil, map[string]string{"it's": "x"}, "input.containers.podSelector.matchLabels"},
		{"space-in-label-key", nil, map[string]string{"app name": "x"}, "input.containers.podSelector.matchLabels"},
		{"good", grep(`^(?i)(error|fatal)$`), map[string]string{"app.kubernetes.io/part-of": "shop"}, ""},
	}
	s := &snapshot.Snapshot{OperatorNamespace: "logplane-system"}
	for _, c := range cases {
		s.Namespaces = append(s.Namespaces, snapshot.Namespace{Name: c.name})
		s.Outputs = append(s.Outputs, v1.LogOutput{ObjectMeta: metav1.ObjectMeta{Namespace: c.name, Name: "out"},
			Spec: v1.OutputSpec{Type: v1.OutputStdout, Stdout: &v1.StdoutOutput{Format: "JSONLines"}}})
		var sel *metav1.LabelSelector
		if c.selector != nil {
			sel = &metav1.LabelSelector{MatchLabels: c.selector}
		}
		s.Pipelines = append(s.Pipelines, v1.LogPipeline{ObjectMeta: metav1.ObjectMeta{Namespace: c.name, Name: "p"},
			Spec: v1.LogPipelineSpec{Agent: "default", Filters: c.filters, OutputRefs: []v1.ResourceName{"out"},
				Input: v1.LogPipelineInput{Containers: &v1.ContainerSelection{PodSelector: sel}}}})
	}
	res := Render(s)
	got := map[string]Problem{}
	for _, p := range res.Problems {
		got[p.Ref.Namespace] = p
	}
	for _, c := range cases {
		p, ok := got[c.name]
		if c.field == "" {
			if ok {
				t.Errorf("%s: unexpected problem %v", c.name, p)
			}
			continue
		}
		if !ok || p.Reason != conditions.ReasonInvalidValue || !strings.Contains(p.Message, c.field) {
			t.Errorf("%s: problem %v, want InvalidValue on %s", c.name, p, c.field)
		}
	}
	cfg := res.Agents[0]
	if want := fmt.Sprintf("lp_lpl_%s_p_lout_out", "good"); !strings.Contains(string(cfg.Files[0].Content), want) {
		t.Fatalf("the good pipeline is not in the configuration")
	}
	gp := goldenPod{name: "agent", files: map[string][]byte{fbrun.MainConfig: cfg.Files[0].Content}, api: true}
	startAll(t, bin, []goldenPod{gp})
}
