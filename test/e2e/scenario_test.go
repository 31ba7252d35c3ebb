package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/logplane/logplane/api/v1alpha1"
	"github.com/logplane/logplane/internal/agent"
	"github.com/logplane/logplane/internal/conditions"
	"github.com/logplane/logplane/test/localnode"
	"github.com/logplane/logplane/test/sink"
	"github.com/logplane/logplane/test/testenv"
)

// scenario is one test's world: a LogAgent of its own (named after the scenario, with
// a metrics port of its own) that its pipelines select, one node with an empty file
// system, and a sink.
type scenario struct {
	t     *testing.T
	ctx   context.Context
	name  string
	k8s   client.Client
	node  *localnode.Node
	sink  *sink.HTTP
	fwd   *sink.Forward
	port  int
	agent *localnode.AgentPod
}

func newScenario(t *testing.T, name string) *scenario {
	t.Helper()
	s := newScenarioWithoutAgent(t, name)
	s.apply(fmt.Sprintf(`apiVersion: logging.logplane.dev/v1alpha1
kind: LogAgent
metadata:
  name: %s
spec:
  metricsPort: %d
`, name, s.port))
	return s
}

// newScenarioWithoutAgent is newScenario for a test that applies the LogAgent named
// name itself, with metricsPort s.port (the samples' default agent).
func newScenarioWithoutAgent(t *testing.T, name string) *scenario {
	t.Helper()
	bin, env, api := clusterFor(t)
	snk, err := sink.StartHTTP("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = snk.Close() })
	fwd, err := sink.StartForward("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = fwd.Close() })
	// Containers get containerd 2.x's open-file limits, which the agent's pods raise.
	soft, hard := localnode.ContainerdOpenFiles()
	node, err := localnode.New("node-"+name, localnode.Kubelet{Client: env.Client, Binary: bin, API: api, Root: t.TempDir(),
		OpenFiles: soft, OpenFilesHard: hard}, api.Address)
	if err != nil {
		t.Fatal(err)
	}
	port, err := testenv.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	return &scenario{t: t, ctx: t.Context(), name: name, k8s: env.Client, node: node, sink: snk, fwd: fwd, port: port}
}

// apply applies manifests after replacing $AGENT, $SINK_PORT (the HTTP sink's) and
// $FORWARD_PORT (the forward sink's), with server-side apply as a user would.
func (s *scenario) apply(manifests string) []*unstructured.Unstructured {
	s.t.Helper()
	objs := s.decode(manifests)
	if err := testenv.Apply(s.ctx, s.k8s, "e2e", objs); err != nil {
		s.t.Fatal(err)
	}
	return objs
}

// decode fills in the scenario's placeholders ($AGENT, $SINK_PORT, $FORWARD_PORT) and
// decodes the manifests, without applying them.
func (s *scenario) decode(manifests string) []*unstructured.Unstructured {
	s.t.Helper()
	manifests = strings.NewReplacer("$AGENT", s.name, "$SINK_PORT", strconv.Itoa(s.sink.Port),
		"$FORWARD_PORT", strconv.Itoa(s.fwd.Port)).Replace(manifests)
	objs, err := testenv.DecodeYAML([]byte(manifests))
	if err != nil {
		s.t.Fatal(err)
	}
	return objs
}

// pipelinesConfigured says whether every pipeline among objs is in its agent's
// configuration at its current generation (proven by the canary and written), or
// which is not.
func (s *scenario) pipelinesConfigured(objs []*unstructured.Unstructured) (bool, string) {
	for _, o := range objs {
		if o.GetKind() != "LogPipeline" && o.GetKind() != "ClusterLogPipeline" {
			continue
		}
		got := &unstructured.Unstructured{}
		got.SetGroupVersionKind(o.GroupVersionKind())
		if err := s.k8s.Get(s.ctx, client.ObjectKeyFromObject(o), got); err != nil {
			return false, err.Error()
		}
		var st v1.PipelineStatus
		raw, _ := json.Marshal(got.Object["status"])
		_ = json.Unmarshal(raw, &st)
		c := apimeta.FindStatusCondition(st.Conditions, conditions.TypeConfigGenerated)
		if c == nil || c.Status != metav1.ConditionTrue || c.ObservedGeneration != got.GetGeneration() {
			return false, fmt.Sprintf("%s %s: ConfigGenerated %+v", o.GetKind(), testenv.ObjectKey(o), c)
		}
	}
	return true, ""
}

// waitForPipelines waits until every pipeline among objs is in its agent's
// configuration at its current generation.
func (s *scenario) waitForPipelines(objs []*unstructured.Unstructured) {
	s.t.Helper()
	s.eventually(60*time.Second, "the configuration with every pipeline", func() (bool, string) { return s.pipelinesConfigured(objs) })
}

// waitForConfig waits until every pipeline among objs is in its agent's configuration
// at its current generation, and returns the agent's DaemonSet as then written.
func (s *scenario) waitForConfig(objs []*unstructured.Unstructured) *appsv1.DaemonSet {
	s.t.Helper()
	var ds *appsv1.DaemonSet
	s.eventually(60*time.Second, "the configuration with every pipeline", func() (bool, string) {
		if ok, why := s.pipelinesConfigured(objs); !ok {
			return false, why
		}
		la := &v1.LogAgent{}
		if err := s.k8s.Get(s.ctx, client.ObjectKey{Name: s.name}, la); err != nil {
			return false, err.Error()
		}
		ds = &appsv1.DaemonSet{}
		if err := s.k8s.Get(s.ctx, client.ObjectKey{Namespace: operatorNamespace, Name: agent.ResourceName(s.name)}, ds); err != nil {
			return false, err.Error()
		}
		hash := ds.Spec.Template.Annotations[agent.AnnotationConfig]
		if la.Status.ConfigHash == "" || !strings.HasPrefix(hash, la.Status.ConfigHash) {
			return false, fmt.Sprintf("agent status hash %q, DaemonSet %q", la.Status.ConfigHash, hash)
		}
		return true, ""
	})
	return ds
}

// startAgent runs the agent's pod on the node and waits for Fluent Bit's health endpoint.
func (s *scenario) startAgent(ds *appsv1.DaemonSet) *localnode.AgentPod {
	s.t.Helper()
	a, err := s.node.RunDaemonSet(s.ctx, ds)
	if err != nil {
		s.t.Fatal(err)
	}
	s.agent = a
	s.t.Cleanup(func() {
		if done, _ := a.Proc.Exited(); !done {
			if err := a.Proc.Stop(15 * time.Second); err != nil {
				s.t.Errorf("agent: %v", err)
			}
		}
		if s.t.Failed() {
			s.t.Logf("agent log:\n%s", a.Proc.Log())
		}
	})
	s.waitHealthy(a)
	return a
}

func (s *scenario) waitHealthy(a *localnode.AgentPod) {
	s.t.Helper()
	url := fmt.Sprintf("http://%s:%d/api/v1/health", s.node.IP, s.port)
	s.eventually(30*time.Second, "Fluent Bit healthy at "+url, func() (bool, string) {
		if done, err := a.Proc.Exited(); done {
			s.t.Fatalf("Fluent Bit exited (%v):\n%s", err, a.Proc.Log())
		}
		resp, err := http.Get(url)
		if err != nil {
			return false, err.Error()
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, resp.Status
	})
}

// app runs a pod on the node in namespace ns (created if missing, with nsLabels).
func (s *scenario) app(ns, name string, labels map[string]string, containers ...string) *localnode.App {
	s.t.Helper()
	a, err := s.node.RunApp(s.ctx, ns, name, labels, containers...)
	if err != nil {
		s.t.Fatal(err)
	}
	s.t.Cleanup(a.Close)
	return a
}

func (s *scenario) namespace(name string, labels map[string]string) {
	s.t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}
	if err := s.k8s.Create(s.ctx, ns); err != nil {
		s.t.Fatal(err)
	}
}

// eventually polls cond every 200ms until it holds, failing the test with cond's last
// word after timeout.
func (s *scenario) eventually(timeout time.Duration, what string, cond func() (bool, string)) {
	s.t.Helper()
	deadline := time.Now().Add(timeout)
	last := ""
	for {
		ok, why := cond()
		if ok {
			return
		}
		last = why
		if time.Now().After(deadline) {
			s.t.Fatalf("waited %s for %s: %s", timeout, what, last)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// entry is one log line a test wrote: its source container and its sequence number.
type entry struct {
	Src string // namespace/pod/container
	Seq int
}

// message is the JSON line a container writes for entry e, with extra fields.
func message(e entry, fields map[string]any) string {
	m := map[string]any{"src": e.Src, "seq": e.Seq}
	maps.Copy(m, fields)
	b, _ := json.Marshal(m)
	return string(b)
}

// entryOf finds the entry in a delivered record: at the top level after a JSON parse,
// else in the raw log line.
func entryOf(r sink.Record) (entry, bool) {
	fields := map[string]any(r)
	if _, ok := fields["src"]; !ok {
		raw, _ := r["log"].(string)
		// A map of its own: decoding into the record would change what the sink keeps.
		fields = map[string]any{}
		if err := json.Unmarshal([]byte(raw), &fields); err != nil {
			return entry{}, false
		}
	}
	src, _ := fields["src"].(string)
	seq, ok := fields["seq"].(float64)
	return entry{Src: src, Seq: int(seq)}, ok && src != ""
}

// tally compares what a route received with what it should have: every entry exactly once.
type tally struct {
	want, got, missing, duplicated, leaked, unreadable int
}

func (t tally) String() string {
	return fmt.Sprintf("want %d, got %d: %d missing, %d duplicated, %d not meant for it, %d unreadable",
		t.want, t.got, t.missing, t.duplicated, t.leaked, t.unreadable)
}

func (t tally) exact() bool {
	return t.got == t.want && t.missing == 0 && t.duplicated == 0 && t.leaked == 0 && t.unreadable == 0
}

func count(recs []sink.Record, want []entry) tally { return countBy(recs, want, entryOf) }

// countBy is count with another way of finding the entry in a record.
func countBy(recs []sink.Record, want []entry, entryOf func(sink.Record) (entry, bool)) tally {
	expected := map[entry]bool{}
	for _, e := range want {
		expected[e] = true
	}
	seen := map[entry]int{}
	t := tally{want: len(want), got: len(recs)}
	for _, r := range recs {
		e, ok := entryOf(r)
		switch {
		case !ok:
			t.unreadable++
		case !expected[e]:
			t.leaked++
		default:
			seen[e]++
			if seen[e] == 2 {
				t.duplicated++
			}
		}
	}
	for e := range expected {
		if seen[e] == 0 {
			t.missing++
		}
	}
	return t
}

// expectRoutes waits until every route received exactly its entries (and routes not
// listed received nothing), then waits settle longer to catch late extras.
func (s *scenario) expectRoutes(want map[string][]entry, timeout, settle time.Duration) map[string]tally {
	s.t.Helper()
	return s.expectAt(s.sink, entryOf, want, timeout, settle)
}

// destination is where records arrive, per route: the sink, or a fake of a real service.
type destination interface {
	Records(route string) []sink.Record
	Routes() map[string]int
}

// expectAt is expectRoutes at another destination, which finds entries with entryOf.
func (s *scenario) expectAt(dst destination, entryOf func(sink.Record) (entry, bool), want map[string][]entry, timeout, settle time.Duration) map[string]tally {
	s.t.Helper()
	check := func() (map[string]tally, bool) {
		out := map[string]tally{}
		ok := true
		for route, entries := range want {
			out[route] = countBy(dst.Records(route), entries, entryOf)
			ok = ok && out[route].exact()
		}
		for route, n := range dst.Routes() {
			if _, expected := want[route]; !expected {
				out[route] = tally{got: n, leaked: n}
				ok = false
			}
		}
		return out, ok
	}
	deadline := time.Now().Add(timeout)
	var got map[string]tally
	for {
		var ok bool
		got, ok = check()
		if ok || time.Now().After(deadline) {
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	time.Sleep(settle)
	got, ok := check()
	routes := slices.Sorted(maps.Keys(got))
	for _, r := range routes {
		s.t.Logf("route %s: %s", r, got[r])
	}
	if !ok {
		s.t.Errorf("routes did not receive exactly what they should")
	}
	return got
}

// httpTenant is one tenant's manifests, a YAML stream that starts with a document
// separator: namespace ns, a LogOutput to the sink's path /ns, and a LogPipeline of
// the namespace's containers on the scenario's agent.
func httpTenant(ns string) string {
	return fmt.Sprintf(`
---
apiVersion: v1
kind: Namespace
metadata: {name: %[1]s}
---
apiVersion: logging.logplane.dev/v1alpha1
kind: LogOutput
metadata: {name: out, namespace: %[1]s}
spec: {type: http, http: {host: 127.0.0.1, port: $SINK_PORT, path: /%[1]s}}
---
apiVersion: logging.logplane.dev/v1alpha1
kind: LogPipeline
metadata: {name: logs, namespace: %[1]s}
spec:
  agent: $AGENT
  input: {containers: {}}
  outputRefs: [out]
`, ns)
}

// writeBatch writes 20 numbered lines to container c of every app (keyed by
// namespace), numbered on from what want already expects of it, and adds them to want
// under the path /namespace the tenant's output sends to.
func (s *scenario) writeBatch(apps map[string]*localnode.App, want map[string][]entry) {
	s.t.Helper()
	for ns, a := range apps {
		var lines []string
		for range 20 {
			e := entry{Src: ns + "/app/c", Seq: len(want["/"+ns])}
			want["/"+ns] = append(want["/"+ns], e)
			lines = append(lines, message(e, nil))
		}
		if err := a.Write("c", lines...); err != nil {
			s.t.Fatal(err)
		}
	}
}

// nodeFilesPipeline is a ClusterLogPipeline and its ClusterLogOutput, both named name,
// that ship the node's /var/log/<name>/*.log to the sink's /node: the agent tails them
// with a positions database on the node (hostfiles.db), which the canary cannot see.
func nodeFilesPipeline(name string) string {
	return fmt.Sprintf(`
apiVersion: logging.logplane.dev/v1alpha1
kind: ClusterLogOutput
metadata: {name: %[1]s}
spec: {type: http, http: {host: 127.0.0.1, port: $SINK_PORT, path: /node}}
---
apiVersion: logging.logplane.dev/v1alpha1
kind: ClusterLogPipeline
metadata: {name: %[1]s}
spec:
  agent: $AGENT
  input: {node: {files: [/var/log/%[1]s/*.log]}}
  clusterOutputRefs: [%[1]s]
`, name)
}
