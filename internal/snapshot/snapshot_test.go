package snapshot

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/logplane/logplane/api/v1alpha1"
)

func TestSecretRefsFindsEveryCredential(t *testing.T) {
	spec := v1.OutputSpec{
		Type: v1.OutputHTTP,
		HTTP: &v1.HTTPOutput{
			Host: "h",
			Headers: []v1.Header{
				{Name: "A", Value: ptr(v1.ConfigString("x"))},
				{Name: "Authorization", ValueFrom: &v1.SecretKeyRef{Name: "api", Key: "token"}},
			},
			BasicAuth: &v1.BasicAuth{User: "u", Password: v1.SecretKeyRef{Name: "basic", Key: "pw"}},
		},
		TLS: &v1.TLS{CA: &v1.SecretKeyRef{Name: "ca", Key: "ca.crt"}},
	}
	got := SecretRefs(spec)
	want := []SecretRef{
		{"spec.http.headers[1].valueFrom", v1.SecretKeyRef{Name: "api", Key: "token"}},
		{"spec.http.basicAuth.password", v1.SecretKeyRef{Name: "basic", Key: "pw"}},
		{"spec.tls.ca", v1.SecretKeyRef{Name: "ca", Key: "ca.crt"}},
	}
	if len(got) != len(want) {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("ref %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	// Inline embedding (ClusterLogOutputSpec embeds OutputSpec) keeps the same paths.
	cluster := v1.ClusterLogOutputSpec{OutputSpec: spec}
	if got := SecretRefs(cluster); len(got) != 3 || got[0].Path != "spec.http.headers[1].valueFrom" {
		t.Errorf("cluster spec refs = %+v", got)
	}
}

// Scan names the first bad string by its field path (lists, maps and pointers
// included) and, when there is none, lists the Secret references as SecretRefs does.
func TestScanFindsTheFirstBadStringOrTheReferences(t *testing.T) {
	bad := func(s string) bool { return strings.Contains(s, "BAD") }
	spec := v1.LogPipelineSpec{
		Input: v1.LogPipelineInput{Containers: &v1.ContainerSelection{
			PodSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}}},
		Filters: []v1.Filter{
			{Type: v1.FilterGrep, Grep: &v1.GrepFilter{Exclude: []v1.FieldMatch{{Field: "log", Regex: "ok"}}}},
			{Type: v1.FilterAddFields, AddFields: &v1.AddFieldsFilter{Fields: []v1.KeyValue{{Key: "k", Value: "a BAD value"}}}},
		},
	}
	path, value, found, _ := Scan(&spec, bad, false)
	if !found || path != "spec.filters[1].addFields.fields[0].value" || value != "a BAD value" {
		t.Errorf("Scan = %q, %q, %v", path, value, found)
	}
	spec.Input.Containers.PodSelector.MatchLabels["BAD"] = "x"
	if path, _, _, _ := Scan(&spec, bad, false); path != "spec.input.containers.podSelector.matchLabels.BAD" {
		t.Errorf("a bad label key: path %q", path)
	}
	// Of several bad entries the first in key order, on every walk: map order must not
	// move the message.
	for _, k := range []string{"z", "m", "c", "q", "b2"} {
		spec.Input.Containers.PodSelector.MatchLabels[k] = "BAD"
	}
	for range 20 {
		if path, _, _, _ := Scan(&spec, bad, false); path != "spec.input.containers.podSelector.matchLabels.BAD" {
			t.Fatalf("several bad labels: path %q", path)
		}
	}
	delete(spec.Input.Containers.PodSelector.MatchLabels, "BAD")
	for range 20 {
		if path, _, _, _ := Scan(&spec, bad, false); path != "spec.input.containers.podSelector.matchLabels.b2" {
			t.Fatalf("several bad label values: path %q", path)
		}
	}
	out := v1.OutputSpec{Type: v1.OutputHTTP, HTTP: &v1.HTTPOutput{Host: "h",
		BasicAuth: &v1.BasicAuth{User: "u", Password: v1.SecretKeyRef{Name: "basic", Key: "pw"}}}}
	if _, _, found, refs := Scan(&out, bad, true); found || len(refs) != 1 || refs[0].Path != "spec.http.basicAuth.password" {
		t.Errorf("clean output: found %v, refs %+v", found, refs)
	}
}

func TestLoadFilesReadsTheSamples(t *testing.T) {
	s, err := LoadFiles([]string{filepath.Join("..", "..", "config", "samples")}, "logplane-system", "default")
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]int{
		"agents": len(s.Agents), "clusterPipelines": len(s.ClusterPipelines), "pipelines": len(s.Pipelines),
		"outputs": len(s.Outputs), "clusterOutputs": len(s.ClusterOutputs), "policies": len(s.Policies),
		"secrets": len(s.Secrets), "grants": len(s.Grants),
	}
	want := map[string]int{"agents": 1, "clusterPipelines": 2, "pipelines": 3, "outputs": 3, "clusterOutputs": 2, "policies": 5, "secrets": 1, "grants": 1}
	for k, n := range want {
		if counts[k] != n {
			t.Errorf("%s: %d, want %d", k, counts[k], n)
		}
	}
	ix := NewIndex(s)
	if !ix.HasSecretKey("billing", "loki-credentials", "password") || ix.HasSecretKey("billing", "loki-credentials", "user") {
		t.Error("secret keys not indexed from stringData")
	}
	if l, ok := ix.NamespaceLabels("billing"); !ok || l["logging.logplane.dev/sidecar-injection"] != "enabled" {
		t.Errorf("billing labels = %v, %v", l, ok)
	}
	// As the API server does, every namespace is labelled with its name: the samples'
	// IdentityGrant selects the shop by that label.
	if l, ok := ix.NamespaceLabels("shop"); !ok || l["kubernetes.io/metadata.name"] != "shop" {
		t.Errorf("shop labels = %v, %v", l, ok)
	}
}

func TestLoadFilesRejectsUnknownFields(t *testing.T) {
	dir := t.TempDir()
	bad := "apiVersion: logging.logplane.dev/v1alpha1\nkind: LogOutput\nmetadata: {name: o}\nspec: {type: stdout, stdout: {}, colour: red}\n"
	if err := os.WriteFile(filepath.Join(dir, "bad.yaml"), []byte(bad), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadFiles([]string{dir}, "ops", "default"); err == nil {
		t.Fatal("accepted a manifest with an unknown field")
	}
}

func TestLoadFilesSkipsForeignKindsAndDefaultsNamespace(t *testing.T) {
	dir := t.TempDir()
	data := `# leading comment only
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec: {selector: {matchLabels: {a: b}}, template: {metadata: {labels: {a: b}}, spec: {containers: [{name: c, image: i}]}}}
---
apiVersion: logging.logplane.dev/v1alpha1
kind: LogPipeline
metadata: {name: p}
spec: {input: {containers: {}}, outputRefs: [o]}
`
	if err := os.WriteFile(filepath.Join(dir, "mixed.yml"), []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := LoadFiles([]string{dir}, "ops", "team-a")
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Pipelines) != 1 || s.Pipelines[0].Namespace != "team-a" {
		t.Fatalf("pipelines = %+v", s.Pipelines)
	}
	if len(s.Namespaces) != 1 || s.Namespaces[0].Name != "team-a" || s.Namespaces[0].Labels["kubernetes.io/metadata.name"] != "team-a" {
		t.Fatalf("namespaces = %+v", s.Namespaces)
	}
}

func ptr[T any](v T) *T { return &v }
