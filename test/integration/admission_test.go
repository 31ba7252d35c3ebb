package integration

import (
	"context"
	"fmt"
	"strings"
	"testing"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/logplane/logplane/api/v1alpha1"
	"github.com/logplane/logplane/internal/conditions"
	"github.com/logplane/logplane/test/testenv"
)

const admissionNamespace = "admission"

// deniedByWebhook is how the API server prefixes a refusal of the validating webhook.
const deniedByWebhook = `admission webhook "validate.logging.logplane.dev" denied the request`

// Issue 18's table, applied through the API server as a tenant applies it (server-side
// apply): each row is refused at admission, by the webhook unless CEL refuses it
// first, with a message naming the field and saying what to write instead; its twin,
// which differs only in the bad value, is admitted.
func TestAdmissionRefusesWhatTheAgentWouldRefuse(t *testing.T) {
	ensureNamespace(t, admissionNamespace)
	grep := func(rx string) string {
		return fmt.Sprintf("input: {containers: {}}\noutputRefs: [o]\nfilters: [{type: grep, grep: {include: [{field: log, regex: %q}]}}]", rx)
	}
	parse := func(rx string) string {
		return fmt.Sprintf("input: {containers: {}}\noutputRefs: [o]\nfilters: [{type: parse, parse: {format: Regex, regex: %q}}]", rx)
	}
	labelKey := func(key string) string {
		return fmt.Sprintf("input: {containers: {podSelector: {matchLabels: {%q: x}}}}\noutputRefs: [o]", key)
	}
	cases := []struct {
		name      string
		bad, good string
		// webhook: the webhook refuses it (else CEL, before the webhook is called).
		webhook bool
		field   string
		msg     string
	}{
		// Rows of issue 18.
		{"parse regex with a Python named group", admissionPipeline(parse(`^(?P<level>\w+) (?P<msg>.*)$`)),
			admissionPipeline(parse(`^(?<level>\w+) (?<msg>.*)$`)), false, "spec.filters[0].parse.regex", "(?P<name>...) is Python syntax, which Fluent Bit refuses: write (?<name>...)"},
		{"grep regex with a Python named group", admissionPipeline(grep(`^(?P<level>\w+) `)),
			admissionPipeline(grep(`^(?<level>\w+) `)), true, "spec.filters[0].grep.include[0].regex", "Python syntax: write (?<name>…)"},
		{"group name with -", admissionPipeline(parse(`^(?<log-level>\w+) `)),
			admissionPipeline(parse(`^(?<log_level>\w+) `)), true, "spec.filters[0].parse.regex", "not a valid field name"},
		{"group name with a leading digit", admissionPipeline(parse(`^(?<1st>\w+) `)),
			admissionPipeline(parse(`^(?<first>\w+) `)), true, "spec.filters[0].parse.regex", "not a valid field name"},
		{"(?s)", admissionPipeline(grep(`(?s)ERROR.*Exception`)),
			admissionPipeline(grep(`ERROR[\s\S]*Exception`)), true, "spec.filters[0].grep.include[0].regex", "(?s) is not Ruby syntax"},
		{"(?U)", admissionPipeline(grep(`(?U)ERROR.*Exception`)),
			admissionPipeline(grep(`ERROR.*?Exception`)), true, "spec.filters[0].grep.include[0].regex", "(?U) is not Ruby syntax"},
		{"unbalanced (", admissionPipeline(grep(`GET /(healthz|readyz`)),
			admissionPipeline(grep(`GET /(healthz|readyz)`)), true, "spec.filters[0].grep.include[0].regex", "( without closing )"},
		{"catastrophic backtracking", admissionPipeline(grep(`^(a+)+$`)),
			admissionPipeline(grep(`^a+$`)), true, "spec.filters[0].grep.include[0].regex", "exponentially many ways"},
		{"label key with a quote", admissionPipeline(labelKey("it's")),
			admissionPipeline(labelKey("its")), true, "spec.input.containers.podSelector.matchLabels", "name part must consist of alphanumeric characters"},
		{"label key with a space", admissionPipeline(labelKey("app name")),
			admissionPipeline(labelKey("app-name")), true, "spec.input.containers.podSelector.matchLabels", "name part must consist of alphanumeric characters"},

		// The rest of what the renderer gate refuses, kind by kind.
		{"(?m), dot-all in Ruby", admissionPipeline(grep(`(?m)^BEGIN.*END$`)),
			admissionPipeline(grep(`^BEGIN[\s\S]*END$`)), true, "spec.filters[0].grep.include[0].regex", "(?m) makes . match line breaks"},
		{"exclude rule of a later filter", admissionPipeline("input: {containers: {}}\noutputRefs: [o]\nfilters:\n- {type: grep, grep: {exclude: [{field: log, regex: healthz}]}}\n- {type: grep, grep: {exclude: [{field: log, regex: \"(a|aa)+$\"}]}}"),
			admissionPipeline("input: {containers: {}}\noutputRefs: [o]\nfilters:\n- {type: grep, grep: {exclude: [{field: log, regex: healthz}]}}\n- {type: grep, grep: {exclude: [{field: log, regex: \"a+$\"}]}}"),
			true, "spec.filters[1].grep.exclude[0].regex", "exponentially many ways"},
		{"file input pod selector", admissionPipeline("input: {files: {podSelector: {matchExpressions: [{key: app, operator: In}]}, paths: [/var/log/app.log]}}\noutputRefs: [o]"),
			admissionPipeline("input: {files: {podSelector: {matchExpressions: [{key: app, operator: In, values: [web]}]}, paths: [/var/log/app.log]}}\noutputRefs: [o]"),
			true, "spec.input.files.podSelector.matchExpressions[0].values", "must be specified when `operator` is 'In' or 'NotIn'"},
		{"cluster pipeline regex", admissionClusterPipeline("input: {containers: {}}\nclusterOutputRefs: [o]\nfilters: [{type: grep, grep: {include: [{field: log, regex: \"(?s)x.*y\"}]}}]"),
			admissionClusterPipeline("input: {containers: {}}\nclusterOutputRefs: [o]\nfilters: [{type: grep, grep: {include: [{field: log, regex: \"x[\\\\s\\\\S]*y\"}]}}]"),
			true, "spec.filters[0].grep.include[0].regex", "(?s) is not Ruby syntax"},
		{"cluster pipeline namespace selector", admissionClusterPipeline("input: {containers: {namespaces: {selector: {matchLabels: {\"team name\": a}}}}}\nclusterOutputRefs: [o]"),
			admissionClusterPipeline("input: {containers: {namespaces: {selector: {matchLabels: {team: a}}}}}\nclusterOutputRefs: [o]"),
			true, "spec.input.containers.namespaces.selector.matchLabels", "name part must consist of alphanumeric characters"},
		{"cluster pipeline events namespace selector", admissionClusterPipeline("input: {events: {namespaces: {selector: {matchExpressions: [{key: team, operator: Exists, values: [a]}]}}}}\nclusterOutputRefs: [o]"),
			admissionClusterPipeline("input: {events: {namespaces: {selector: {matchExpressions: [{key: team, operator: Exists}]}}}}\nclusterOutputRefs: [o]"),
			true, "spec.input.events.namespaces.selector.matchExpressions[0].values", "may not be specified when `operator` is 'Exists' or 'DoesNotExist'"},
		{"cluster output allowedNamespaces", admissionClusterOutput("type: stdout\nstdout: {}\nallowedNamespaces: {matchLabels: {\"it's\": x}}"),
			admissionClusterOutput("type: stdout\nstdout: {}\nallowedNamespaces: {matchLabels: {its: x}}"),
			true, "spec.allowedNamespaces.matchLabels", "name part must consist of alphanumeric characters"},
		{"cluster output rawParameters value Fluent Bit refuses at start", admissionClusterOutput("type: http\nhttp: {host: h}\nrawParameters: [{key: compress, value: bogus}]"),
			admissionClusterOutput("type: http\nhttp: {host: h}\nrawParameters: [{key: compress, value: gzip}]"),
			true, "spec.rawParameters[0].value", "key compress has a value that Fluent Bit 5.1.1 refuses for the http output plugin when it starts"},
		{"cluster output http_method", admissionClusterOutput("type: http\nhttp: {host: h}\nrawParameters: [{key: http_method, value: BOGUS}]"),
			admissionClusterOutput("type: http\nhttp: {host: h}\nrawParameters: [{key: http_method, value: PUT}]"),
			true, "spec.rawParameters[0].value", "write one of post, put"},
		{"NUL character in a tenant output", admissionOutput("type: loki\nloki: {host: loki.example.com, tenantId: \"team\\0a\"}"),
			admissionOutput("type: loki\nloki: {host: loki.example.com, tenantId: team-a}"),
			true, "spec.loki.tenantId", "contains a NUL character"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := applyYAML(t, tc.bad)
			if err == nil {
				t.Fatalf("admitted; want %s refused with %q", tc.field, tc.msg)
			}
			if !apierrors.IsInvalid(err) {
				t.Errorf("want an Invalid error, got %v", err)
			}
			if got := strings.Contains(err.Error(), deniedByWebhook); got != tc.webhook {
				t.Errorf("refused by the webhook: %t, want %t:\n%v", got, tc.webhook, err)
			}
			for _, want := range []string{tc.field, tc.msg} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error does not say %q:\n%v", want, err)
				}
			}
			if err := applyYAML(t, tc.good); err != nil {
				t.Errorf("twin refused: %v", err)
			}
		})
	}
}

// An object stored before a rule existed (here: past the webhook, by a label the test
// installation honours) can still be relabelled, annotated and deleted, which a
// controller or Argo CD does without touching the spec; a change to its spec must
// pass the checks.
func TestAdmissionAdmitsUpdatesThatLeaveTheSpec(t *testing.T) {
	ctx := t.Context()
	ensureNamespace(t, admissionNamespace)
	p := decode(t, admissionPipeline("input: {containers: {}}\noutputRefs: [o]\nfilters: [{type: grep, grep: {include: [{field: log, regex: \"(?s)ERROR.*Exception\"}]}}]"))
	p.SetName("stored-before")
	p.SetLabels(map[string]string{testenv.SkipValidationLabel: "true"})
	if err := k8s.Create(ctx, p); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = k8s.Delete(context.Background(), p) })

	// Merge patches, as kubectl and controllers send them: the operator writes status
	// meanwhile, so an update carrying a resourceVersion would conflict.
	patch := func(body string) error {
		return k8s.Patch(ctx, p, client.RawPatch(types.MergePatchType, []byte(body)))
	}
	// Without the label the object is sent to the webhook again.
	if err := patch(`{"metadata":{"labels":{"` + testenv.SkipValidationLabel + `":null,"team":"a"},"annotations":{"argocd.argoproj.io/tracking-id":"x"}}}`); err != nil {
		t.Fatalf("an update that leaves the spec was refused: %v", err)
	}
	err := patch(`{"spec":{"filters":[{"type":"grep","grep":{"include":[{"field":"log","regex":"(?U)ERROR.*Exception"}]}}]}}`)
	if err == nil || !strings.Contains(err.Error(), deniedByWebhook) || !strings.Contains(err.Error(), "(?U) is not Ruby syntax") {
		t.Fatalf("a change to another bad value: %v; want it refused by the webhook", err)
	}
	if err := patch(`{"spec":{"filters":[{"type":"grep","grep":{"include":[{"field":"log","regex":"ERROR.*?Exception"}]}}]}}`); err != nil {
		t.Fatalf("the fix was refused: %v", err)
	}
}

// With the webhook unreachable, failurePolicy Ignore admits the pipeline, and the
// renderer gate, which runs the same checks, leaves it out with InvalidValue on its
// own status.
func TestRendererContainsWhatAdmissionMissed(t *testing.T) {
	ctx := t.Context()
	ensureNamespace(t, admissionNamespace)
	objs, err := testenv.LoadManifests(testenv.RepoRoot() + "/config/webhook")
	if err != nil {
		t.Fatal(err)
	}
	var down admissionregistrationv1.ValidatingWebhookConfiguration
	for _, o := range objs {
		if o.GetKind() == "ValidatingWebhookConfiguration" {
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, &down); err != nil {
				t.Fatal(err)
			}
		}
	}
	if len(down.Webhooks) == 0 {
		t.Fatal("config/webhook has no validating webhook")
	}
	down.Name = "logplane-test-validation-down"
	url := "https://127.0.0.1:1/validate-logging-logplane-dev-v1alpha1"
	for i := range down.Webhooks {
		down.Webhooks[i].ClientConfig = admissionregistrationv1.WebhookClientConfig{URL: &url}
	}
	if err := k8s.Create(ctx, &down); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = k8s.Delete(context.Background(), &down) }) // t.Context() is cancelled by now

	out := decode(t, admissionOutput("type: stdout\nstdout: {}"))
	out.SetName("o")
	p := decode(t, admissionPipeline("input: {containers: {}}\noutputRefs: [o]\nfilters: [{type: grep, grep: {include: [{field: log, regex: \"^(a+)+$\"}]}}]"))
	p.SetName("missed")
	// Only the unreachable copy sees it: the test installation's own webhook skips it.
	p.SetLabels(map[string]string{testenv.SkipValidationLabel: "true"})
	for _, o := range []client.Object{out, p} {
		if err := k8s.Create(ctx, o); err != nil {
			t.Fatalf("with the webhook down, %s was refused: %v", o.GetName(), err)
		}
		t.Cleanup(func() { _ = k8s.Delete(context.Background(), o) })
	}
	eventually(t, "InvalidValue on the pipeline", func() error {
		var got v1.LogPipeline
		if err := k8s.Get(ctx, client.ObjectKey{Namespace: admissionNamespace, Name: "missed"}, &got); err != nil {
			return err
		}
		c := meta.FindStatusCondition(got.Status.Conditions, conditions.TypeConfigGenerated)
		if c == nil || c.Reason != conditions.ReasonInvalidValue || !strings.Contains(c.Message, "filters[0].grep.include[0].regex") {
			return errString(fmt.Sprintf("ConfigGenerated %+v", c))
		}
		return nil
	})
}

func admissionPipeline(spec string) string {
	return "apiVersion: logging.logplane.dev/v1alpha1\nkind: LogPipeline\nmetadata: {name: p, namespace: " +
		admissionNamespace + "}\nspec:\n" + indent(spec)
}

func admissionClusterPipeline(spec string) string {
	return "apiVersion: logging.logplane.dev/v1alpha1\nkind: ClusterLogPipeline\nmetadata: {name: admission}\nspec:\n" + indent(spec)
}

func admissionOutput(spec string) string {
	return "apiVersion: logging.logplane.dev/v1alpha1\nkind: LogOutput\nmetadata: {name: out, namespace: " +
		admissionNamespace + "}\nspec:\n" + indent(spec)
}

func admissionClusterOutput(spec string) string {
	return "apiVersion: logging.logplane.dev/v1alpha1\nkind: ClusterLogOutput\nmetadata: {name: admission}\nspec:\n" + indent(spec)
}
