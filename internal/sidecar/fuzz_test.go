package sidecar

import (
	"encoding/json"
	"strings"
	"testing"

	jsonpatch "github.com/evanphx/json-patch/v5"
	corev1 "k8s.io/api/core/v1"

	v1 "github.com/logplane/logplane/api/v1alpha1"
)

// Whatever pod arrives and whatever a pipeline declares, Mutate does not panic, never
// changes its input, injects at most one sidecar, and a second admission of its
// output changes nothing.
func FuzzMutate(f *testing.F) {
	f.Add([]byte(`{"metadata":{"name":"p"},"spec":{"containers":[{"name":"app"}]}}`), "", "/var/log/app/a.log", true)
	f.Add([]byte(`{"metadata":{"labels":{"app":"billing"}},"spec":{"containers":[{"name":"app","volumeMounts":[{"name":"v","mountPath":"/var/log/app"}]}],"volumes":[{"name":"v","emptyDir":{}}]}}`), "app", "/var/log/app/*.log", false)
	f.Add([]byte(`{"spec":{"initContainers":[{"name":"logplane-sidecar"}],"containers":[{"name":"a"},{"name":"b","ports":[{"containerPort":2021}]}]}}`), "b", "/x/y.log", true)
	f.Add([]byte(`{"spec":{"containers":[{"name":"a","volumeMounts":[{"name":"v","mountPath":"/logs/sub"}]}]}}`), "a", "/logs/z.log", true)
	f.Fuzz(func(t *testing.T, podJSON []byte, container, paths string, nativeSidecar bool) {
		var pod corev1.Pod
		if json.Unmarshal(podJSON, &pod) != nil {
			return
		}
		var ps []Pipeline
		for i, group := range strings.Split(paths, ";") {
			in := v1.FileInput{Container: v1.ContainerName(container)}
			for _, p := range strings.Split(group, ",") {
				in.Paths = append(in.Paths, v1.LogFilePath(p))
			}
			name := string(rune('a' + i%26))
			ps = append(ps, Pipeline{Name: name, Input: in, Manifest: Manifest{Hash: "h", Files: []string{"fluent-bit.yaml"}, AWS: i%2 == 0}})
		}
		opts := Options{Native: nativeSidecar, OperatorNamespace: "logplane-system"}
		before := pod.DeepCopy()
		out, res := Mutate(&pod, "tenant", ps, opts)
		if !equalJSON(t, before, &pod) {
			t.Fatal("Mutate changed its input")
		}
		if res.Unchanged != "" {
			if out != &pod {
				t.Fatal("a pod reported unchanged was changed")
			}
			return
		}
		n := 0
		for _, c := range append(out.Spec.InitContainers, out.Spec.Containers...) {
			if c.Name == ContainerName {
				n++
			}
		}
		if n != 1 {
			t.Fatalf("%d sidecars injected", n)
		}
		// The add-only patch, applied to the pod as sent, gives the mutated pod.
		if pod.Name != "" || pod.GenerateName != "" { // the API server always sends metadata
			ops, err := json.Marshal(Patch(&pod, out))
			if err != nil {
				t.Fatal(err)
			}
			p, err := jsonpatch.DecodePatch(ops)
			if err != nil {
				t.Fatal(err)
			}
			patched, err := p.Apply(podJSON)
			if err != nil {
				t.Fatalf("patch does not apply: %v\n%s", err, ops)
			}
			var got corev1.Pod
			if err := json.Unmarshal(patched, &got); err != nil {
				t.Fatal(err)
			}
			if !equalJSON(t, &got, out) {
				t.Fatalf("patched pod differs from the mutated one\npatch: %s", ops)
			}
		}
		again, res2 := Mutate(out, "tenant", ps, opts)
		if again != out || res2.Unchanged == "" {
			t.Fatalf("a second admission changed the pod: %+v", res2)
		}
	})
}

func equalJSON(t *testing.T, a, b *corev1.Pod) bool {
	x, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	y, err := json.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	return string(x) == string(y)
}
