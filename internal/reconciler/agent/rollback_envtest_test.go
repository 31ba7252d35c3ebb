package agent_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	v1 "github.com/logplane/logplane/api/v1alpha1"
	agentobjects "github.com/logplane/logplane/internal/agent"
	"github.com/logplane/logplane/internal/alias"
	"github.com/logplane/logplane/internal/conditions"
	"github.com/logplane/logplane/internal/reconciler/agent"
	"github.com/logplane/logplane/internal/render"
	"github.com/logplane/logplane/internal/status"
)

func ensureNamespace(t *testing.T, name string) {
	t.Helper()
	err := k8s.Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
}

// agentTenant is a tenant whose pipeline runs on the named agent.
func agentTenant(t *testing.T, agentName, ns string) {
	t.Helper()
	ensureNamespace(t, ns)
	for _, obj := range []client.Object{
		&v1.LogOutput{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "out"},
			Spec: v1.OutputSpec{Type: v1.OutputHTTP, HTTP: &v1.HTTPOutput{Host: v1.Host(ns + ".example"), Port: 443}}},
		&v1.LogPipeline{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "logs"},
			Spec: v1.LogPipelineSpec{Agent: v1.AgentName(agentName), Input: v1.LogPipelineInput{Containers: &v1.ContainerSelection{}},
				OutputRefs: []v1.ResourceName{"out"}}},
	} {
		if err := k8s.Create(context.Background(), obj); err != nil {
			t.Fatal(err)
		}
	}
}

// reconcileAgent reconciles the agent until no canary is waited for.
func reconcileAgent(t *testing.T, r *agent.Reconciler, name string) reconcile.Result {
	t.Helper()
	for range 200 {
		res, err := r.Reconcile(context.Background(), reconcile.Request{NamespacedName: types.NamespacedName{Name: name}})
		if err != nil {
			t.Fatal(err)
		}
		if res.RequeueAfter == 0 || res.RequeueAfter >= 30*time.Second || res.RequeueAfter > time.Second {
			return res
		}
	}
	t.Fatal("the agent does not settle")
	return reconcile.Result{}
}

// templateHash is the configuration hash on the agent's pod template.
func templateHash(t *testing.T, agentName string) string {
	t.Helper()
	var ds appsv1.DaemonSet
	if err := k8s.Get(context.Background(), client.ObjectKey{Namespace: operatorNamespace, Name: agentobjects.ResourceName(agentName)}, &ds); err != nil {
		t.Fatal(err)
	}
	return ds.Spec.Template.Annotations[agentobjects.AnnotationConfig]
}

// mainConfig is what the agent's main configuration Secret holds.
func mainConfig(t *testing.T, agentName string) string {
	t.Helper()
	var s corev1.Secret
	name := agentobjects.ConfigSecretName(agentobjects.ResourceName(agentName), render.MainFile)
	if err := k8s.Get(context.Background(), client.ObjectKey{Namespace: operatorNamespace, Name: name}, &s); err != nil {
		t.Fatal(err)
	}
	return string(s.Data[render.MainFile])
}

// nodeState is what one node's agent pod shows.
type nodeState int

const (
	podReady nodeState = iota
	podCrashLooping
)

// runNodes plays the DaemonSet controller and the kubelets: one agent pod per node
// runs the template's current hash, in the state given for the node; a crash-looping
// pod's termination message is a real Fluent Bit log tail. It returns the hash.
func runNodes(t *testing.T, agentName string, nodes map[string]nodeState) string {
	t.Helper()
	ctx := context.Background()
	fbLog, err := os.ReadFile("../../canary/testdata/corrupt-tail-db.log")
	if err != nil {
		t.Fatal(err)
	}
	var ds appsv1.DaemonSet
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: operatorNamespace, Name: agentobjects.ResourceName(agentName)}, &ds); err != nil {
		t.Fatal(err)
	}
	hash := ds.Spec.Template.Annotations[agentobjects.AnnotationConfig]
	var ready int32
	for node, state := range nodes {
		name := agentobjects.ResourceName(agentName) + "-" + node
		old := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: operatorNamespace, Name: name}}
		if err := k8s.Delete(ctx, old, client.GracePeriodSeconds(0)); err != nil && !apierrors.IsNotFound(err) {
			t.Fatal(err)
		}
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: operatorNamespace, Name: name,
			Labels:      map[string]string{agentobjects.LabelAgent: agentName, agentobjects.LabelComponent: agentobjects.ComponentAgent},
			Annotations: map[string]string{agentobjects.AnnotationConfig: hash}},
			Spec: corev1.PodSpec{NodeName: node, Containers: []corev1.Container{{Name: render.AgentContainerName, Image: "fluent-bit"}}}}
		for {
			err := k8s.Create(ctx, pod)
			if err == nil {
				break
			}
			if !apierrors.IsAlreadyExists(err) {
				t.Fatal(err)
			}
			time.Sleep(10 * time.Millisecond) // the old pod is still going
		}
		now := metav1.Now()
		cs := corev1.ContainerStatus{Name: render.AgentContainerName, Image: "fluent-bit", ImageID: "fluent-bit"}
		switch state {
		case podReady:
			ready++
			cs.Ready = true
			cs.State.Running = &corev1.ContainerStateRunning{StartedAt: now}
		case podCrashLooping:
			cs.RestartCount = 3
			cs.State.Waiting = &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}
			cs.LastTerminationState.Terminated = &corev1.ContainerStateTerminated{ExitCode: 255, Reason: "Error",
				Message: string(fbLog), StartedAt: now, FinishedAt: now}
		}
		pod.Status = corev1.PodStatus{Phase: corev1.PodRunning, ContainerStatuses: []corev1.ContainerStatus{cs}}
		if err := k8s.Status().Update(ctx, pod); err != nil {
			t.Fatal(err)
		}
	}
	n := int32(len(nodes))
	ds.Status = appsv1.DaemonSetStatus{ObservedGeneration: ds.Generation, DesiredNumberScheduled: n, CurrentNumberScheduled: n,
		UpdatedNumberScheduled: n, NumberReady: ready, NumberAvailable: ready}
	if err := k8s.Status().Update(ctx, &ds); err != nil {
		t.Fatal(err)
	}
	// The reconciler reads the cache-less test client: nothing to wait for.
	return hash
}

func agentCondition(t *testing.T, agentName string) metav1.Condition {
	t.Helper()
	var a v1.LogAgent
	if err := k8s.Get(context.Background(), client.ObjectKey{Name: agentName}, &a); err != nil {
		t.Fatal(err)
	}
	c := meta.FindStatusCondition(a.Status.Conditions, conditions.TypeAgentHealthy)
	if c == nil {
		t.Fatal("the LogAgent has no AgentHealthy condition")
	}
	return *c
}

// A configuration that the canary passes but that fails on one node after its
// rollout is rolled back to the last configuration that ran healthy: the nodes get
// its files again and its hash on the pod template (also when rollout pacing would
// hold it), the LogAgent and its pipelines say RolledBack with the node, the failed
// hash and Fluent Bit's error; the failed configuration is not rolled out again,
// also not by a restarted operator; the next change goes out normally. With the
// canary off (no Prover) the same holds.
func TestRollbackToLastHealthy(t *testing.T) {
	for _, tc := range []struct {
		name, agent string
		canary      bool
	}{
		{"with the canary", "edge", true},
		{"without the canary", "plain", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			ensureNamespace(t, operatorNamespace)
			if err := k8s.Create(ctx, &v1.LogAgent{ObjectMeta: metav1.ObjectMeta{Name: tc.agent}}); err != nil {
				t.Fatal(err)
			}
			newReconciler := func() (*agent.Reconciler, *status.Board, *fakeProver) {
				board := status.NewBoard()
				var prover *fakeProver
				r := &agent.Reconciler{Client: k8s, Secrets: k8s, Namespace: operatorNamespace, Renderer: render.NewRenderer(),
					Board: board, Rollouts: &agent.Rollouts{Interval: time.Hour}}
				if tc.canary {
					prover = &fakeProver{marker: "never-refused", seen: map[string]bool{}}
					r.Prover = prover
				}
				return r, board, prover
			}
			r, board, prover := newReconciler()
			nodes := map[string]nodeState{"node-1": podReady, "node-2": podReady}

			// The first configuration rolls out and runs healthy everywhere: it is saved.
			agentTenant(t, tc.agent, tc.agent+"-a")
			reconcileAgent(t, r, tc.agent)
			healthy := runNodes(t, tc.agent, nodes)
			reconcileAgent(t, r, tc.agent)
			healthyConfig := mainConfig(t, tc.agent)
			var saved corev1.Secret
			if err := k8s.Get(ctx, client.ObjectKey{Namespace: operatorNamespace, Name: agent.LastHealthySecretName(tc.agent, 0)}, &saved); err != nil {
				t.Fatalf("the healthy configuration was not saved: %v", err)
			}
			if c := agentCondition(t, tc.agent); c.Reason != conditions.ReasonAgentReady {
				t.Fatalf("healthy agent: %s %q", c.Reason, c.Message)
			}

			// A change passes the canary and rolls out; node-2 cannot run it.
			agentTenant(t, tc.agent, tc.agent+"-b")
			reconcileAgent(t, r, tc.agent)
			failing := templateHash(t, tc.agent)
			if failing == healthy || !strings.Contains(mainConfig(t, tc.agent), tc.agent+"-b.example") {
				t.Fatal("the change did not roll out")
			}
			if tc.canary && prover.runs != 2 {
				t.Errorf("%d canary runs; want 2", prover.runs)
			}
			nodes["node-2"] = podCrashLooping
			runNodes(t, tc.agent, nodes)
			reconcileAgent(t, r, tc.agent)

			if got := templateHash(t, tc.agent); got != healthy {
				t.Fatalf("pod template after the failure: %s; want the healthy %s (failed: %s)", got, healthy, failing)
			}
			if mainConfig(t, tc.agent) != healthyConfig {
				t.Fatal("the configuration Secret does not hold the healthy configuration again")
			}
			c := agentCondition(t, tc.agent)
			t.Logf("LogAgent: %s %s: %s", c.Status, c.Reason, c.Message)
			for _, want := range []string{"node node-2", failing, healthy, "[input:tail:tail.0] could not open/create database"} {
				if c.Status != metav1.ConditionFalse || c.Reason != conditions.ReasonRolledBack || !strings.Contains(c.Message, want) {
					t.Errorf("LogAgent AgentHealthy lacks %q: %s %s %q", want, c.Status, c.Reason, c.Message)
				}
			}
			for _, ns := range []string{tc.agent + "-a", tc.agent + "-b"} {
				e, _ := board.Get(render.Ref{Kind: alias.LogPipeline, Namespace: ns, Name: "logs"})
				if e.Health == nil || e.Health.Reason != conditions.ReasonRolledBack || !strings.Contains(e.Health.Message, "node-2") {
					t.Errorf("pipeline %s: AgentHealthy %+v", ns, e.Health)
				}
			}
			if err := k8s.Get(ctx, client.ObjectKeyFromObject(&saved), &saved); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(saved.Annotations[agent.AnnotationFailedRollouts], failing) {
				t.Errorf("the failed rollout is not recorded: %q", saved.Annotations[agent.AnnotationFailedRollouts])
			}

			// The nodes run the healthy configuration again; the failed one is not
			// tried again, by this operator or a restarted one.
			nodes["node-2"] = podReady
			runNodes(t, tc.agent, nodes)
			for range 3 {
				reconcileAgent(t, r, tc.agent)
			}
			r2, board2, _ := newReconciler()
			reconcileAgent(t, r2, tc.agent)
			if got := templateHash(t, tc.agent); got != healthy {
				t.Fatalf("the failed configuration went out again: %s", got)
			}
			if c := agentCondition(t, tc.agent); c.Reason != conditions.ReasonRolledBack || strings.Contains(c.Message, "Its pods") {
				t.Errorf("after the rollback, restarted: %s %q", c.Reason, c.Message)
			}
			if e, _ := board2.Get(render.Ref{Kind: alias.LogPipeline, Namespace: tc.agent + "-b", Name: "logs"}); e.Health == nil ||
				e.Health.Reason != conditions.ReasonRolledBack {
				t.Errorf("restarted: pipeline AgentHealthy %+v", e.Health)
			}

			// Something changes: it goes out normally, after pacing (the last rollout,
			// the rollback, was just now).
			agentTenant(t, tc.agent, tc.agent+"-c")
			res := reconcileAgent(t, r2, tc.agent)
			if got := templateHash(t, tc.agent); got != healthy || res.RequeueAfter == 0 {
				t.Errorf("a change within the pacing interval after a rollback: template %s, requeue %v; want the healthy hash held", got, res.RequeueAfter)
			}
			r2.Rollouts.Interval = 0
			reconcileAgent(t, r2, tc.agent)
			next := templateHash(t, tc.agent)
			if next == healthy || next == failing || !strings.Contains(mainConfig(t, tc.agent), tc.agent+"-c.example") {
				t.Fatalf("the next change did not go out: %s", next)
			}
			runNodes(t, tc.agent, nodes)
			reconcileAgent(t, r2, tc.agent)
			if c := agentCondition(t, tc.agent); c.Reason != conditions.ReasonAgentReady {
				t.Errorf("after the next change ran healthy: %s %q", c.Reason, c.Message)
			}
		})
	}
}

// The first configuration an agent ever runs has nothing to go back to: it stays,
// and the agent's health names the node and Fluent Bit's error.
func TestNoRollbackWithoutAHealthyConfiguration(t *testing.T) {
	ensureNamespace(t, operatorNamespace)
	if err := k8s.Create(context.Background(), &v1.LogAgent{ObjectMeta: metav1.ObjectMeta{Name: "fresh"}}); err != nil {
		t.Fatal(err)
	}
	agentTenant(t, "fresh", "fresh-a")
	r := &agent.Reconciler{Client: k8s, Secrets: k8s, Namespace: operatorNamespace, Renderer: render.NewRenderer(), Board: status.NewBoard()}
	reconcileAgent(t, r, "fresh")
	first := runNodes(t, "fresh", map[string]nodeState{"node-1": podReady, "node-2": podCrashLooping})
	reconcileAgent(t, r, "fresh")
	if got := templateHash(t, "fresh"); got != first {
		t.Errorf("template %s; want the first configuration %s kept", got, first)
	}
	c := agentCondition(t, "fresh")
	t.Logf("LogAgent: %s %s: %s", c.Status, c.Reason, c.Message)
	if c.Reason != conditions.ReasonAgentNotReady || !strings.Contains(c.Message, "node-2") ||
		!strings.Contains(c.Message, "could not open/create database") {
		t.Errorf("AgentHealthy: %s %q", c.Reason, c.Message)
	}
	err := k8s.Get(context.Background(), client.ObjectKey{Namespace: operatorNamespace, Name: agent.LastHealthySecretName("fresh", 0)}, &corev1.Secret{})
	if !apierrors.IsNotFound(err) {
		t.Errorf("a last-healthy Secret exists for an agent that never ran healthy: %v", err)
	}
}

// Once the node is fixed, removing the failed rollouts from the last-healthy Secret
// retries the configuration that failed; when it then runs healthy, it is the one
// saved.
func TestRetryAfterTheFailedRolloutsAreCleared(t *testing.T) {
	ctx := context.Background()
	const name = "retry"
	ensureNamespace(t, operatorNamespace)
	if err := k8s.Create(ctx, &v1.LogAgent{ObjectMeta: metav1.ObjectMeta{Name: name}}); err != nil {
		t.Fatal(err)
	}
	r := &agent.Reconciler{Client: k8s, Secrets: k8s, Namespace: operatorNamespace, Renderer: render.NewRenderer(), Board: status.NewBoard()}
	agentTenant(t, name, name+"-a")
	reconcileAgent(t, r, name)
	healthy := runNodes(t, name, map[string]nodeState{"node-1": podReady, "node-2": podReady})
	reconcileAgent(t, r, name)
	agentTenant(t, name, name+"-b")
	reconcileAgent(t, r, name)
	failing := runNodes(t, name, map[string]nodeState{"node-1": podReady, "node-2": podCrashLooping})
	reconcileAgent(t, r, name)
	if got := templateHash(t, name); got != healthy || failing == healthy {
		t.Fatalf("not rolled back: template %s, healthy %s, failing %s", got, healthy, failing)
	}
	runNodes(t, name, map[string]nodeState{"node-1": podReady, "node-2": podReady})
	reconcileAgent(t, r, name)

	// The node is fixed; the platform team clears the record.
	saved := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: operatorNamespace, Name: agent.LastHealthySecretName(name, 0)}}
	patch := []byte(`{"metadata":{"annotations":{"` + agent.AnnotationFailedRollouts + `":null}}}`)
	if err := k8s.Patch(ctx, saved, client.RawPatch(types.MergePatchType, patch)); err != nil {
		t.Fatal(err)
	}
	reconcileAgent(t, r, name)
	if got := templateHash(t, name); got != failing {
		t.Fatalf("after clearing the record: template %s; want the retried %s", got, failing)
	}
	if c := agentCondition(t, name); c.Reason == conditions.ReasonRolledBack {
		t.Errorf("still RolledBack after the retry: %q", c.Message)
	}
	runNodes(t, name, map[string]nodeState{"node-1": podReady, "node-2": podReady})
	reconcileAgent(t, r, name)
	if c := agentCondition(t, name); c.Reason != conditions.ReasonAgentReady {
		t.Errorf("the retried configuration runs healthy: %s %q", c.Reason, c.Message)
	}
	if err := k8s.Get(ctx, client.ObjectKeyFromObject(saved), saved); err != nil {
		t.Fatal(err)
	}
	if a, ok := saved.Annotations[agent.AnnotationFailedRollouts]; !ok || strings.Contains(a, failing) {
		t.Errorf("after the retry ran healthy, failed rollouts %q (present: %v)", a, ok)
	}
}
