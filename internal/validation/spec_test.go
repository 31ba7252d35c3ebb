package validation

import (
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/logplane/logplane/api/v1alpha1"
)

func grep(rx string) []v1.Filter {
	return []v1.Filter{{Type: v1.FilterGrep, Grep: &v1.GrepFilter{
		Include: []v1.FieldMatch{{Field: "log", Regex: "^ok$"}},
		Exclude: []v1.FieldMatch{{Field: "log", Regex: "healthz"}, {Field: "log", Regex: v1.Regex(rx)}}}}}
}

func parse(rx string) []v1.Filter {
	r := v1.Regex(rx)
	return []v1.Filter{{Type: v1.FilterAddFields}, {Type: v1.FilterParse, Parse: &v1.ParseFilter{Format: v1.ParseRegex, Regex: &r}}}
}

func labels(key string) *metav1.LabelSelector {
	return &metav1.LabelSelector{MatchLabels: map[string]string{key: "x"}}
}

// Spec is the one entry both gates call: each kind's checks find the first bad value
// wherever the kind can hold one, with the field path a user reads in kubectl, and
// pass the same spec with that value fixed.
func TestSpec(t *testing.T) {
	cases := []struct {
		name      string
		bad, good any
		field     string
		detail    string
	}{
		{"pipeline grep regex",
			&v1.LogPipelineSpec{Filters: grep(`(?s)a.*b`)}, &v1.LogPipelineSpec{Filters: grep(`a[\s\S]*b`)},
			"spec.filters[0].grep.exclude[1].regex", "(?s) is not Ruby syntax"},
		{"pipeline parse regex",
			&v1.LogPipelineSpec{Filters: parse(`^(?<log-level>\w+)`)}, &v1.LogPipelineSpec{Filters: parse(`^(?<log_level>\w+)`)},
			"spec.filters[1].parse.regex", "not a valid field name"},
		{"pipeline container pod selector",
			&v1.LogPipelineSpec{Input: v1.LogPipelineInput{Containers: &v1.ContainerSelection{PodSelector: labels("it's")}}},
			&v1.LogPipelineSpec{Input: v1.LogPipelineInput{Containers: &v1.ContainerSelection{PodSelector: labels("its")}}},
			"spec.input.containers.podSelector.matchLabels", "name part must consist of"},
		{"pipeline file pod selector",
			&v1.LogPipelineSpec{Input: v1.LogPipelineInput{Files: &v1.FileInput{PodSelector: *labels("app name")}}},
			&v1.LogPipelineSpec{Input: v1.LogPipelineInput{Files: &v1.FileInput{PodSelector: *labels("app-name")}}},
			"spec.input.files.podSelector.matchLabels", "name part must consist of"},
		{"cluster pipeline regex",
			&v1.ClusterLogPipelineSpec{Filters: grep(`^(a+)+$`)}, &v1.ClusterLogPipelineSpec{Filters: grep(`^a+$`)},
			"spec.filters[0].grep.exclude[1].regex", "exponentially many ways"},
		{"cluster pipeline namespace selector",
			&v1.ClusterLogPipelineSpec{Input: v1.ClusterLogPipelineInput{Containers: &v1.ClusterContainerInput{Namespaces: v1.NamespaceSelection{Selector: labels("team name")}}}},
			&v1.ClusterLogPipelineSpec{Input: v1.ClusterLogPipelineInput{Containers: &v1.ClusterContainerInput{Namespaces: v1.NamespaceSelection{Selector: labels("team")}}}},
			"spec.input.containers.namespaces.selector.matchLabels", "name part must consist of"},
		{"cluster pipeline events namespace selector",
			&v1.ClusterLogPipelineSpec{Input: v1.ClusterLogPipelineInput{Events: &v1.EventsInput{Namespaces: v1.NamespaceSelection{Selector: labels("it's")}}}},
			&v1.ClusterLogPipelineSpec{Input: v1.ClusterLogPipelineInput{Events: &v1.EventsInput{Namespaces: v1.NamespaceSelection{Selector: labels("its")}}}},
			"spec.input.events.namespaces.selector.matchLabels", "name part must consist of"},
		{"cluster output allowedNamespaces",
			&v1.ClusterLogOutputSpec{AllowedNamespaces: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "team", Operator: "In"}}}},
			&v1.ClusterLogOutputSpec{AllowedNamespaces: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "team", Operator: "In", Values: []string{"a"}}}}},
			"spec.allowedNamespaces.matchExpressions[0].values", "must be specified when `operator` is 'In' or 'NotIn'"},
		{"cluster output rawParameters value Fluent Bit refuses at start",
			rawOutput(v1.OutputHTTP, "http_method", "GET"), rawOutput(v1.OutputHTTP, "http_method", "put"),
			"spec.rawParameters[1].value", "key http_method has a value that Fluent Bit 5.1.1 refuses for the http output plugin when it starts, which would stop the agent on every node: write one of post, put"},
		{"cluster output rawParameters value, exact case",
			rawOutput(v1.OutputKinesisStreams, "compression", "GZIP"), rawOutput(v1.OutputKinesisStreams, "compression", "gzip"),
			"spec.rawParameters[1].value", "write one of gzip, zstd, snappy (lower case)"},
		{"cluster output rawParameters log_level on any plugin",
			rawOutput(v1.OutputLoki, "log_level", "verbose"), rawOutput(v1.OutputLoki, "log_level", "warning"),
			"spec.rawParameters[1].value", "write one of off, error, warn, warning, info, debug, trace"},
		{"tenant output: CEL expresses every rule", nil, &v1.OutputSpec{Type: v1.OutputStdout, Stdout: &v1.StdoutOutput{}}, "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if errs := Spec(tc.good); len(errs) != 0 {
				t.Errorf("good spec refused: %v", errs)
			}
			if tc.bad == nil {
				return
			}
			errs := Spec(tc.bad)
			if len(errs) != 1 {
				t.Fatalf("%d errors, want 1: %v", len(errs), errs)
			}
			if errs[0].Field != tc.field || !strings.Contains(errs[0].Detail, tc.detail) {
				t.Errorf("got %s: %s; want %s: …%s…", errs[0].Field, errs[0].Detail, tc.field, tc.detail)
			}
		})
	}
}

// A kind Spec does not know is a bug in the caller, not a spec to pass.
func TestSpecRefusesUnknownTypes(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("no panic for a RetentionPolicySpec")
		}
	}()
	Spec(&v1.RetentionPolicySpec{})
}

// Text finds a value Fluent Bit would read as more than text anywhere in a spec of
// any kind, with its path; CEL does not refuse every such value (a NUL passes).
func TestText(t *testing.T) {
	cases := []struct {
		name   string
		spec   any
		field  string
		detail string
	}{
		{"NUL in a tenant output", &v1.OutputSpec{Type: v1.OutputLoki, Loki: &v1.LokiOutput{Host: "loki", TenantID: ptr(v1.ConfigString("team\x00a"))}},
			"spec.loki.tenantId", "NUL"},
		{"line break in a cluster output's raw value", &v1.ClusterLogOutputSpec{RawParameters: []v1.RawParameter{{Key: "compress", Value: "gzip\n[OUTPUT]"}}},
			"spec.rawParameters[0].value", "line break"},
		{"${ in a pipeline's added field", &v1.LogPipelineSpec{Filters: []v1.Filter{{Type: v1.FilterAddFields, AddFields: &v1.AddFieldsFilter{
			Fields: []v1.KeyValue{{Key: "k", Value: "${AWS_SECRET_ACCESS_KEY}"}}}}}}, "spec.filters[0].addFields.fields[0].value", "'${'"},
		{"invalid UTF-8 in a cluster pipeline", &v1.ClusterLogPipelineSpec{Filters: grep("\xff")}, "spec.filters[0].grep.exclude[1].regex", "UTF-8"},
		{"plain text", &v1.LogPipelineSpec{Filters: grep("café")}, "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			errs := Text(tc.spec)
			if tc.field == "" {
				if len(errs) != 0 {
					t.Fatalf("refused: %v", errs)
				}
				return
			}
			if len(errs) != 1 || errs[0].Field != tc.field || !strings.Contains(errs[0].Detail, tc.detail) {
				t.Fatalf("got %v; want one error at %s saying %s", errs, tc.field, tc.detail)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

// rawOutput is a ClusterLogOutput of type t whose rawParameters set a key nobody checks
// the value of, then key to value.
func rawOutput(t v1.OutputType, key, value string) *v1.ClusterLogOutputSpec {
	return &v1.ClusterLogOutputSpec{OutputSpec: v1.OutputSpec{Type: t},
		RawParameters: []v1.RawParameter{{Key: "retry_limit_ignored", Value: "anything"}, {Key: key, Value: v1.ConfigString(value)}}}
}
