package e2e

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/logplane/logplane/api/v1alpha1"
	"github.com/logplane/logplane/internal/agent"
	"github.com/logplane/logplane/internal/conditions"
	"github.com/logplane/logplane/test/localnode"
)

// A ClusterLogOutput whose rawParameters the allow-list admits but Fluent Bit refuses
// at plugin initialisation (http proxy "bogus": no URL), used by a new tenant among 50
// healthy ones: the canary refuses it, no configuration written for the agent ever
// carries it, the offending pipeline is named RejectedByAgent with Fluent Bit's line,
// the other tenants' records keep arriving with none lost, and the next good change
// goes out as usual.
func TestCanaryKeepsARefusedConfigurationOffTheNodes(t *testing.T) {
	const tenants = 50
	// 51 http outputs of 2 workers each: more than an agent's default budgets, raised
	// here as a platform with this many tenants on a node does.
	s := newScenarioWithoutAgent(t, "canary")
	s.apply(fmt.Sprintf(`apiVersion: logging.logplane.dev/v1alpha1
kind: LogAgent
metadata: {name: %s}
spec:
  metricsPort: %d
  budgets:
    perAgent: {outputSections: 64, workers: 128}
`, s.name, s.port))
	var manifests strings.Builder
	for i := range tenants {
		manifests.WriteString(httpTenant(fmt.Sprintf("cn-%02d", i)))
	}
	runsBefore := cluster.canaries.Runs(s.name)
	start := time.Now()
	ds := s.waitForConfig(s.apply(manifests.String()))
	t.Logf("50 tenants: first configuration proven and written in %s, %d canary runs",
		time.Since(start).Round(100*time.Millisecond), cluster.canaries.Runs(s.name)-runsBefore)

	// Every version of the agent's configuration Secrets, from now on.
	carried := watchConfig(t, s)

	s.startAgent(ds)
	apps := map[string]*localnode.App{}
	for i := range tenants {
		ns := fmt.Sprintf("cn-%02d", i)
		apps[ns] = s.app(ns, "app", map[string]string{"app": "app"}, "c")
	}
	want := map[string][]entry{}
	s.writeBatch(apps, want)
	s.expectRoutes(want, 60*time.Second, 0)

	// The offender, among records still flowing.
	runsBefore = cluster.canaries.Runs(s.name)
	start = time.Now()
	s.apply(`
apiVersion: v1
kind: Namespace
metadata: {name: cn-bad, labels: {canary-bad: "yes"}}
---
apiVersion: logging.logplane.dev/v1alpha1
kind: ClusterLogOutput
metadata: {name: canary-bad}
spec:
  type: http
  http: {host: 127.0.0.1, port: $SINK_PORT, path: /cn-bad}
  allowedNamespaces: {matchLabels: {canary-bad: "yes"}}
  rawParameters:
    - {key: proxy, value: bogus}
---
apiVersion: logging.logplane.dev/v1alpha1
kind: LogPipeline
metadata: {name: logs, namespace: cn-bad}
spec:
  agent: $AGENT
  input: {containers: {}}
  clusterOutputRefs: [canary-bad]
`)
	t.Cleanup(func() {
		// The shared cluster's other scenarios need no refused output lying around.
		_ = s.k8s.Delete(context.Background(), &v1.LogPipeline{ObjectMeta: metav1.ObjectMeta{Namespace: "cn-bad", Name: "logs"}})
		_ = s.k8s.Delete(context.Background(), &v1.ClusterLogOutput{ObjectMeta: metav1.ObjectMeta{Name: "canary-bad"}})
	})
	s.writeBatch(apps, want)
	var named metav1.Condition
	s.eventually(60*time.Second, "the offender named RejectedByAgent", func() (bool, string) {
		var lp v1.LogPipeline
		if err := s.k8s.Get(s.ctx, client.ObjectKey{Namespace: "cn-bad", Name: "logs"}, &lp); err != nil {
			return false, err.Error()
		}
		c := apimeta.FindStatusCondition(lp.Status.Conditions, conditions.TypeConfigGenerated)
		if c == nil || c.Reason != conditions.ReasonRejectedByAgent {
			return false, fmt.Sprintf("ConfigGenerated %+v", c)
		}
		named = *c
		return true, ""
	})
	t.Logf("offender named after %s, %d canary runs: %s", time.Since(start).Round(100*time.Millisecond),
		cluster.canaries.Runs(s.name)-runsBefore, named.Message)
	if named.Status != metav1.ConditionFalse || !strings.Contains(named.Message, "could not parse proxy parameter: 'bogus'") {
		t.Errorf("ConfigGenerated = %s %q, want False with Fluent Bit's error line", named.Status, named.Message)
	}
	s.eventually(30*time.Second, "the refused output named too", func() (bool, string) {
		var co v1.ClusterLogOutput
		if err := s.k8s.Get(s.ctx, client.ObjectKey{Name: "canary-bad"}, &co); err != nil {
			return false, err.Error()
		}
		c := apimeta.FindStatusCondition(co.Status.Conditions, conditions.TypeConfigGenerated)
		return c != nil && c.Reason == conditions.ReasonRejectedByAgent && strings.Contains(c.Message, "could not parse proxy parameter"), fmt.Sprintf("%+v", c)
	})
	s.expectRoutes(want, 60*time.Second, 0)

	// The next good change goes out, as the agent's next rollout.
	start = time.Now()
	objs := s.apply(httpTenant("cn-50"))
	ds = s.waitForConfig(objs)
	t.Logf("the next good change written %s after it was applied", time.Since(start).Round(100*time.Millisecond))
	s.restartAgent(ds)
	apps["cn-50"] = s.app("cn-50", "app", map[string]string{"app": "app"}, "c")
	want["/cn-50"] = nil
	s.writeBatch(apps, want)
	got := s.expectRoutes(want, 90*time.Second, 3*time.Second)
	total := 0
	for _, tl := range got {
		total += tl.got
	}
	t.Logf("%d records delivered to %d tenants, none lost or duplicated", total, len(got))

	versions, bad := carried()
	t.Logf("the agent's configuration Secrets changed %d times", versions)
	if bad != "" {
		t.Errorf("a configuration Fluent Bit refuses was written for the agent: %s", bad)
	}
	if apimeta.IsStatusConditionTrue(s.conditionsOf(t, "cn-bad"), conditions.TypeConfigGenerated) {
		t.Error("the offender's status turned True")
	}
}

// conditionsOf returns the conditions of LogPipeline ns/logs.
func (s *scenario) conditionsOf(t *testing.T, ns string) []metav1.Condition {
	var lp v1.LogPipeline
	if err := s.k8s.Get(s.ctx, client.ObjectKey{Namespace: ns, Name: "logs"}, &lp); err != nil {
		t.Fatal(err)
	}
	return lp.Status.Conditions
}

// restartAgent stops the agent's pod and runs the DaemonSet's current pod in its place,
// as a rollout does; positions and buffers stay on the node.
func (s *scenario) restartAgent(ds *appsv1.DaemonSet) {
	s.t.Helper()
	if err := s.agent.Proc.Stop(15 * time.Second); err != nil {
		s.t.Fatal(err)
	}
	s.startAgent(ds)
}

// watchConfig watches the agent's Secrets and returns how many versions of its
// configuration were written, and the first that carried the refused setting.
func watchConfig(t *testing.T, s *scenario) func() (int, string) {
	t.Helper()
	cs, err := kubernetes.NewForConfig(cluster.env.Config)
	if err != nil {
		t.Fatal(err)
	}
	w, err := cs.CoreV1().Secrets(operatorNamespace).Watch(s.ctx, metav1.ListOptions{
		LabelSelector: agent.LabelAgent + "=" + s.name + "," + agent.LabelComponent + "=" + agent.ComponentAgent})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	versions, bad := 0, ""
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ev := range w.ResultChan() {
			sec, ok := ev.Object.(*corev1.Secret)
			if !ok || ev.Type == watch.Deleted || !strings.HasPrefix(sec.Name, agent.ResourceName(s.name)+"-config-") {
				continue
			}
			mu.Lock()
			versions++
			for _, data := range sec.Data {
				if bytes.Contains(data, []byte("bogus")) && bad == "" {
					bad = sec.Name + " " + sec.ResourceVersion
				}
			}
			mu.Unlock()
		}
	}()
	return func() (int, string) {
		w.Stop()
		<-done
		mu.Lock()
		defer mu.Unlock()
		return versions, bad
	}
}
