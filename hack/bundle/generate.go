package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/blang/semver/v4"
	"github.com/operator-framework/api/pkg/lib/version"
	operatorsv1alpha1 "github.com/operator-framework/api/pkg/operators/v1alpha1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"

	"github.com/logplane/logplane/internal/fluentbit"
)

// Package is the OLM package name; the CSV is named <Package>.v<version>.
const Package = "logplane"

// Inputs under the repository root.
const (
	samplesDir     = "config/samples"
	baseCSVPath    = "config/manifests/bases/logplane.clusterserviceversion.yaml"
	iconPath       = "config/manifests/icon.svg"
	scorecardPath  = "config/scorecard/config.yaml"
	crdGroupSuffix = "logging.logplane.dev"
)

// Outputs, relative to the output directory.
const (
	manifestsDir   = "bundle/manifests"
	metadataDir    = "bundle/metadata"
	testsDir       = "bundle/tests"
	dockerfilePath = "bundle.Dockerfile"
)

// Options are the inputs that do not come from files.
type Options struct {
	Root           string
	Version        string
	Image          string
	Channels       string
	DefaultChannel string
	CreatedAt      string
	InstallDir     string
}

// Files maps paths relative to the output directory to their content.
type Files map[string][]byte

// Generate assembles the bundle. notes are facts a maintainer should know but that do
// not stop the bundle (such as webhook settings a CSV cannot express).
func Generate(opts Options) (Files, []string, error) {
	if _, err := semver.Parse(opts.Version); err != nil {
		return nil, nil, fmt.Errorf("version %q is not semver (no leading v): %w", opts.Version, err)
	}
	if opts.Image == "" {
		return nil, nil, errors.New("an operator image is required")
	}
	if opts.InstallDir == "" {
		opts.InstallDir = "config/default"
	}
	channels := splitList(opts.Channels)
	if len(channels) == 0 || opts.DefaultChannel == "" {
		return nil, nil, errors.New("at least one channel and a default channel are required")
	}
	if !contains(channels, opts.DefaultChannel) {
		return nil, nil, fmt.Errorf("default channel %q is not among channels %v", opts.DefaultChannel, channels)
	}

	installObjs, err := kustomize(filepath.Join(opts.Root, opts.InstallDir))
	if err != nil {
		return nil, nil, err
	}
	sampleObjs, err := kustomize(filepath.Join(opts.Root, samplesDir))
	if err != nil {
		return nil, nil, err
	}
	csv, err := readBaseCSV(filepath.Join(opts.Root, baseCSVPath))
	if err != nil {
		return nil, nil, err
	}
	icon, err := os.ReadFile(filepath.Join(opts.Root, iconPath))
	if err != nil {
		return nil, nil, fmt.Errorf("failed to read icon: %w", err)
	}
	scorecard, err := os.ReadFile(filepath.Join(opts.Root, scorecardPath))
	if err != nil {
		return nil, nil, fmt.Errorf("failed to read scorecard config: %w", err)
	}

	inst, err := partition(installObjs)
	if err != nil {
		return nil, nil, err
	}
	strategy, webhooks, notes, err := installStrategy(inst, opts.Image)
	if err != nil {
		return nil, nil, err
	}
	examples, err := almExamples(sampleObjs)
	if err != nil {
		return nil, nil, err
	}
	owned, err := ownedCRDs(inst.crds, csv.Spec.CustomResourceDefinitions.Owned)
	if err != nil {
		return nil, nil, err
	}

	csv.Name = Package + ".v" + opts.Version
	csv.Spec.Version = version.OperatorVersion{Version: semver.MustParse(opts.Version)}
	if csv.Annotations == nil {
		csv.Annotations = map[string]string{}
	}
	csv.Annotations["containerImage"] = opts.Image
	csv.Annotations["alm-examples"] = examples
	if opts.CreatedAt != "" {
		csv.Annotations["createdAt"] = opts.CreatedAt
	}
	if len(inst.namespaces) == 1 {
		// The console creates this namespace when the user installs through it, with the
		// labels the install needs (the agents' hostPath requires Pod Security
		// "privileged").
		template, err := namespaceTemplate(inst.namespaces[0])
		if err != nil {
			return nil, nil, err
		}
		csv.Annotations["operatorframework.io/suggested-namespace-template"] = template
	}
	csv.Spec.Icon = []operatorsv1alpha1.Icon{{Data: base64.StdEncoding.EncodeToString(icon), MediaType: "image/svg+xml"}}
	csv.Spec.InstallStrategy = operatorsv1alpha1.NamedInstallStrategy{
		StrategyName: operatorsv1alpha1.InstallStrategyNameDeployment,
		StrategySpec: strategy,
	}
	csv.Spec.WebhookDefinitions = webhooks
	csv.Spec.CustomResourceDefinitions.Owned = owned
	csv.Spec.RelatedImages = []operatorsv1alpha1.RelatedImage{
		{Name: "logplane", Image: opts.Image},
		{Name: "fluent-bit", Image: fluentbit.Image},
	}

	files := Files{}
	csvYAML, err := marshalYAML(csv, "status")
	if err == nil {
		csvYAML, err = dropDefaults(csvYAML)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("failed to encode the CSV: %w", err)
	}
	files[filepath.Join(manifestsDir, Package+".clusterserviceversion.yaml")] = csvYAML
	for _, crd := range inst.crds {
		data, err := marshalYAML(crd.Object, "status")
		if err != nil {
			return nil, nil, err
		}
		group, _, _ := unstructured.NestedString(crd.Object, "spec", "group")
		plural, _, _ := unstructured.NestedString(crd.Object, "spec", "names", "plural")
		files[filepath.Join(manifestsDir, group+"_"+plural+".yaml")] = data
	}
	for _, o := range inst.extras {
		o = o.DeepCopy()
		o.SetNamespace("") // OLM creates bundle objects in the install namespace
		data, err := marshalYAML(o.Object, "status")
		if err != nil {
			return nil, nil, err
		}
		files[filepath.Join(manifestsDir, extraFileName(o))] = data
	}
	annotations := bundleAnnotations(channels, opts.DefaultChannel)
	annotationsYAML, err := yaml.Marshal(map[string]any{"annotations": annotations})
	if err != nil {
		return nil, nil, err
	}
	files[filepath.Join(metadataDir, "annotations.yaml")] = annotationsYAML
	files[filepath.Join(testsDir, "scorecard", "config.yaml")] = scorecard
	files[dockerfilePath] = dockerfile(annotations)
	return files, notes, nil
}

// Write replaces bundle/manifests, bundle/metadata and bundle/tests under out with
// files, so that a file the generator no longer makes does not linger.
func Write(out string, files Files) error {
	for _, dir := range []string{manifestsDir, metadataDir, testsDir} {
		if err := os.RemoveAll(filepath.Join(out, dir)); err != nil {
			return err
		}
	}
	for _, name := range sortedKeys(files) {
		path := filepath.Join(out, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(path, files[name], 0o644); err != nil {
			return err
		}
	}
	return nil
}

// kustomize builds a kustomization as `kubectl kustomize` does.
func kustomize(dir string) ([]*unstructured.Unstructured, error) {
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	resmap, err := k.Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		return nil, fmt.Errorf("failed to build %s: %w", dir, err)
	}
	var objs []*unstructured.Unstructured
	for _, r := range resmap.Resources() {
		// Through JSON, so that numbers are int64 as in objects read from the API.
		data, err := r.MarshalJSON()
		if err != nil {
			return nil, fmt.Errorf("failed to read an object of %s: %w", dir, err)
		}
		u := &unstructured.Unstructured{}
		if err := u.UnmarshalJSON(data); err != nil {
			return nil, fmt.Errorf("failed to read an object of %s: %w", dir, err)
		}
		objs = append(objs, u)
	}
	return objs, nil
}

func readBaseCSV(path string) (*operatorsv1alpha1.ClusterServiceVersion, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("failed to read the CSV base: %w", err)
	}
	csv := &operatorsv1alpha1.ClusterServiceVersion{}
	// Strict, so that a misspelt field in the base fails instead of vanishing.
	if err := yaml.UnmarshalStrict(data, csv); err != nil {
		return nil, fmt.Errorf("failed to decode %s: %w", path, err)
	}
	return csv, nil
}

// almExamples are the logplane objects of config/samples as the JSON array OLM shows as
// "create" templates; namespaces are dropped because the console fills in its own.
func almExamples(samples []*unstructured.Unstructured) (string, error) {
	var examples []map[string]any
	for _, o := range samples {
		if o.GroupVersionKind().Group != crdGroupSuffix {
			continue
		}
		o = o.DeepCopy()
		o.SetNamespace("")
		examples = append(examples, o.Object)
	}
	if len(examples) == 0 {
		return "", fmt.Errorf("%s holds no %s objects for alm-examples", samplesDir, crdGroupSuffix)
	}
	sort.SliceStable(examples, func(i, j int) bool {
		a, b := examples[i], examples[j]
		if a["kind"] != b["kind"] {
			return a["kind"].(string) < b["kind"].(string)
		}
		return nestedName(a) < nestedName(b)
	})
	data, err := json.MarshalIndent(examples, "", "  ")
	if err != nil {
		return "", err
	}
	return string(data), nil
}

// namespaceTemplate is the install's Namespace reduced to name, labels and annotations.
func namespaceTemplate(ns *unstructured.Unstructured) (string, error) {
	meta := map[string]any{"name": ns.GetName()}
	if l := ns.GetLabels(); len(l) > 0 {
		meta["labels"] = l
	}
	if a := ns.GetAnnotations(); len(a) > 0 {
		meta["annotations"] = a
	}
	data, err := json.Marshal(map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": meta})
	return string(data), err
}

func nestedName(o map[string]any) string {
	name, _, _ := unstructured.NestedString(o, "metadata", "name")
	return name
}

// bundleAnnotations are shared by metadata/annotations.yaml and the bundle image's
// labels; OLM reads either.
func bundleAnnotations(channels []string, defaultChannel string) map[string]string {
	return map[string]string{
		"operators.operatorframework.io.bundle.mediatype.v1":       "registry+v1",
		"operators.operatorframework.io.bundle.manifests.v1":       "manifests/",
		"operators.operatorframework.io.bundle.metadata.v1":        "metadata/",
		"operators.operatorframework.io.bundle.package.v1":         Package,
		"operators.operatorframework.io.bundle.channels.v1":        strings.Join(channels, ","),
		"operators.operatorframework.io.bundle.channel.default.v1": defaultChannel,
		"operators.operatorframework.io.test.mediatype.v1":         "scorecard+v1",
		"operators.operatorframework.io.test.config.v1":            "tests/scorecard/",
	}
}

func dockerfile(annotations map[string]string) []byte {
	var b bytes.Buffer
	b.WriteString("# Generated by `make bundle` (hack/bundle); do not edit.\n")
	b.WriteString("# docker build -f bundle.Dockerfile -t <registry>/logplane-bundle:v<version> .\n")
	b.WriteString("FROM scratch\n\n")
	for _, k := range sortedKeys(annotations) {
		fmt.Fprintf(&b, "LABEL %s=%s\n", k, annotations[k])
	}
	b.WriteString("\nCOPY bundle/manifests /manifests/\n")
	b.WriteString("COPY bundle/metadata /metadata/\n")
	b.WriteString("COPY bundle/tests/scorecard /tests/scorecard/\n")
	return b.Bytes()
}

// extraFileName follows operator-sdk's naming of non-CSV, non-CRD bundle files.
func extraFileName(o *unstructured.Unstructured) string {
	gvk := o.GroupVersionKind()
	parts := []string{o.GetName()}
	if gvk.Group != "" {
		parts = append(parts, gvk.Group)
	}
	parts = append(parts, gvk.Version, strings.ToLower(gvk.Kind))
	return strings.Join(parts, "_") + ".yaml"
}

// marshalYAML writes v as YAML with sorted keys, without null fields (creationTimestamp:
// null and the like) and without the top-level fields named in drop.
func marshalYAML(v any, drop ...string) ([]byte, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, err
	}
	for _, k := range drop {
		delete(m, k)
	}
	return yaml.Marshal(pruneNulls(m))
}

// dropDefaults removes what the typed CSV encodes although nobody set it: an empty
// apiservicedefinitions, cleanup disabled (the default) and empty deployment strategies.
func dropDefaults(csvYAML []byte) ([]byte, error) {
	var m map[string]any
	if err := yaml.Unmarshal(csvYAML, &m); err != nil {
		return nil, err
	}
	spec, _ := m["spec"].(map[string]any)
	if a, ok := spec["apiservicedefinitions"].(map[string]any); ok && len(a) == 0 {
		delete(spec, "apiservicedefinitions")
	}
	if c, ok := spec["cleanup"].(map[string]any); ok && len(c) == 1 && c["enabled"] == false {
		delete(spec, "cleanup")
	}
	deployments, _, _ := unstructured.NestedSlice(m, "spec", "install", "spec", "deployments")
	for _, d := range deployments {
		ds, _ := d.(map[string]any)["spec"].(map[string]any)
		if st, ok := ds["strategy"].(map[string]any); ok && len(st) == 0 {
			delete(ds, "strategy")
		}
	}
	if len(deployments) > 0 {
		if err := unstructured.SetNestedSlice(m, deployments, "spec", "install", "spec", "deployments"); err != nil {
			return nil, err
		}
	}
	return yaml.Marshal(m)
}

func pruneNulls(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, val := range x {
			if val == nil {
				delete(x, k)
				continue
			}
			x[k] = pruneNulls(val)
		}
	case []any:
		for i := range x {
			x[i] = pruneNulls(x[i])
		}
	}
	return v
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
