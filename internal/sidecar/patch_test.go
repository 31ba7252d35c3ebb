package sidecar

import (
	"encoding/json"
	"strings"
	"testing"

	jsonpatch "github.com/evanphx/json-patch/v5"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
)

// Applied to the pod as the API server sent it, the patch gives exactly the mutated
// pod, and leaves fields unknown to this API version where they were.
func TestPatchReproducesMutation(t *testing.T) {
	cases := map[string]string{
		"bare pod":  `{"metadata":{"name":"a","labels":{"app":"billing"}},"spec":{"containers":[{"name":"app","image":"x"}]}}`,
		"no labels": `{"metadata":{"name":"a"},"spec":{"containers":[{"name":"app","image":"x"}]}}`,
		"pod with annotations, volumes, mounts and init containers": `{"metadata":{"name":"a","labels":{"app":"billing"},"annotations":{"x/y":"1"}},
			"spec":{"initContainers":[{"name":"init","image":"i"}],"volumes":[{"name":"v","emptyDir":{}}],
			"containers":[{"name":"app","image":"x","volumeMounts":[{"name":"v","mountPath":"/data"}]},{"name":"second","image":"y"}]}}`,
		"null lists":     `{"metadata":{"name":"a","labels":{"app":"billing"},"annotations":null},"spec":{"volumes":null,"containers":[{"name":"app","image":"x","volumeMounts":null}]}}`,
		"unknown fields": `{"metadata":{"name":"a","labels":{"app":"billing"}},"spec":{"futureField":{"k":1},"containers":[{"name":"app","image":"x","futureContainerField":true}]}}`,
	}
	for name, raw := range cases {
		for _, native := range []bool{true, false} {
			t.Run(name, func(t *testing.T) {
				var before corev1.Pod
				if err := json.Unmarshal([]byte(raw), &before); err != nil {
					t.Fatal(err)
				}
				ps := []Pipeline{filesPipeline("audit", "", "/var/log/app/a.log"), filesPipeline("data", "", "/data/x.log")}
				after, res := Mutate(&before, "billing", ps, Options{Native: native})
				if res.Unchanged != "" {
					t.Fatal(res.Unchanged)
				}
				ops, err := json.Marshal(Patch(&before, after))
				if err != nil {
					t.Fatal(err)
				}
				p, err := jsonpatch.DecodePatch(ops)
				if err != nil {
					t.Fatal(err)
				}
				patched, err := p.Apply([]byte(raw))
				if err != nil {
					t.Fatalf("patch does not apply: %v\n%s", err, ops)
				}
				var got corev1.Pod
				if err := json.Unmarshal(patched, &got); err != nil {
					t.Fatal(err)
				}
				if !apiequality.Semantic.DeepEqual(&got, after) {
					t.Fatalf("patched pod differs from the mutated one\npatch: %s", ops)
				}
				if strings.Contains(raw, "future") && (!strings.Contains(string(patched), `"futureField"`) || !strings.Contains(string(patched), `"futureContainerField"`)) {
					t.Fatalf("unknown fields lost: %s", patched)
				}
			})
		}
	}
}
