package e2e

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/logplane/logplane/api/v1alpha1"
	"github.com/logplane/logplane/internal/agent"
	"github.com/logplane/logplane/internal/conditions"
	"github.com/logplane/logplane/test/localnode"
	"github.com/logplane/logplane/test/testenv"
)

// badInput is one row of issue 18's table: a tenant resource that once made the
// agent's configuration refuse to start on every node.
type badInput struct {
	row string
	// objects to apply, in order; the last is the one the row is about.
	objects string
	// refused, when set, is what the API server answers: the row never reaches the
	// operator.
	refused string
	// Otherwise the row's resource gets ConfigGenerated with reason, its message
	// holding message.
	reason, message string
}

// The containment namespaces: two healthy tenants, and one that applies every bad
// input of issue 18 (its pods write lines too, which must reach no one).
const (
	containA   = "contain-a"
	containB   = "contain-b"
	containBad = "contain-bad"
)

// badPipeline is a LogPipeline of the bad tenant named name, reading its every pod and
// shipping to its output "bad", with spec lines (indented for the spec) added.
func badPipeline(name, spec string) string {
	return fmt.Sprintf(`apiVersion: logging.logplane.dev/v1alpha1
kind: LogPipeline
metadata: {name: %s, namespace: %s}
spec:
  agent: $AGENT
  outputRefs: [bad]
%s`, name, containBad, spec)
}

func grepRow(row, regex string) badInput {
	return badInput{row: row, objects: badPipeline(row, fmt.Sprintf(`  input: {containers: {}}
  filters:
  - type: grep
    grep:
      include:
      - {field: log, regex: '%s'}
`, regex)), reason: conditions.ReasonInvalidValue, message: "Field filters[0].grep.include[0].regex: "}
}

func parseRow(row, regex string) badInput {
	return badInput{row: row, objects: badPipeline(row, fmt.Sprintf(`  input: {containers: {}}
  filters:
  - type: parse
    parse: {format: Regex, regex: '%s'}
`, regex)), reason: conditions.ReasonInvalidValue, message: "Field filters[0].parse.regex: "}
}

func labelRow(row, key string) badInput {
	return badInput{row: row, objects: badPipeline(row, fmt.Sprintf(`  input:
    containers:
      podSelector: {matchLabels: {%q: x}}
`, key)), reason: conditions.ReasonInvalidValue, message: "Field input.containers.podSelector.matchLabels: "}
}

// secretRow is a tenant's http output whose basic-auth password, which reaches Fluent
// Bit through an environment variable, is value.
func secretRow(row, value, message string) badInput {
	return badInput{row: row, objects: fmt.Sprintf(`apiVersion: v1
kind: Secret
metadata: {name: %[1]s, namespace: %[2]s}
data: {password: %[3]s}
---
apiVersion: logging.logplane.dev/v1alpha1
kind: LogPipeline
metadata: {name: %[1]s, namespace: %[2]s}
spec:
  agent: $AGENT
  input: {containers: {}}
  outputRefs: [%[1]s]
---
apiVersion: logging.logplane.dev/v1alpha1
kind: LogOutput
metadata: {name: %[1]s, namespace: %[2]s}
spec:
  type: http
  http:
    host: 127.0.0.1
    port: $SINK_PORT
    path: /bad
    basicAuth: {user: u, password: {name: %[1]s, key: password}}
`, row, containBad, base64.StdEncoding.EncodeToString([]byte(value))),
		reason: conditions.ReasonSecretInvalid, message: message}
}

// containmentTable is issue 18's table, row by row, with what each input gets now:
// a refusal from the API server (CEL or the schema), or, for what it admits, a
// problem on the resource's own status while everything else renders.
func containmentTable() []badInput {
	long := "long-" + strings.Repeat("s", 235)
	return []badInput{
		{row: "python-named-group", objects: badPipeline("python-named-group", `  input: {containers: {}}
  filters:
  - type: parse
    parse: {format: Regex, regex: '^(?P<level>\w+) (?P<msg>.*)$'}
`), refused: "(?P<name>...) is Python syntax, which Fluent Bit refuses"},
		parseRow("group-name-with-dash", `^(?<log-level>\w+)`),
		parseRow("group-name-leading-digit", `^(?<1level>\w+)`),
		grepRow("dotall-flag", `(?s)ERROR.*Exception`),
		grepRow("ungreedy-flag", `(?U)ERROR.*Exception`),
		grepRow("unbalanced-bracket", `GET /(healthz|readyz`),
		grepRow("catastrophic-backtracking", `^(a+)+$`),
		labelRow("label-key-with-quote", "it's"),
		labelRow("label-key-with-space", "app name"),
		{row: "empty-addfields-value", objects: badPipeline("empty-addfields-value", `  input: {containers: {}}
  filters:
  - type: addFields
    addFields: {fields: [{key: team, value: ""}]}
`), refused: "should be at least 1 chars long"},
		{row: "empty-kafka-sasl-user", objects: fmt.Sprintf(`apiVersion: v1
kind: Secret
metadata: {name: kafka, namespace: %[1]s}
stringData: {password: p}
---
apiVersion: logging.logplane.dev/v1alpha1
kind: LogOutput
metadata: {name: kafka, namespace: %[1]s}
spec:
  type: kafka
  kafka:
    brokers: ["127.0.0.1:9092"]
    topic: logs
    sasl: {mechanism: PLAIN, username: "", password: {name: kafka, key: password}}
`, containBad), refused: "should be at least 1 chars long"},
		{row: "throttle-interval-0s", objects: badPipeline("throttle-interval-0s", `  input: {containers: {}}
  filters:
  - type: throttle
    throttle: {records: 10, interval: 0s}
`), refused: "must be from 1s to 24h"},
		// Each throttle is a thread of the agent, per output.
		{row: "two-throttles", objects: badPipeline("two-throttles", `  input: {containers: {}}
  filters:
  - type: throttle
    throttle: {records: 10}
  - type: throttle
    throttle: {records: 20}
`), refused: "at most one throttle filter"},
		{row: "unknown-raw-parameter", objects: `apiVersion: logging.logplane.dev/v1alpha1
kind: ClusterLogOutput
metadata: {name: contain-raw}
spec:
  type: http
  http: {host: 127.0.0.1, port: $SINK_PORT, path: /raw}
  rawParameters: [{key: frobnicate, value: "1"}]
`, refused: "rawParameters key frobnicate is not a key Fluent Bit 5.1.1 documents for the http output plugin"},
		// An Elastic Cloud ID without the Elasticsearch id: "cannot extract cloud_host".
		{row: "cloud-id-without-es-id", objects: fmt.Sprintf(`apiVersion: logging.logplane.dev/v1alpha1
kind: LogPipeline
metadata: {name: elastic, namespace: %[1]s}
spec:
  agent: $AGENT
  input: {containers: {}}
  outputRefs: [elastic]
---
apiVersion: logging.logplane.dev/v1alpha1
kind: LogOutput
metadata: {name: elastic, namespace: %[1]s}
spec:
  type: elasticsearch
  elasticsearch: {cloudId: "dev:%[2]s", index: logs}
`, containBad, base64.StdEncoding.EncodeToString([]byte("eu-west-1.aws.found.io"))),
			reason: conditions.ReasonInvalidValue, message: "Field elasticsearch.cloudId: "},
		// Secret values the agent copies into its own Secrets and environment.
		secretRow("secret-value-near-1mib", strings.Repeat("a", 1_048_000), "holds more than 256 KiB"),
		secretRow("secret-value-with-nul", "tok\x00en", "holds a line break or a NUL character"),
		secretRow("secret-value-with-line-break", "token\nX-Injected: 1", "holds a line break or a NUL character"),
		// A name of 240 characters with an s3 output: its store directory name once
		// exceeded NAME_MAX. Now it renders; its pods do not exist, so it ships nothing.
		{row: "240-character-name-with-s3", objects: fmt.Sprintf(`# The output has no keys of its own: the platform grants the agent's identity for
# its bucket (IdentityGrant), or it would be refused (IdentityNotGranted).
apiVersion: logging.logplane.dev/v1alpha1
kind: IdentityGrant
metadata: {name: %[1]s-archive}
spec:
  namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: %[1]s}}
  agentIdentity: {destinations: [{type: s3, name: logs}]}
---
apiVersion: logging.logplane.dev/v1alpha1
kind: LogOutput
metadata: {name: archive, namespace: %[1]s}
spec:
  type: s3
  s3: {aws: {region: eu-west-1}, bucket: logs}
---
apiVersion: logging.logplane.dev/v1alpha1
kind: LogPipeline
metadata: {name: %[2]s, namespace: %[1]s}
spec:
  agent: $AGENT
  input: {containers: {podSelector: {matchLabels: {app: nothing-runs-this}}}}
  outputRefs: [archive]
`, containBad, long), reason: conditions.ReasonConfigGenerated},
		{row: "1-MB-pipeline", objects: hugePipeline(), reason: conditions.ReasonOverBudget,
			message: "perNamespace.pipelineConfigBytes"},
	}
}

// hugePipeline is a LogPipeline of about 1 MB, the largest filters the CRD admits:
// 32 greps of 16 include and 16 exclude rules of 1,024 characters.
func hugePipeline() string {
	rules := make([]v1.FieldMatch, 16)
	for i := range rules {
		rules[i] = v1.FieldMatch{Field: "log", Regex: v1.Regex(fmt.Sprintf("%04d", i) + strings.Repeat("x", 1020))}
	}
	filters := make([]v1.Filter, 32)
	for i := range filters {
		filters[i] = v1.Filter{Type: v1.FilterGrep, Grep: &v1.GrepFilter{Include: rules, Exclude: rules}}
	}
	p := v1.LogPipeline{TypeMeta: metav1.TypeMeta{APIVersion: v1.GroupVersion.String(), Kind: "LogPipeline"},
		ObjectMeta: metav1.ObjectMeta{Namespace: containBad, Name: "one-megabyte"},
		Spec: v1.LogPipelineSpec{Agent: "$AGENT", Input: v1.LogPipelineInput{Containers: &v1.ContainerSelection{}},
			Filters: filters, OutputRefs: []v1.ResourceName{"bad"}}}
	data, err := json.Marshal(p)
	if err != nil {
		panic(err)
	}
	if len(data) < 1<<20 {
		panic(fmt.Sprintf("the pipeline is %d bytes, want about 1 MB", len(data)))
	}
	return string(data)
}

// Nothing a tenant can apply takes the shared agent down (issue 18): two healthy
// tenants ship through parse, grep and addFields filters; then a third tenant applies
// every input of issue 18's table. What the API server admits is left out with a
// problem on its own status; the configuration the operator then writes starts on a
// node with an empty data directory, and on the healthy tenants' node the agent
// restarts with it and keeps delivering their records exactly once.
func TestOneTenantsBadInputIsContained(t *testing.T) {
	s := newScenario(t, "containment")
	for _, ns := range []string{containA, containB, containBad} {
		s.namespace(ns, nil)
	}
	healthy := s.apply(healthyTenant(containA) + "---\n" + healthyTenant(containB) + fmt.Sprintf(`---
apiVersion: logging.logplane.dev/v1alpha1
kind: LogOutput
metadata: {name: bad, namespace: %s}
spec: {type: http, http: {host: 127.0.0.1, port: $SINK_PORT, path: /bad}}
`, containBad))
	first := s.waitForConfig(healthy)
	s.startAgent(first)

	apps := map[string]*localnode.App{}
	for _, ns := range []string{containA, containB, containBad} {
		apps[ns] = s.app(ns, "app-1", map[string]string{"app": "web"}, "app")
	}
	want := map[string][]entry{}
	write := func(round int) {
		for ns, a := range apps {
			var lines []string
			for i := range 400 {
				e := entry{Src: ns + "/app-1/app", Seq: round*1000 + i}
				level := "info"
				if i%4 == 0 {
					level = "debug"
				}
				lines = append(lines, message(e, map[string]any{"level": level, "msg": fmt.Sprintf("line %d", i)}))
				// The healthy pipelines drop debug lines; the bad tenant's reach no one.
				if ns != containBad && level != "debug" {
					want["/"+ns] = append(want["/"+ns], e)
				}
			}
			if err := a.Write("app", lines...); err != nil {
				t.Fatal(err)
			}
		}
	}
	write(0)
	before := s.expectRoutes(want, 60*time.Second, 2*time.Second)

	// Every row of the table, applied as the bad tenant (and, for rawParameters, a
	// platform engineer) would.
	admitted := map[string]*unstructured.Unstructured{}
	rows := containmentTable()
	for _, r := range rows {
		objs := s.decode(r.objects)
		err := testenv.Apply(s.ctx, s.k8s, "e2e", objs)
		switch {
		case r.refused != "" && err == nil:
			t.Errorf("%s: the API server admitted it; want a refusal saying %q", r.row, r.refused)
		case r.refused != "" && !strings.Contains(err.Error(), r.refused):
			t.Errorf("%s: refused with %v; want %q", r.row, err, r.refused)
		case r.refused != "":
			t.Logf("%-28s refused by the API server: %s", r.row, r.refused)
		case r.reason == conditions.ReasonInvalidValue:
			// What the validating webhook refuses at admission is what the renderer
			// refuses as InvalidValue: stored past the webhook (before its rule
			// existed, or while it was down), the renderer contains it.
			if err == nil || !strings.Contains(err.Error(), "denied the request") {
				t.Errorf("%s: the validating webhook admitted it (%v); want a refusal", r.row, err)
				continue
			}
			t.Logf("%-28s refused by the validating webhook: %s", r.row, truncate(err.Error(), 160))
			last := objs[len(objs)-1]
			last.SetLabels(map[string]string{testenv.SkipValidationLabel: "true"})
			if err := testenv.Apply(s.ctx, s.k8s, "e2e", []*unstructured.Unstructured{last}); err != nil {
				t.Errorf("%s, past the webhook: %v", r.row, err)
				continue
			}
			admitted[r.row] = last
		case err != nil:
			t.Errorf("%s: %v", r.row, err)
		default:
			admitted[r.row] = objs[len(objs)-1]
		}
	}
	var rendered []*unstructured.Unstructured
	for _, r := range rows {
		o := admitted[r.row]
		if o == nil {
			continue
		}
		var got metav1.Condition
		s.eventually(60*time.Second, r.row+" on its own status", func() (bool, string) {
			c := s.condition(o, conditions.TypeConfigGenerated)
			if c == nil {
				return false, "no ConfigGenerated condition"
			}
			got = *c
			return c.Reason == r.reason && strings.Contains(c.Message, r.message), fmt.Sprintf("%+v", *c)
		})
		t.Logf("%-28s %s %s: %s", r.row, o.GetKind(), got.Reason, truncate(got.Message, 160))
		if r.reason == conditions.ReasonConfigGenerated {
			rendered = append(rendered, o)
		}
	}

	// The configuration now holds the 240-character pipeline too, so it changed.
	second := s.waitForConfig(append(healthy, rendered...))
	if first.Spec.Template.Annotations[agent.AnnotationConfig] == second.Spec.Template.Annotations[agent.AnnotationConfig] {
		t.Fatal("the configuration did not change")
	}

	// A node that joins now starts it on an empty data directory. (One node at a time:
	// here they share a network, and the agent its ports.)
	if err := s.agent.Proc.Stop(15 * time.Second); err != nil {
		t.Errorf("agent: %v", err)
	}
	fresh := s.freshNode("containment-fresh")
	joined, err := fresh.RunDaemonSet(s.ctx, second)
	if err != nil {
		t.Fatal(err)
	}
	s.waitHealthy(joined)
	if errs := joined.Proc.Errors(); len(errs) > 0 {
		t.Errorf("the agent on an empty node logged errors:\n%s", strings.Join(errs, "\n"))
	}
	if err := joined.Proc.Stop(15 * time.Second); err != nil {
		t.Errorf("agent on the fresh node: %v", err)
	}

	// The healthy tenants' node restarts its agent with it, as a rollout would; the
	// positions on the node carry over, so nothing is read twice.
	s.startAgent(second)
	write(1)
	after := s.expectRoutes(want, 60*time.Second, 3*time.Second)
	for _, route := range []string{"/" + containA, "/" + containB} {
		t.Logf("%s: before the bad inputs %s; after %s", route, before[route], after[route])
	}
}

// healthyTenant is a tenant whose pipeline parses JSON, drops debug lines and adds a
// field, shipping to the sink route /<ns>.
func healthyTenant(ns string) string {
	return fmt.Sprintf(`apiVersion: logging.logplane.dev/v1alpha1
kind: LogOutput
metadata: {name: sink, namespace: %[1]s}
spec: {type: http, http: {host: 127.0.0.1, port: $SINK_PORT, path: /%[1]s}}
---
apiVersion: logging.logplane.dev/v1alpha1
kind: LogPipeline
metadata: {name: app, namespace: %[1]s}
spec:
  agent: $AGENT
  input: {containers: {podSelector: {matchLabels: {app: web}}}}
  filters:
  - type: parse
    parse: {format: JSON, keepOriginal: true}
  - type: grep
    grep:
      exclude:
      - {field: level, regex: '^debug$'}
  - type: addFields
    addFields: {fields: [{key: tenant, value: %[1]s}]}
  outputRefs: [sink]
`, ns)
}

// condition reads the condition of type t from o's current status.
func (s *scenario) condition(o *unstructured.Unstructured, t string) *metav1.Condition {
	got := &unstructured.Unstructured{}
	got.SetGroupVersionKind(o.GroupVersionKind())
	if err := s.k8s.Get(s.ctx, client.ObjectKeyFromObject(o), got); err != nil {
		return nil
	}
	var st struct {
		Conditions []metav1.Condition `json:"conditions"`
	}
	raw, _ := json.Marshal(got.Object["status"])
	_ = json.Unmarshal(raw, &st)
	c := apimeta.FindStatusCondition(st.Conditions, t)
	if c == nil || c.ObservedGeneration != got.GetGeneration() {
		return nil
	}
	return c
}

// freshNode is another node of the scenario's cluster, with nothing on its disk.
func (s *scenario) freshNode(name string) *localnode.Node {
	s.t.Helper()
	n, err := localnode.New("node-"+name, localnode.Kubelet{Client: s.node.Client, Binary: s.node.Binary, API: s.node.API,
		Root: s.t.TempDir(), OpenFiles: s.node.OpenFiles, OpenFilesHard: s.node.OpenFilesHard}, s.node.IP)
	if err != nil {
		s.t.Fatal(err)
	}
	return n
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
