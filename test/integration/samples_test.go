package integration

import (
	"path/filepath"
	"testing"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/logplane/logplane/test/testenv"
)

// Every sample must be accepted as written and read back with the fields it set.
func TestSamplesApplyAndReadBack(t *testing.T) {
	objs, err := testenv.LoadManifests(filepath.Join(testenv.RepoRoot(), "config", "samples"))
	if err != nil {
		t.Fatal(err)
	}
	if len(objs) < 10 {
		t.Fatalf("found only %d sample objects", len(objs))
	}
	if err := testenv.Apply(t.Context(), k8s, "samples-test", objs); err != nil {
		t.Fatal(err)
	}
	for _, want := range objs {
		got := &unstructured.Unstructured{}
		got.SetGroupVersionKind(want.GroupVersionKind())
		if err := k8s.Get(t.Context(), client.ObjectKeyFromObject(want), got); err != nil {
			t.Errorf("get %s %s: %v", want.GetKind(), testenv.ObjectKey(want), err)
			continue
		}
		for _, field := range []string{"spec", "data", "stringData"} {
			wantField, ok := want.Object[field]
			if !ok || field == "stringData" {
				continue
			}
			if !containsAll(got.Object[field], wantField) {
				t.Errorf("%s %s: %s read back as\n%v\nwhich lacks what the sample set:\n%v",
					want.GetKind(), testenv.ObjectKey(want), field, got.Object[field], wantField)
			}
		}
	}
}

// containsAll reports whether got holds every value of want; got may hold more (defaults).
func containsAll(got, want any) bool {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return false
		}
		for k, wv := range w {
			if !containsAll(g[k], wv) {
				return false
			}
		}
		return true
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			return false
		}
		for i := range w {
			if !containsAll(g[i], w[i]) {
				return false
			}
		}
		return true
	default:
		return equality.Semantic.DeepEqual(normalise(got), normalise(want))
	}
}

// normalise makes JSON numbers comparable: YAML decodes 443 as int64, JSON as int64 or float64.
func normalise(v any) any {
	switch n := v.(type) {
	case int:
		return int64(n)
	case float64:
		if n == float64(int64(n)) {
			return int64(n)
		}
	}
	return v
}
