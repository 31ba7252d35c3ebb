package integration

import (
	"path/filepath"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/logplane/logplane/test/testenv"
)

// `kubectl apply -k config/default` must work: the kustomization builds, and the API
// server accepts every object in it (server-side apply, dry run).
func TestDefaultInstallIsAccepted(t *testing.T) {
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	resmap, err := k.Run(filesys.MakeFsOnDisk(), filepath.Join(testenv.RepoRoot(), "config", "default"))
	if err != nil {
		t.Fatalf("kustomize build config/default: %v", err)
	}
	kinds := map[string]int{}
	for _, r := range resmap.Resources() {
		m, err := r.Map()
		if err != nil {
			t.Fatal(err)
		}
		u := &unstructured.Unstructured{Object: m}
		kinds[u.GetKind()]++
		// The webhook configurations are generated without labels; kustomize adds them.
		if k := u.GetKind(); (k == "MutatingWebhookConfiguration" || k == "ValidatingWebhookConfiguration") &&
			u.GetLabels()["app.kubernetes.io/component"] != "webhook" {
			t.Errorf("%s %s has labels %v, want app.kubernetes.io/component=webhook", k, u.GetName(), u.GetLabels())
		}
		ac := client.ApplyConfigurationFromUnstructured(u)
		if err := k8s.Apply(t.Context(), ac, client.FieldOwner("install-test"), client.ForceOwnership, client.DryRunAll); err != nil {
			t.Errorf("%s %s rejected: %v", u.GetKind(), u.GetName(), err)
		}
	}
	for kind, want := range map[string]int{"CustomResourceDefinition": 7, "Deployment": 1, "ClusterRole": 1, "Role": 1, "ServiceAccount": 1,
		"Service": 1, "MutatingWebhookConfiguration": 1, "ValidatingWebhookConfiguration": 1} {
		if kinds[kind] != want {
			t.Errorf("%d %s objects, want %d", kinds[kind], kind, want)
		}
	}
}
