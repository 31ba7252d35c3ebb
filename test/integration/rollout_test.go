package integration

import (
	"context"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/logplane/logplane/api/v1alpha1"
	agentobjects "github.com/logplane/logplane/internal/agent"
)

// Two changes in quick succession roll the agent out once at once and once more after
// the rollout interval (5s here), while each reaches the configuration Secret at once:
// a burst of changes does not restart the agent's pods per render.
func TestQuickChangesShareARollout(t *testing.T) {
	ctx := t.Context()
	const ns = "rollout"
	ensureNamespace(t, ns)
	out := &v1.LogOutput{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "debug"},
		Spec: v1.OutputSpec{Type: v1.OutputStdout, Stdout: &v1.StdoutOutput{}}}
	pipeline := func(name string) *v1.LogPipeline {
		return &v1.LogPipeline{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
			Spec: v1.LogPipelineSpec{Input: v1.LogPipelineInput{Containers: &v1.ContainerSelection{}}, OutputRefs: []v1.ResourceName{"debug"}}}
	}
	first, second := pipeline("first"), pipeline("second")
	t.Cleanup(func() {
		for _, o := range []client.Object{first, second, out} {
			_ = k8s.Delete(context.Background(), o)
		}
	})
	templateHash := func() string {
		var ds appsv1.DaemonSet
		if err := k8s.Get(ctx, client.ObjectKey{Namespace: operatorNamespace, Name: agentobjects.ResourceName("default")}, &ds); err != nil {
			t.Fatal(err)
		}
		return ds.Spec.Template.Annotations[agentobjects.AnnotationConfig]
	}
	inConfig := func(name string) func() error {
		return func() error {
			cfg, _, err := agentConfig(ctx)
			if err != nil {
				return err
			}
			if !strings.Contains(cfg, "_"+ns+"_"+name+"_") {
				return errString(name + " not in the configuration yet")
			}
			return nil
		}
	}

	eventually(t, "the default agent's DaemonSet", func() error {
		return k8s.Get(ctx, client.ObjectKey{Namespace: operatorNamespace, Name: agentobjects.ResourceName("default")}, &appsv1.DaemonSet{})
	})
	before := templateHash()
	for _, o := range []client.Object{out, first} {
		if err := k8s.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, "first in the configuration", inConfig("first"))
	var rolled string
	eventually(t, "the first change rolls out", func() error {
		if rolled = templateHash(); rolled == before {
			return errString("pod template still has the old hash")
		}
		return nil
	})
	if err := k8s.Create(ctx, second); err != nil {
		t.Fatal(err)
	}
	eventually(t, "second in the configuration", inConfig("second"))
	if now := templateHash(); now != rolled {
		t.Errorf("a change right after a rollout rolled out again at once (%s -> %s)", rolled, now)
	}
	eventually(t, "the held change rolls out after the interval", func() error {
		if templateHash() == rolled {
			return errString("still held")
		}
		return nil
	})
}
