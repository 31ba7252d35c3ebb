package e2e

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/logplane/logplane/api/v1alpha1"
	"github.com/logplane/logplane/internal/agent"
	"github.com/logplane/logplane/internal/conditions"
	"github.com/logplane/logplane/internal/reloader"
	"github.com/logplane/logplane/internal/render"
	"github.com/logplane/logplane/test/fbrun"
	"github.com/logplane/logplane/test/localnode"
)

// The HotReload agent pod exactly as the operator writes it — fbexec installed by an
// init container, the reloader as a native sidecar staging the mounted Secret, Fluent
// Bit reading the reloader's copy — runs on a node whose kubelet restarts containers
// and follows the Secret. A ClusterLogPipeline tailing node files passes the canary
// (an empty directory) but fails on the node at plugin initialisation during the hot
// reload, because the node's positions database for those files is not a database:
// Fluent Bit exits, the reloader restores the previous files, the kubelet starts
// Fluent Bit again on them, and the tenants' records keep arriving. The LogAgent says
// ReloadRefused naming the node and Fluent Bit's error; the refused version is not
// tried again, not even by a restarted reloader; once the node is fixed, the next
// change is reloaded and the agent is healthy again.
func TestHotReloadRefusalIsRestoredOnTheNode(t *testing.T) {
	var err error
	const tenants = 2
	s := newScenarioWithoutAgent(t, "hotreload")
	// The reloader is the operator image's /logplane: built before anything waits.
	if s.node.Logplane, err = fbrun.BuildLogplane(); err != nil {
		t.Fatal(err)
	}
	// The kubelet's volume sync takes a minute or so on a real node; here a second, so
	// that the test spends its time on what the reloader and the operator do.
	s.node.SecretSync = time.Second
	s.apply(fmt.Sprintf(`apiVersion: logging.logplane.dev/v1alpha1
kind: LogAgent
metadata: {name: %s}
spec: {metricsPort: %d, configReload: HotReload}
`, s.name, s.port))
	tenant := func(i int) string { return httpTenant(fmt.Sprintf("hr-%02d", i)) }
	var manifests strings.Builder
	for i := range tenants {
		manifests.WriteString(tenant(i))
	}
	s.waitForPipelines(s.apply(manifests.String()))
	ds := s.agentDaemonSet()
	if ds.Spec.Template.Spec.InitContainers[len(ds.Spec.Template.Spec.InitContainers)-1].Name != agent.ReloaderContainer {
		t.Fatalf("the HotReload agent has no reloader: %+v", ds.Spec.Template.Spec.InitContainers)
	}
	pod, err := s.node.SuperviseDaemonSet(s.ctx, ds)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		pod.Stop()
		t.Logf("reloader log:\n%s", pod.Log(agent.ReloaderContainer))
		if t.Failed() || testing.Verbose() {
			t.Logf("Fluent Bit log:\n%s", pod.Log(render.AgentContainerName))
		}
	})
	s.eventually(60*time.Second, "the agent healthy", s.agentReason(conditions.ReasonAgentReady))

	apps := map[string]*localnode.App{}
	want := map[string][]entry{}
	addTenant := func(i int) {
		ns := fmt.Sprintf("hr-%02d", i)
		apps[ns] = s.app(ns, "app", map[string]string{"app": "app"}, "c")
		want["/"+ns] = nil
	}
	for i := range tenants {
		addTenant(i)
	}
	s.writeBatch(apps, want)
	s.expectRoutes(want, 60*time.Second, 0)
	healthy := s.reloaderStatus(t)
	count0 := s.hotReloadCount(t)

	// What only this node has: a positions database for the node files that is not a
	// database.
	junk := make([]byte, 8192)
	_, _ = rand.Read(junk)
	db := filepath.Join(s.node.Root, "var/lib/logplane", s.name, "hostfiles.db")
	if err := os.WriteFile(db, junk, 0o600); err != nil {
		t.Fatal(err)
	}
	runsBefore := cluster.canaries.Runs(s.name)
	t.Cleanup(func() {
		_ = s.k8s.Delete(s.ctx, &v1.ClusterLogPipeline{ObjectMeta: metav1.ObjectMeta{Name: "hotreload-node"}})
		_ = s.k8s.Delete(s.ctx, &v1.ClusterLogOutput{ObjectMeta: metav1.ObjectMeta{Name: "hotreload-node"}})
	})
	s.waitForPipelines(s.apply(nodeFilesPipeline("hotreload-node")))
	t.Logf("the node pipeline passed the canary (%d run) and was written to the Secret", cluster.canaries.Runs(s.name)-runsBefore)
	// The tenants keep writing while the reloader tries the new files.
	s.writeBatch(apps, want)

	var refused reloader.Status
	s.eventually(90*time.Second, "the reloader to refuse the new configuration", func() (bool, string) {
		refused = s.reloaderStatus(t)
		return refused.Refused != "", fmt.Sprintf("%+v", refused)
	})
	if refused.Running != healthy.Running || refused.Reason != reloader.ReasonExited || refused.AttemptedAt == nil {
		t.Fatalf("the reloader refused with %+v; want the previous version %s running again and reason %s", refused, healthy.Running, reloader.ReasonExited)
	}
	var cond metav1.Condition
	s.eventually(60*time.Second, "ReloadRefused on the LogAgent", func() (bool, string) {
		ok, why := s.agentReason(conditions.ReasonReloadRefused)()
		if ok {
			cond = s.agentCondition()
		}
		return ok, why
	})
	t.Logf("ReloadRefused %s after the refused reload began: %s", time.Since(*refused.AttemptedAt).Round(100*time.Millisecond), cond.Message)
	for _, want := range []string{"node " + s.node.Name, refused.Refused, "could not open/create database"} {
		if !strings.Contains(cond.Message, want) {
			t.Errorf("AgentHealthy lacks %q", want)
		}
	}
	if r := pod.Restarts(render.AgentContainerName); r == 0 {
		t.Errorf("Fluent Bit never exited on the refused configuration")
	}
	// Fluent Bit runs the previous files again, and delivers.
	s.eventually(60*time.Second, "Fluent Bit up on the restored configuration", func() (bool, string) {
		st := s.reloaderStatus(t)
		return st.Last != nil && st.Last.RestoredMillis > 0, fmt.Sprintf("%+v", st.Last)
	})
	if last := s.reloaderStatus(t).Last; last != nil {
		t.Logf("refused attempt: verdict %d ms after the reload request, Fluent Bit up on the previous files %d ms after the verdict",
			last.VerifiedMillis, last.RestoredMillis)
	}
	s.writeBatch(apps, want)
	s.expectRoutes(want, 60*time.Second, 0)

	// Not tried again: not after the debounce, and not by a reloader that restarts.
	refusals := func() int {
		return strings.Count(pod.Log(agent.ReloaderContainer), "Fluent Bit refused the new configuration")
	}
	fbRestarts := pod.Restarts(render.AgentContainerName)
	pod.Process(agent.ReloaderContainer).Kill()
	s.eventually(30*time.Second, "the reloader restarted", func() (bool, string) {
		return pod.Restarts(agent.ReloaderContainer) == 1 && s.reloaderUp(), "not yet"
	})
	time.Sleep(8 * time.Second) // longer than the reloader's debounce (5 s)
	if n, st := refusals(), s.reloaderStatus(t); n != 1 || st.Refused != refused.Refused || st.Running != healthy.Running {
		t.Errorf("after a restart of the reloader: %d refusals logged, status %+v; want the one refusal held back", n, st)
	}
	if r := pod.Restarts(render.AgentContainerName); r != fbRestarts {
		t.Errorf("Fluent Bit restarted %d more times after the refusal", r-fbRestarts)
	}
	if c := s.agentCondition(); c.Reason != conditions.ReasonReloadRefused {
		t.Errorf("AgentHealthy after the reloader restarted: %+v", c)
	}

	// A new pod on the node (the node rebooted, or the pod was replaced: a credentials
	// change rolls HotReload pods too) while the Secret still holds the refused
	// version: its emptyDir is new, and it must not start Fluent Bit on the refused
	// files, which fail on this node, but on those that ran here last.
	firstRestarts, firstRefusals := pod.Restarts(render.AgentContainerName), refusals()
	pod.Stop()
	s.writeBatch(apps, want)
	replaced := time.Now()
	if pod, err = s.node.SuperviseDaemonSet(s.ctx, s.agentDaemonSet()); err != nil {
		t.Fatal(err)
	}
	s.eventually(30*time.Second, "the new pod's reloader holding the refused version back", func() (bool, string) {
		st := s.reloaderStatus(t)
		return st.Refused == refused.Refused && st.Running == healthy.Running, fmt.Sprintf("%+v", st)
	})
	s.eventually(60*time.Second, "ReloadRefused for the new pod", func() (bool, string) {
		c := s.agentCondition()
		return c.Reason == conditions.ReasonReloadRefused && strings.Contains(c.Message, refused.Refused), c.Reason + ": " + c.Message
	})
	s.expectRoutes(want, 60*time.Second, 0)
	if r := pod.Restarts(render.AgentContainerName); r != 0 {
		t.Errorf("Fluent Bit of the new pod restarted %d times", r)
	}
	t.Logf("a new pod ran the configuration that ran on the node before, %s after it was created", time.Since(replaced).Round(100*time.Millisecond))

	// The node is fixed and the next change (one more tenant) goes out: Fluent Bit
	// reloads it, the formerly refused node pipeline included.
	if err := os.Remove(db); err != nil {
		t.Fatal(err)
	}
	changed := time.Now()
	s.waitForPipelines(s.apply(tenant(tenants)))
	s.eventually(90*time.Second, "the next change reloaded", func() (bool, string) {
		n := s.hotReloadCount(t)
		return n > count0, fmt.Sprintf("hot_reload_count %d", n)
	})
	reloaded := time.Since(changed)
	s.eventually(60*time.Second, "the agent healthy again", s.agentReason(conditions.ReasonAgentReady))
	t.Logf("the next change reloaded %s after it was applied, healthy %s after (Secret sync %s, reloader debounce 5s)",
		reloaded.Round(100*time.Millisecond), time.Since(changed).Round(100*time.Millisecond), s.node.SecretSync)
	if st := s.reloaderStatus(t); st.Refused != "" || st.Last == nil || st.Last.Outcome != reloader.Applied {
		t.Errorf("reloader after the good change: %+v", st)
	} else {
		t.Logf("applied attempt: hot_reload_count rose %d ms after the reload request, verified after %d ms", st.Last.ReloadedMillis, st.Last.VerifiedMillis)
	}
	addTenant(tenants)
	s.writeBatch(apps, want)
	got := s.expectRoutes(want, 60*time.Second, 3*time.Second)
	total := 0
	for _, tl := range got {
		total += tl.got
	}
	t.Logf("%d records delivered to %d tenants across the refused reload and the replaced pod; the first pod's Fluent Bit restarted %d times and its reloader refused %d reload, the new pod's Fluent Bit restarted %d times",
		total, len(got), firstRestarts, firstRefusals, pod.Restarts(render.AgentContainerName))
}

func (s *scenario) agentDaemonSet() *appsv1.DaemonSet {
	s.t.Helper()
	ds := &appsv1.DaemonSet{}
	if err := s.k8s.Get(s.ctx, client.ObjectKey{Namespace: operatorNamespace, Name: agent.ResourceName(s.name)}, ds); err != nil {
		s.t.Fatal(err)
	}
	return ds
}

func (s *scenario) agentCondition() metav1.Condition {
	var la v1.LogAgent
	if err := s.k8s.Get(s.ctx, client.ObjectKey{Name: s.name}, &la); err != nil {
		return metav1.Condition{Message: err.Error()}
	}
	if c := apimeta.FindStatusCondition(la.Status.Conditions, conditions.TypeAgentHealthy); c != nil {
		return *c
	}
	return metav1.Condition{}
}

// agentReason is a condition for eventually: the LogAgent's AgentHealthy has reason.
func (s *scenario) agentReason(reason string) func() (bool, string) {
	return func() (bool, string) {
		c := s.agentCondition()
		return c.Reason == reason, fmt.Sprintf("AgentHealthy %s %s: %s", c.Status, c.Reason, c.Message)
	}
}

// reloaderPort is the status port the operator wrote for the agent's reloader.
func (s *scenario) reloaderURL() string {
	ds := s.agentDaemonSet()
	for _, c := range ds.Spec.Template.Spec.InitContainers {
		for _, p := range c.Ports {
			if c.Name == agent.ReloaderContainer && p.Name == agent.ReloaderPortName {
				return fmt.Sprintf("http://%s:%d%s", s.node.IP, p.ContainerPort, reloader.StatusPath)
			}
		}
	}
	s.t.Fatal("the agent has no reloader port")
	return ""
}

func (s *scenario) reloaderUp() bool {
	resp, err := http.Get(s.reloaderURL())
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// reloaderStatus is what the reloader tells the operator.
func (s *scenario) reloaderStatus(t *testing.T) reloader.Status {
	t.Helper()
	var st reloader.Status
	s.getJSON(t, s.reloaderURL(), &st)
	return st
}

// hotReloadCount is Fluent Bit's hot_reload_count.
func (s *scenario) hotReloadCount(t *testing.T) int {
	t.Helper()
	var v struct {
		Count int `json:"hot_reload_count"`
	}
	s.getJSON(t, fmt.Sprintf("http://%s:%d/api/v2/reload", s.node.IP, s.port), &v)
	return v.Count
}

// getJSON reads url, retrying while it does not answer (a container restarting).
func (s *scenario) getJSON(t *testing.T, url string, into any) {
	t.Helper()
	s.eventually(30*time.Second, url, func() (bool, string) {
		resp, err := http.Get(url)
		if err != nil {
			return false, err.Error()
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return false, resp.Status
		}
		if err := json.NewDecoder(resp.Body).Decode(into); err != nil {
			return false, err.Error()
		}
		return true, ""
	})
}
