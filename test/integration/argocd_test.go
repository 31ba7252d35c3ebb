package integration

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/logplane/logplane/api/v1alpha1"
	"github.com/logplane/logplane/test/argocdhealth"
	"github.com/logplane/logplane/test/testenv"
)

// argoHealth runs the kind's health check from config/argocd/health as Argo CD does.
func argoHealth(t *testing.T, obj map[string]any) (status, message string) {
	t.Helper()
	kind, _ := obj["kind"].(string)
	status, message, err := argocdhealth.Run(argocdhealth.Script(testenv.RepoRoot(), kind), obj)
	if err != nil {
		t.Fatal(err)
	}
	return status, message
}

func TestArgoCDHealth(t *testing.T) {
	ctx := t.Context()
	ns := "argocd-health"
	ensureNamespace(t, ns)
	out := &v1.LogOutput{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "debug"},
		Spec: v1.OutputSpec{Type: v1.OutputStdout, Stdout: &v1.StdoutOutput{}}}
	broken := &v1.LogPipeline{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "broken"},
		Spec: v1.LogPipelineSpec{Input: v1.LogPipelineInput{Containers: &v1.ContainerSelection{}}, OutputRefs: []v1.ResourceName{"nope"}}}
	for _, o := range []client.Object{out, broken} {
		if err := k8s.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	read := func(kind string, o client.Object) map[string]any {
		u := &unstructured.Unstructured{}
		u.SetGroupVersionKind(v1.GroupVersion.WithKind(kind))
		if err := k8s.Get(ctx, client.ObjectKeyFromObject(o), u); err != nil {
			t.Fatal(err)
		}
		return u.Object
	}
	eventually(t, "statuses written", func() error {
		if s, _ := argoHealth(t, read("LogOutput", out)); s != "Healthy" {
			return errString("output is " + s)
		}
		if s, _ := argoHealth(t, read("LogPipeline", broken)); s != "Degraded" {
			return errString("pipeline is " + s)
		}
		return nil
	})
	if _, msg := argoHealth(t, read("LogPipeline", broken)); msg == "" {
		t.Error("Degraded without a message")
	}

	// Before the operator has reported on the latest spec, Argo CD must wait.
	stale := read("LogPipeline", broken)
	stale["metadata"].(map[string]any)["generation"] = int64(99)
	if s, _ := argoHealth(t, stale); s != "Progressing" {
		t.Errorf("stale status judged %s, want Progressing", s)
	}
	fresh := map[string]any{"kind": "LogPipeline", "metadata": map[string]any{"name": "new", "generation": int64(1)}}
	if s, _ := argoHealth(t, fresh); s != "Progressing" {
		t.Errorf("object without status judged %s, want Progressing", s)
	}
}
