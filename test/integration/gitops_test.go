package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/logplane/logplane/api/v1alpha1"
	"github.com/logplane/logplane/test/testenv"
)

// gitopsManager is the field manager Argo CD applies with.
const gitopsManager = "argocd-controller"

// Objects applied from Git do not drift: after the operator has reported on them, a
// second server-side apply of the same manifests changes no spec and no generation,
// and no one but the applier owns a field of spec (no controller or webhook writes
// it). The samples are copied under gitops- names so that no other test's applier
// shares the fields.
func TestSamplesDoNotDriftUnderServerSideApply(t *testing.T) {
	ctx := t.Context()
	samples, err := testenv.LoadManifests(filepath.Join(testenv.RepoRoot(), "config", "samples"))
	if err != nil {
		t.Fatal(err)
	}
	objs := renamedForGitOps(samples)
	if err := testenv.Apply(ctx, k8s, gitopsManager, objs); err != nil {
		t.Fatal(err)
	}
	var ours []*unstructured.Unstructured
	for _, o := range objs {
		if o.GroupVersionKind().Group == v1.GroupVersion.Group {
			ours = append(ours, o)
		}
	}
	if len(ours) < 10 {
		t.Fatalf("only %d logplane objects in the samples", len(ours))
	}

	// Let the operator report on every object that has a controller, so that any
	// write it might make to spec has happened before the second apply.
	// RetentionPolicy has no status writer yet, and IdentityGrant, which the operator
	// only reads, no status; their specs are checked all the same.
	first := map[string]*unstructured.Unstructured{}
	eventually(t, "operator reported on every sample", func() error {
		for _, o := range ours {
			got, err := get(ctx, o)
			if err != nil {
				return err
			}
			first[key(o)] = got
			if o.GetKind() == "RetentionPolicy" || o.GetKind() == "IdentityGrant" {
				continue
			}
			observed, _, _ := unstructured.NestedInt64(got.Object, "status", "observedGeneration")
			if observed != got.GetGeneration() {
				return fmt.Errorf("%s: status describes generation %d of %d", key(o), observed, got.GetGeneration())
			}
		}
		return nil
	})

	if err := testenv.Apply(ctx, k8s, gitopsManager, objs); err != nil {
		t.Fatal(err)
	}
	for _, o := range ours {
		before := first[key(o)]
		after, err := get(ctx, o)
		if err != nil {
			t.Fatal(err)
		}
		if after.GetGeneration() != before.GetGeneration() {
			t.Errorf("%s: generation %d after the second apply, %d before", key(o), after.GetGeneration(), before.GetGeneration())
		}
		if !equality.Semantic.DeepEqual(after.Object["spec"], before.Object["spec"]) {
			t.Errorf("%s: spec changed by a second identical apply:\nbefore %v\nafter  %v", key(o), before.Object["spec"], after.Object["spec"])
		}
		for _, mf := range after.GetManagedFields() {
			if mf.Manager == gitopsManager || mf.FieldsV1 == nil {
				continue
			}
			var fields map[string]any
			if err := json.Unmarshal(mf.FieldsV1.Raw, &fields); err != nil {
				t.Fatal(err)
			}
			if _, ok := fields["f:spec"]; ok {
				t.Errorf("%s: %s (%s %s) owns fields of spec: %s", key(o), mf.Manager, mf.Operation, mf.Subresource, mf.FieldsV1.Raw)
			}
		}
	}
}

// renamedForGitOps copies the samples under gitops- names: namespaces the samples
// create, and cluster-scoped objects. References between objects are left as they
// are; a dangling one only changes the status, which is not what is checked.
func renamedForGitOps(samples []*unstructured.Unstructured) []*unstructured.Unstructured {
	created := map[string]bool{}
	for _, o := range samples {
		if o.GetKind() == "Namespace" {
			created[o.GetName()] = true
		}
	}
	var out []*unstructured.Unstructured
	for _, o := range samples {
		o = o.DeepCopy()
		switch {
		case o.GetKind() == "Namespace":
			o.SetName("gitops-" + o.GetName())
		case o.GetNamespace() == "":
			o.SetName("gitops-" + o.GetName())
		case created[o.GetNamespace()]:
			o.SetNamespace("gitops-" + o.GetNamespace())
		default:
			o.SetName("gitops-" + o.GetName())
		}
		out = append(out, o)
	}
	return out
}

func get(ctx context.Context, o *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	got := &unstructured.Unstructured{}
	got.SetGroupVersionKind(o.GroupVersionKind())
	return got, k8s.Get(ctx, client.ObjectKeyFromObject(o), got)
}

func key(o *unstructured.Unstructured) string {
	return o.GetKind() + " " + strings.TrimPrefix(o.GetNamespace()+"/"+o.GetName(), "/")
}
