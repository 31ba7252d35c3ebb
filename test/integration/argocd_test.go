package integration

import (
	"os"
	"path/filepath"
	"testing"

	lua "github.com/yuin/gopher-lua"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/logplane/logplane/api/v1alpha1"
	"github.com/logplane/logplane/test/testenv"
)

// argoHealth runs config/argocd/health.lua as Argo CD does: the object as the global
// obj, the returned table's status and message.
func argoHealth(t *testing.T, obj map[string]any) (status, message string) {
	t.Helper()
	script, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "config", "argocd", "health.lua"))
	if err != nil {
		t.Fatal(err)
	}
	L := lua.NewState()
	defer L.Close()
	L.SetGlobal("obj", toLua(L, obj))
	if err := L.DoString(string(script)); err != nil {
		t.Fatalf("health.lua: %v", err)
	}
	hs, ok := L.Get(-1).(*lua.LTable)
	if !ok {
		t.Fatalf("health.lua returned %v, want a table", L.Get(-1))
	}
	return hs.RawGetString("status").String(), hs.RawGetString("message").String()
}

func toLua(L *lua.LState, v any) lua.LValue {
	switch x := v.(type) {
	case map[string]any:
		t := L.NewTable()
		for k, val := range x {
			t.RawSetString(k, toLua(L, val))
		}
		return t
	case []any:
		t := L.NewTable()
		for _, val := range x {
			t.Append(toLua(L, val))
		}
		return t
	case string:
		return lua.LString(x)
	case bool:
		return lua.LBool(x)
	case int64:
		return lua.LNumber(x)
	case float64:
		return lua.LNumber(x)
	}
	return lua.LNil
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
	fresh := map[string]any{"metadata": map[string]any{"name": "new", "generation": int64(1)}}
	if s, _ := argoHealth(t, fresh); s != "Progressing" {
		t.Errorf("object without status judged %s, want Progressing", s)
	}
}
