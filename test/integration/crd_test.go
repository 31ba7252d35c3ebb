package integration

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"sigs.k8s.io/yaml"

	"github.com/logplane/logplane/test/testenv"
)

// Client-side `kubectl apply` stores the whole object in an annotation capped at
// 256 KiB, so a CRD larger than that cannot be applied the way most people do.
const maxCRDBytes = 256 * 1024

func TestCRDsFitClientSideApplyAndFollowConventions(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(testenv.RepoRoot(), "config", "crd", "bases", "*.yaml"))
	if err != nil || len(files) != 7 {
		t.Fatalf("want 7 CRDs, found %d (%v)", len(files), err)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var crd apiextensionsv1.CustomResourceDefinition
		if err := yaml.Unmarshal(data, &crd); err != nil {
			t.Fatal(err)
		}
		name := crd.Spec.Names.Kind
		if len(data) > maxCRDBytes {
			t.Errorf("%s: %d bytes, over the %d that client-side apply allows", name, len(data), maxCRDBytes)
		}
		if len(crd.Spec.Names.ShortNames) == 0 {
			t.Errorf("%s: no short name", name)
		}
		if !slices.Contains(crd.Spec.Names.Categories, "logplane") {
			t.Errorf("%s: not in category logplane", name)
		}
		for _, v := range crd.Spec.Versions {
			if name == "IdentityGrant" {
				// The platform's configuration, which the operator only reads (its RBAC
				// allows no write): no status, so no Ready; its effect shows on outputs.
				if v.Subresources != nil && v.Subresources.Status != nil || !hasColumn(v.AdditionalPrinterColumns, "Age") {
					t.Errorf("%s: a status subresource nobody writes, or no Age column", name)
				}
				continue
			}
			if v.Subresources == nil || v.Subresources.Status == nil {
				t.Errorf("%s: no status subresource", name)
			}
			if !hasColumn(v.AdditionalPrinterColumns, "Ready") || !hasColumn(v.AdditionalPrinterColumns, "Age") {
				t.Errorf("%s: printer columns lack Ready or Age", name)
			}
		}
	}
}

func hasColumn(cols []apiextensionsv1.CustomResourceColumnDefinition, name string) bool {
	for _, c := range cols {
		if c.Name == name {
			return true
		}
	}
	return false
}
