package integration

import (
	"context"
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/logplane/logplane/api/v1alpha1"
	agentobjects "github.com/logplane/logplane/internal/agent"
	"github.com/logplane/logplane/internal/alias"
	"github.com/logplane/logplane/internal/conditions"
)

// A pipeline on a named agent is rendered by that agent; the outputs it uses still
// list it, and stop listing it when it moves to other outputs or goes away (the
// default agent renders on those events and publishes the outputs' verdicts).
func TestNamedAgentPipelineIsListedOnItsOutputs(t *testing.T) {
	ctx := t.Context()
	const ns = "routing"
	ensureNamespace(t, ns)
	edge := &v1.LogAgent{ObjectMeta: metav1.ObjectMeta{Name: "edge"}}
	stdout := func(name string) *v1.LogOutput {
		return &v1.LogOutput{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
			Spec: v1.OutputSpec{Type: v1.OutputStdout, Stdout: &v1.StdoutOutput{}}}
	}
	first, second := stdout("first"), stdout("second")
	p := &v1.LogPipeline{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "web"},
		Spec: v1.LogPipelineSpec{Agent: "edge", Input: v1.LogPipelineInput{Containers: &v1.ContainerSelection{}},
			OutputRefs: []v1.ResourceName{"first"}}}
	for _, o := range []client.Object{edge, first, second, p} {
		if err := k8s.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		for _, o := range []client.Object{p, first, second, edge} {
			_ = k8s.Delete(context.Background(), o)
		}
	})
	edgeConfigHas := func(output string) func() error {
		a := alias.Output{PipelineKind: alias.LogPipeline, Namespace: ns, Pipeline: "web", OutputKind: alias.LogOutput, Output: output}.Encode()
		return func() error {
			var s corev1.Secret
			key := client.ObjectKey{Namespace: operatorNamespace, Name: agentobjects.ResourceName("edge") + "-config-0"}
			if err := k8s.Get(ctx, key, &s); err != nil {
				return err
			}
			if !strings.Contains(string(s.Data["fluent-bit.yaml"]), a) {
				return errString("edge configuration has no " + a)
			}
			return nil
		}
	}
	usersOf := func(want map[string]int32) func() error {
		return func() error {
			for name, n := range want {
				var o v1.LogOutput
				if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &o); err != nil {
					return err
				}
				if o.Status.PipelineCount != n || len(o.Status.Pipelines) != int(n) || n == 1 && o.Status.Pipelines[0].Name != "web" {
					return errString(fmt.Sprintf("output %s lists %v (count %d), want %d", name, o.Status.Pipelines, o.Status.PipelineCount, n))
				}
			}
			return nil
		}
	}

	eventually(t, "edge agent runs the pipeline", edgeConfigHas("first"))
	eventually(t, "the output lists the pipeline", usersOf(map[string]int32{"first": 1, "second": 0}))

	moved := p.DeepCopy()
	moved.Spec.OutputRefs = []v1.ResourceName{"second"}
	if err := k8s.Patch(ctx, moved, client.MergeFrom(p)); err != nil {
		t.Fatal(err)
	}
	eventually(t, "edge agent ships to the new output", edgeConfigHas("second"))
	eventually(t, "the outputs follow the move", usersOf(map[string]int32{"first": 0, "second": 1}))

	if err := k8s.Delete(ctx, p); err != nil {
		t.Fatal(err)
	}
	eventually(t, "a deleted pipeline is listed nowhere", usersOf(map[string]int32{"first": 0, "second": 0}))
}

// An output no pipeline uses yet still says what is wrong with it, on its status and
// as an event, and recovers when the Secret appears.
func TestUnusedOutputReportsItsOwnProblem(t *testing.T) {
	ctx := t.Context()
	const ns = "routing-unused"
	ensureNamespace(t, ns)
	o := &v1.LogOutput{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "loki"},
		Spec: v1.OutputSpec{Type: v1.OutputLoki, Loki: &v1.LokiOutput{Host: "loki.example.com",
			BearerToken: &v1.SecretKeyRef{Name: "loki-token", Key: "token"}}}}
	if err := k8s.Create(ctx, o); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = k8s.Delete(context.Background(), o) })
	configGenerated := func(want metav1.ConditionStatus, reason string) func() error {
		return func() error {
			var got v1.LogOutput
			if err := k8s.Get(ctx, client.ObjectKeyFromObject(o), &got); err != nil {
				return err
			}
			c := meta.FindStatusCondition(got.Status.Conditions, conditions.TypeConfigGenerated)
			if c == nil || c.Status != want || c.Reason != reason || c.ObservedGeneration != got.Generation {
				return errString(fmt.Sprintf("ConfigGenerated %+v, want %s %s", c, want, reason))
			}
			return nil
		}
	}
	eventually(t, "the unused output reports the missing Secret", configGenerated(metav1.ConditionFalse, conditions.ReasonSecretNotFound))
	waitForWarning(t, ns, "loki", conditions.ReasonSecretNotFound)
	token := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "loki-token"}, Data: map[string][]byte{"token": []byte("t")}}
	if err := k8s.Create(ctx, token); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = k8s.Delete(context.Background(), token) })
	eventually(t, "the output recovers once the Secret exists", configGenerated(metav1.ConditionTrue, conditions.ReasonConfigGenerated))
}
