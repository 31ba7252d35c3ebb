package e2e

import (
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/logplane/logplane/api/v1alpha1"
	"github.com/logplane/logplane/internal/agent"
	"github.com/logplane/logplane/internal/conditions"
	agentreconciler "github.com/logplane/logplane/internal/reconciler/agent"
	"github.com/logplane/logplane/test/localnode"
)

// A ClusterLogPipeline that tails node files passes the canary (an empty directory)
// but cannot start on the node, whose positions database for those files is not a
// database: the node's agent pod crash-loops with it, the operator rolls the agent
// back to the configuration that ran healthy before, names the node, the failed
// configuration and Fluent Bit's error in AgentHealthy=False (RolledBack) on the
// LogAgent and its pipelines, does not roll the failed configuration out again, and
// the tenants' records, written while the agent was down, all arrive.
func TestRollbackKeepsANodeLocalFailureOffTheNode(t *testing.T) {
	const tenants = 3
	s := newScenario(t, "rollback")
	var manifests strings.Builder
	for i := range tenants {
		manifests.WriteString(httpTenant(fmt.Sprintf("rb-%02d", i)))
	}
	ds := s.waitForConfig(s.apply(manifests.String()))
	healthy := ds.Spec.Template.Annotations[agent.AnnotationConfig]
	s.startAgent(ds)
	s.eventually(30*time.Second, "the healthy configuration saved", func() (bool, string) {
		err := s.k8s.Get(s.ctx, client.ObjectKey{Namespace: operatorNamespace, Name: agentreconciler.LastHealthySecretName(s.name, 0)}, &corev1.Secret{})
		return err == nil, fmt.Sprint(err)
	})
	apps := map[string]*localnode.App{}
	want := map[string][]entry{}
	for i := range tenants {
		ns := fmt.Sprintf("rb-%02d", i)
		apps[ns] = s.app(ns, "app", map[string]string{"app": "app"}, "c")
		want["/"+ns] = nil
	}
	s.writeBatch(apps, want)
	s.expectRoutes(want, 60*time.Second, 0)

	// What only this node has: a positions database for the node files that is not
	// a database.
	junk := make([]byte, 8192)
	_, _ = rand.Read(junk)
	if err := os.WriteFile(filepath.Join(s.node.Root, "var/lib/logplane", s.name, "hostfiles.db"), junk, 0o600); err != nil {
		t.Fatal(err)
	}
	runsBefore := cluster.canaries.Runs(s.name)
	dsN := s.waitForConfig(s.apply(nodeFilesPipeline("rollback-node")))
	t.Cleanup(func() {
		_ = s.k8s.Delete(s.ctx, &v1.ClusterLogPipeline{ObjectMeta: metav1.ObjectMeta{Name: "rollback-node"}})
		_ = s.k8s.Delete(s.ctx, &v1.ClusterLogOutput{ObjectMeta: metav1.ObjectMeta{Name: "rollback-node"}})
	})
	failing := dsN.Spec.Template.Annotations[agent.AnnotationConfig]
	if failing == healthy {
		t.Fatal("the node pipeline did not change the configuration")
	}
	t.Logf("the node pipeline passed the canary (%d run) and was written", cluster.canaries.Runs(s.name)-runsBefore)

	// The rollout reaches the node: its pod restarts with the new configuration,
	// while the tenants keep writing.
	if err := s.agent.Proc.Stop(15 * time.Second); err != nil {
		t.Fatal(err)
	}
	s.writeBatch(apps, want)
	a, err := s.node.StartDaemonSet(s.ctx, dsN)
	if err != nil {
		t.Fatal(err)
	}
	if done, _ := a.Proc.Exited(); !done {
		t.Fatalf("Fluent Bit runs the configuration on the node:\n%s", a.Proc.Log())
	}
	crashed := time.Now()
	var cond metav1.Condition
	var dsH *appsv1.DaemonSet
	s.eventually(60*time.Second, "the agent rolled back", func() (bool, string) {
		dsH = &appsv1.DaemonSet{}
		if err := s.k8s.Get(s.ctx, client.ObjectKeyFromObject(ds), dsH); err != nil {
			return false, err.Error()
		}
		var la v1.LogAgent
		if err := s.k8s.Get(s.ctx, client.ObjectKey{Name: s.name}, &la); err != nil {
			return false, err.Error()
		}
		c := apimeta.FindStatusCondition(la.Status.Conditions, conditions.TypeAgentHealthy)
		if c == nil || c.Reason != conditions.ReasonRolledBack || dsH.Spec.Template.Annotations[agent.AnnotationConfig] != healthy {
			return false, fmt.Sprintf("template %s, AgentHealthy %+v", dsH.Spec.Template.Annotations[agent.AnnotationConfig], c)
		}
		cond = *c
		return true, ""
	})
	t.Logf("rolled back %s after the pod failed: %s", time.Since(crashed).Round(100*time.Millisecond), cond.Message)
	for _, want := range []string{"node " + s.node.Name, failing, healthy, "could not open/create database"} {
		if !strings.Contains(cond.Message, want) {
			t.Errorf("AgentHealthy lacks %q", want)
		}
	}
	s.eventually(30*time.Second, "the pipelines see the rollback", func() (bool, string) {
		c := apimeta.FindStatusCondition(s.conditionsOf(t, "rb-00"), conditions.TypeAgentHealthy)
		return c != nil && c.Reason == conditions.ReasonRolledBack, fmt.Sprintf("%+v", c)
	})

	// The node runs the healthy configuration again and delivers what was written
	// meanwhile, none lost.
	s.startAgent(dsH)
	s.writeBatch(apps, want)
	got := s.expectRoutes(want, 60*time.Second, 3*time.Second)
	total := 0
	for _, tl := range got {
		total += tl.got
	}
	t.Logf("%d records delivered to %d tenants across the failed rollout, none lost or duplicated", total, len(got))

	// Not tried again: the template keeps the healthy hash.
	for range 10 {
		time.Sleep(500 * time.Millisecond)
		var cur appsv1.DaemonSet
		if err := s.k8s.Get(s.ctx, client.ObjectKeyFromObject(ds), &cur); err != nil {
			t.Fatal(err)
		}
		if h := cur.Spec.Template.Annotations[agent.AnnotationConfig]; h != healthy {
			t.Fatalf("the agent's template changed to %s after the rollback", h)
		}
	}

	// Something changes (the node pipeline goes): the agent is healthy again.
	if err := s.k8s.Delete(s.ctx, &v1.ClusterLogPipeline{ObjectMeta: metav1.ObjectMeta{Name: "rollback-node"}}); err != nil {
		t.Fatal(err)
	}
	s.eventually(30*time.Second, "the rollback cleared", func() (bool, string) {
		var la v1.LogAgent
		if err := s.k8s.Get(s.ctx, client.ObjectKey{Name: s.name}, &la); err != nil {
			return false, err.Error()
		}
		c := apimeta.FindStatusCondition(la.Status.Conditions, conditions.TypeAgentHealthy)
		return c != nil && c.Reason == conditions.ReasonAgentReady, fmt.Sprintf("%+v", c)
	})
}
