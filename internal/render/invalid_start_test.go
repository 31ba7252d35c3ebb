package render

import (
	"encoding/base64"
	"fmt"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/logplane/logplane/api/v1alpha1"
	"github.com/logplane/logplane/internal/alias"
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

// An Elastic Cloud ID without the Elasticsearch id ("cannot extract cloud_host" at
// start) leaves out its output, with InvalidValue on the output and OutputInvalid on
// the pipeline that uses it; the configuration with the other outputs starts.
func TestInvalidCloudIDIsLeftOutAndTheAgentStarts(t *testing.T) {
	bin := fbrun.Binary(t)
	id := func(decoded string) *v1.ConfigString {
		s := v1.ConfigString("dev:" + base64.StdEncoding.EncodeToString([]byte(decoded)))
		return &s
	}
	s := &snapshot.Snapshot{OperatorNamespace: "logplane-system", Namespaces: []snapshot.Namespace{{Name: "shop"}}}
	for name, cloudID := range map[string]*v1.ConfigString{
		"bad":  id("eu-west-1.aws.found.io"),
		"good": id("eu-west-1.aws.found.io$4fa8821e75634032bed1cf22110e2f97$4fa8821e75634032bed1cf22110e2f96"),
	} {
		s.Outputs = append(s.Outputs, v1.LogOutput{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: name},
			Spec: v1.OutputSpec{Type: v1.OutputElasticsearch, Elasticsearch: &v1.ElasticsearchOutput{CloudID: cloudID,
				SearchIndex: v1.SearchIndex{Index: "logs"}}}})
		s.Pipelines = append(s.Pipelines, v1.LogPipeline{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: name},
			Spec: v1.LogPipelineSpec{Agent: "default", OutputRefs: []v1.ResourceName{v1.ResourceName(name)},
				Input: v1.LogPipelineInput{Containers: &v1.ContainerSelection{}}}})
	}
	res := Render(s)
	got := map[Ref]string{}
	for _, p := range res.Problems {
		got[p.Ref] = p.Reason + ": " + p.Message
	}
	if len(got) != 2 {
		t.Errorf("problems: %v", res.Problems)
	}
	out := got[Ref{Kind: alias.LogOutput, Namespace: "shop", Name: "bad"}]
	if !strings.HasPrefix(out, conditions.ReasonInvalidValue+": Field elasticsearch.cloudId: ") || !strings.Contains(out, "names no Elasticsearch host") {
		t.Errorf("the output's problem: %q", out)
	}
	if pl := got[Ref{Kind: alias.LogPipeline, Namespace: "shop", Name: "bad"}]; !strings.HasPrefix(pl, conditions.ReasonOutputInvalid) {
		t.Errorf("the pipeline's problem: %q", pl)
	}
	cfg := res.Agents[0].Files[0].Content
	if !strings.Contains(string(cfg), "lp_lpl_shop_good_") || strings.Contains(string(cfg), "lp_lpl_shop_bad_") {
		t.Fatalf("want the good pipeline, and only it, in the configuration:\n%s", cfg)
	}
	startAll(t, bin, []goldenPod{{name: "agent", files: map[string][]byte{fbrun.MainConfig: cfg}, api: true}})
}
