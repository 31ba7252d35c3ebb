package integration

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/logplane/logplane/api/v1alpha1"
	agentobjects "github.com/logplane/logplane/internal/agent"
	"github.com/logplane/logplane/internal/alias"
	"github.com/logplane/logplane/internal/conditions"
)

const controllerNamespace = "team-ctrl"

// eventually polls check until it returns nil or the deadline passes.
func eventually(t *testing.T, what string, check func() error) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	var err error
	for time.Now().Before(deadline) {
		if err = check(); err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s: %v", what, err)
}

type errString string

func (e errString) Error() string { return string(e) }

// agentConfig returns the default agent's main configuration file.
func agentConfig(ctx context.Context) (string, *corev1.Secret, error) {
	var s corev1.Secret
	key := client.ObjectKey{Namespace: operatorNamespace, Name: agentobjects.ResourceName(v1.DefaultAgentName) + "-config-0"}
	if err := k8s.Get(ctx, key, &s); err != nil {
		return "", nil, err
	}
	return string(s.Data["fluent-bit.yaml"]), &s, nil
}

// waitForWarning waits for a Warning event with reason about the object namespace/name.
func waitForWarning(t *testing.T, namespace, name, reason string) {
	t.Helper()
	eventually(t, "Warning event "+reason+" on "+name, func() error {
		var events eventsv1.EventList
		if err := k8s.List(t.Context(), &events, client.InNamespace(namespace)); err != nil {
			return err
		}
		for _, e := range events.Items {
			if e.Regarding.Name == name && e.Type == "Warning" && e.Reason == reason {
				return nil
			}
		}
		return errString("no event yet")
	})
}

// waitForCondition waits until pipeline name in the controller namespace has a
// condition of type condType with status (and reason, unless empty) that describes
// its current generation.
func waitForCondition(t *testing.T, name, condType string, status metav1.ConditionStatus, reason string) {
	t.Helper()
	eventually(t, name+" "+condType+"="+string(status), func() error {
		c, gen, err := pipelineCondition(t.Context(), name, condType)
		if err != nil {
			return err
		}
		if c.Status != status || reason != "" && c.Reason != reason || c.ObservedGeneration != gen {
			return errString(fmt.Sprintf("%s=%s reason %s for generation %d of %d", condType, c.Status, c.Reason, c.ObservedGeneration, gen))
		}
		return nil
	})
}

func pipelineCondition(ctx context.Context, name, condType string) (*metav1.Condition, int64, error) {
	var p v1.LogPipeline
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: controllerNamespace, Name: name}, &p); err != nil {
		return nil, 0, err
	}
	c := meta.FindStatusCondition(p.Status.Conditions, condType)
	if c == nil {
		return nil, p.Generation, errString("no " + condType + " condition yet")
	}
	return c, p.Generation, nil
}

func TestAgentReconcilerEndToEnd(t *testing.T) {
	ctx := t.Context()
	ensureNamespace(t, controllerNamespace)
	out := &v1.LogOutput{ObjectMeta: metav1.ObjectMeta{Namespace: controllerNamespace, Name: "debug"},
		Spec: v1.OutputSpec{Type: v1.OutputStdout, Stdout: &v1.StdoutOutput{}}}
	good := &v1.LogPipeline{ObjectMeta: metav1.ObjectMeta{Namespace: controllerNamespace, Name: "good"},
		Spec: v1.LogPipelineSpec{Input: v1.LogPipelineInput{Containers: &v1.ContainerSelection{}}, OutputRefs: []v1.ResourceName{"debug"}}}
	broken := &v1.LogPipeline{ObjectMeta: metav1.ObjectMeta{Namespace: controllerNamespace, Name: "broken"},
		Spec: v1.LogPipelineSpec{Input: v1.LogPipelineInput{Containers: &v1.ContainerSelection{}}, OutputRefs: []v1.ResourceName{"missing"}}}
	for _, o := range []client.Object{out, good, broken} {
		if err := k8s.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	goodAlias := alias.Output{PipelineKind: alias.LogPipeline, Namespace: controllerNamespace, Pipeline: "good",
		OutputKind: alias.LogOutput, Output: "debug"}.Encode()

	t.Run("the configuration carries the valid pipeline and the DaemonSet runs it", func(t *testing.T) {
		eventually(t, "config Secret with the pipeline", func() error {
			cfg, _, err := agentConfig(ctx)
			if err != nil {
				return err
			}
			if !strings.Contains(cfg, goodAlias) {
				return errString("pipeline not in config yet")
			}
			return nil
		})
		var ds appsv1.DaemonSet
		eventually(t, "DaemonSet", func() error {
			return k8s.Get(ctx, client.ObjectKey{Namespace: operatorNamespace, Name: agentobjects.ResourceName("default")}, &ds)
		})
		if ds.Spec.Template.Annotations[agentobjects.AnnotationConfig] == "" {
			t.Error("pod template has no config hash")
		}
	})

	t.Run("each pipeline reports its own ConfigGenerated with observedGeneration", func(t *testing.T) {
		waitForCondition(t, "good", conditions.TypeConfigGenerated, metav1.ConditionTrue, "")
		waitForCondition(t, "broken", conditions.TypeConfigGenerated, metav1.ConditionFalse, conditions.ReasonOutputNotFound)
	})

	t.Run("without a kubelet the agent is not healthy, and pipelines say so", func(t *testing.T) {
		waitForCondition(t, "good", conditions.TypeAgentHealthy, metav1.ConditionFalse, conditions.ReasonAgentNotReady)
		waitForCondition(t, "good", conditions.TypeReady, metav1.ConditionFalse, conditions.ReasonAgentNotReady)
		// Nor can its flow be measured; that alone would not hold Ready back.
		waitForCondition(t, "good", conditions.TypeFlowHealthy, metav1.ConditionUnknown, conditions.ReasonProbingFailed)

	})

	t.Run("an output lists the pipelines that use it", func(t *testing.T) {
		eventually(t, "output status", func() error {
			var o v1.LogOutput
			if err := k8s.Get(ctx, client.ObjectKeyFromObject(out), &o); err != nil {
				return err
			}
			if o.Status.PipelineCount != 1 || len(o.Status.Pipelines) != 1 || o.Status.Pipelines[0].Name != "good" {
				return errString("pipelines not listed yet")
			}
			return nil
		})
	})

	t.Run("a resync that renders the same configuration writes nothing", func(t *testing.T) {
		_, before, err := agentConfig(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var ds appsv1.DaemonSet
		if err := k8s.Get(ctx, client.ObjectKey{Namespace: operatorNamespace, Name: agentobjects.ResourceName("default")}, &ds); err != nil {
			t.Fatal(err)
		}
		var p v1.LogPipeline
		if err := k8s.Get(ctx, client.ObjectKeyFromObject(good), &p); err != nil {
			t.Fatal(err)
		}
		// A namespace label change queues every agent; nothing it selects changes.
		var ns corev1.Namespace
		if err := k8s.Get(ctx, client.ObjectKey{Name: controllerNamespace}, &ns); err != nil {
			t.Fatal(err)
		}
		ns.Labels["touched"] = "yes"
		if err := k8s.Update(ctx, &ns); err != nil {
			t.Fatal(err)
		}
		time.Sleep(2 * time.Second)
		_, after, err := agentConfig(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var dsAfter appsv1.DaemonSet
		if err := k8s.Get(ctx, client.ObjectKeyFromObject(&ds), &dsAfter); err != nil {
			t.Fatal(err)
		}
		var pAfter v1.LogPipeline
		if err := k8s.Get(ctx, client.ObjectKeyFromObject(good), &pAfter); err != nil {
			t.Fatal(err)
		}
		if before.ResourceVersion != after.ResourceVersion || ds.ResourceVersion != dsAfter.ResourceVersion ||
			p.ResourceVersion != pAfter.ResourceVersion {
			t.Errorf("no-op reconcile wrote: secret %s→%s, daemonset %s→%s, pipeline %s→%s",
				before.ResourceVersion, after.ResourceVersion, ds.ResourceVersion, dsAfter.ResourceVersion,
				p.ResourceVersion, pAfter.ResourceVersion)
		}
	})

	t.Run("leaving the configuration is an event on the pipeline", func(t *testing.T) {
		waitForWarning(t, controllerNamespace, "broken", conditions.ReasonOutputNotFound)
	})

	t.Run("the missing output appears later and the broken pipeline recovers on its own", func(t *testing.T) {
		missing := &v1.LogOutput{ObjectMeta: metav1.ObjectMeta{Namespace: controllerNamespace, Name: "missing"},
			Spec: v1.OutputSpec{Type: v1.OutputStdout, Stdout: &v1.StdoutOutput{}}}
		if err := k8s.Create(ctx, missing); err != nil {
			t.Fatal(err)
		}
		waitForCondition(t, "broken", conditions.TypeConfigGenerated, metav1.ConditionTrue, "")
	})

	t.Run("a Secret created later is picked up, and a rotated value reaches the agent", func(t *testing.T) {
		withSecret := &v1.LogOutput{ObjectMeta: metav1.ObjectMeta{Namespace: controllerNamespace, Name: "with-secret"},
			Spec: v1.OutputSpec{Type: v1.OutputHTTP, HTTP: &v1.HTTPOutput{Host: "collector.example.com", Port: 443,
				BasicAuth: &v1.BasicAuth{User: "shipper", Password: v1.SecretKeyRef{Name: "later", Key: "password"}}}}}
		needs := &v1.LogPipeline{ObjectMeta: metav1.ObjectMeta{Namespace: controllerNamespace, Name: "needs-secret"},
			Spec: v1.LogPipelineSpec{Input: v1.LogPipelineInput{Containers: &v1.ContainerSelection{}}, OutputRefs: []v1.ResourceName{"with-secret"}}}
		for _, o := range []client.Object{withSecret, needs} {
			if err := k8s.Create(ctx, o); err != nil {
				t.Fatal(err)
			}
		}
		waitForCondition(t, "needs-secret", conditions.TypeConfigGenerated, metav1.ConditionFalse, conditions.ReasonOutputInvalid)
		secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: controllerNamespace, Name: "later"},
			Data: map[string][]byte{"password": []byte("first")}}
		if err := k8s.Create(ctx, secret); err != nil {
			t.Fatal(err)
		}
		credentials := func() (map[string][]byte, error) {
			var s corev1.Secret
			err := k8s.Get(ctx, client.ObjectKey{Namespace: operatorNamespace, Name: agentobjects.ResourceName("default") + "-credentials"}, &s)
			return s.Data, err
		}
		hasValue := func(want string) func() error {
			return func() error {
				data, err := credentials()
				if err != nil {
					return err
				}
				for _, v := range data {
					if string(v) == want {
						return nil
					}
				}
				return errString("credentials do not hold " + want)
			}
		}
		waitForCondition(t, "needs-secret", conditions.TypeConfigGenerated, metav1.ConditionTrue, "")
		eventually(t, "credentials hold the value", hasValue("first"))
		secret.Data["password"] = []byte("rotated")
		if err := k8s.Update(ctx, secret); err != nil {
			t.Fatal(err)
		}
		eventually(t, "credentials hold the rotated value", hasValue("rotated"))
	})

	t.Run("drift is repaired: a deleted config Secret and DaemonSet come back", func(t *testing.T) {
		_, secret, err := agentConfig(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := k8s.Delete(ctx, secret); err != nil {
			t.Fatal(err)
		}
		ds := &appsv1.DaemonSet{}
		if err := k8s.Get(ctx, client.ObjectKey{Namespace: operatorNamespace, Name: agentobjects.ResourceName("default")}, ds); err != nil {
			t.Fatal(err)
		}
		if err := k8s.Delete(ctx, ds); err != nil {
			t.Fatal(err)
		}
		eventually(t, "config Secret recreated", func() error { _, _, err := agentConfig(ctx); return err })
		eventually(t, "DaemonSet recreated", func() error {
			return k8s.Get(ctx, client.ObjectKey{Namespace: operatorNamespace, Name: agentobjects.ResourceName("default")}, &appsv1.DaemonSet{})
		})
	})

	t.Run("kubectl rollout restart is not undone by the next change", func(t *testing.T) {
		key := client.ObjectKey{Namespace: operatorNamespace, Name: agentobjects.ResourceName("default")}
		restart := []byte(`{"spec":{"template":{"metadata":{"annotations":{"kubectl.kubernetes.io/restartedAt":"2026-11-23T08:00:00Z"}}}}}`)
		ds := &appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Namespace: key.Namespace, Name: key.Name}}
		if err := k8s.Patch(ctx, ds, client.RawPatch(types.StrategicMergePatchType, restart), client.FieldOwner("kubectl-rollout")); err != nil {
			t.Fatal(err)
		}
		before := ds.Spec.Template.Annotations[agentobjects.AnnotationConfig]
		// A change that renders a new configuration makes the operator apply the DaemonSet again.
		extra := &v1.LogPipeline{ObjectMeta: metav1.ObjectMeta{Namespace: controllerNamespace, Name: "extra"},
			Spec: v1.LogPipelineSpec{Input: v1.LogPipelineInput{Containers: &v1.ContainerSelection{}}, OutputRefs: []v1.ResourceName{"debug"}}}
		if err := k8s.Create(ctx, extra); err != nil {
			t.Fatal(err)
		}
		eventually(t, "new configuration applied", func() error {
			if err := k8s.Get(ctx, key, ds); err != nil {
				return err
			}
			if ds.Spec.Template.Annotations[agentobjects.AnnotationConfig] == before {
				return errString("config hash unchanged")
			}
			return nil
		})
		if got := ds.Spec.Template.Annotations["kubectl.kubernetes.io/restartedAt"]; got != "2026-11-23T08:00:00Z" {
			t.Errorf("restartedAt = %q after the operator applied; it must be kept", got)
		}
	})

	t.Run("a pipeline that ships events starts the events collector, and removing it stops it", func(t *testing.T) {
		events := &v1.ClusterLogPipeline{ObjectMeta: metav1.ObjectMeta{Name: "events-to-stdout"},
			Spec: v1.ClusterLogPipelineSpec{Input: v1.ClusterLogPipelineInput{Events: &v1.EventsInput{}},
				ClusterOutputRefs: []v1.ResourceName{"events-debug"}}}
		eventsOut := &v1.ClusterLogOutput{ObjectMeta: metav1.ObjectMeta{Name: "events-debug"},
			Spec: v1.ClusterLogOutputSpec{OutputSpec: v1.OutputSpec{Type: v1.OutputStdout, Stdout: &v1.StdoutOutput{}}}}
		for _, o := range []client.Object{eventsOut, events} {
			if err := k8s.Create(ctx, o); err != nil {
				t.Fatal(err)
			}
		}
		key := client.ObjectKey{Namespace: operatorNamespace, Name: agentobjects.EventsName}
		eventually(t, "events collector", func() error { return k8s.Get(ctx, key, &appsv1.Deployment{}) })
		if err := k8s.Delete(ctx, events); err != nil {
			t.Fatal(err)
		}
		var all v1.ClusterLogPipelineList
		if err := k8s.List(ctx, &all); err != nil {
			t.Fatal(err)
		}
		for _, p := range all.Items {
			if p.Spec.Input.Events != nil && p.Name != events.Name && p.DeletionTimestamp == nil {
				t.Skipf("another test's pipeline %s ships events; the collector stays", p.Name)
			}
		}
		eventually(t, "events collector removed", func() error {
			err := k8s.Get(ctx, key, &appsv1.Deployment{})
			if err == nil {
				return errString("still there")
			}
			return client.IgnoreNotFound(err)
		})
	})

	t.Run("configuration and credentials Secrets no longer used are pruned", func(t *testing.T) {
		// As left behind when a configuration, or its secret values, split over several
		// Secrets shrink.
		for _, name := range []string{"-config-7", "-credentials-3"} {
			stale := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: operatorNamespace,
				Name:   agentobjects.ResourceName("default") + name,
				Labels: map[string]string{agentobjects.LabelAgent: "default", agentobjects.LabelManagedBy: "logplane"}}}
			if err := k8s.Create(ctx, stale); err != nil {
				t.Fatal(err)
			}
			eventually(t, "stale Secret "+stale.Name+" pruned", func() error {
				err := k8s.Get(ctx, client.ObjectKeyFromObject(stale), &corev1.Secret{})
				if err == nil {
					return errString("still there")
				}
				return client.IgnoreNotFound(err)
			})
		}
	})

	t.Run("deleting a pipeline removes it from the configuration", func(t *testing.T) {
		if err := k8s.Delete(ctx, good); err != nil {
			t.Fatal(err)
		}
		eventually(t, "pipeline gone from config", func() error {
			cfg, _, err := agentConfig(ctx)
			if err != nil {
				return err
			}
			if strings.Contains(cfg, goodAlias) {
				return errString("still there")
			}
			return nil
		})
	})
}
