package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/operator-framework/api/pkg/manifests"
	"github.com/operator-framework/api/pkg/validation"
	"github.com/operator-framework/api/pkg/validation/errors"
)

// k8sVersion is the Kubernetes release the deprecated-API checks judge against: the
// one the integration tests run on.
const k8sVersion = "1.37"

// validateBundle runs what `operator-sdk bundle validate --select-optional
// suite=operatorframework` runs: the default set, OperatorHub (the v2 check with the
// standard capabilities and categories, which replaced the deprecated "operatorhub"
// validator) and good practices. Errors fail the test; warnings are logged and
// returned so that tests can pin them.
func validateBundle(t *testing.T, dir string) []errors.Error {
	t.Helper()
	errs, warnings := runValidators(t, dir)
	for _, e := range errs {
		t.Error(e)
	}
	for _, w := range warnings {
		t.Logf("warning: %v", w)
	}
	return warnings
}

func runValidators(t *testing.T, dir string) (errs, warnings []errors.Error) {
	t.Helper()
	bundle, err := manifests.GetBundleFromDir(dir)
	if err != nil {
		t.Fatalf("failed to load the bundle in %s: %v", dir, err)
	}
	objs := bundle.ObjectsToValidate()
	for _, o := range bundle.Objects {
		objs = append(objs, o)
	}
	objs = append(objs, map[string]string{"k8s-version": k8sVersion})

	validators := validation.DefaultBundleValidators.WithValidators(
		validation.OperatorHubV2Validator,
		validation.StandardCapabilitiesValidator,
		validation.StandardCategoriesValidator,
		validation.GoodPracticesValidator,
	)
	for _, result := range validators.Validate(objs...) {
		errs = append(errs, result.Errors...)
		warnings = append(warnings, result.Warnings...)
	}
	return errs, warnings
}

// The committed bundle passes OLM's validators.
func TestCommittedBundleIsValid(t *testing.T) {
	warnings := validateBundle(t, filepath.Join(repoRoot, "bundle"))
	t.Logf("%d warnings", len(warnings))
}

// A bundle with the sidecar webhook passes too: webhook definitions are validated
// against the Deployment they name.
func TestWebhookBundleIsValid(t *testing.T) {
	files, _, err := Generate(webhookFixtureOptions())
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	if err := Write(out, files); err != nil {
		t.Fatal(err)
	}
	validateBundle(t, filepath.Join(out, "bundle"))
}

// The validators do run: a CSV with a made-up category, an icon that is no image or an
// owned kind the bundle has no CRD for is refused. (They do not check webhook
// definitions against the Deployment; TestWebhookInstall does.)
func TestValidatorsCatchBrokenBundles(t *testing.T) {
	files, _, err := Generate(webhookFixtureOptions())
	if err != nil {
		t.Fatal(err)
	}
	name := filepath.Join(manifestsDir, "logplane.clusterserviceversion.yaml")
	for _, tc := range []struct{ name, from, to string }{
		{"category", "categories: Logging & Tracing", "categories: Nonsense"},
		{"icon", "mediatype: image/svg+xml", "mediatype: text/plain"},
		{"owned kind", "kind: LogAgent\n", "kind: LogAgentX\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			broken := Files{}
			for k, v := range files {
				broken[k] = v
			}
			if !strings.Contains(string(files[name]), tc.from) {
				t.Fatalf("the CSV has no %q to break", tc.from)
			}
			broken[name] = []byte(strings.Replace(string(files[name]), tc.from, tc.to, 1))
			out := t.TempDir()
			if err := Write(out, broken); err != nil {
				t.Fatal(err)
			}
			if errs, _ := runValidators(t, filepath.Join(out, "bundle")); len(errs) == 0 {
				t.Error("no validation error")
			}
		})
	}
}
