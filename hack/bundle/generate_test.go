package main

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	operatorsv1alpha1 "github.com/operator-framework/api/pkg/operators/v1alpha1"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/yaml"

	"github.com/logplane/logplane/internal/fluentbit"
	goldenfile "github.com/logplane/logplane/test/golden"
)

const repoRoot = "../.."

func webhookFixtureOptions() Options {
	return Options{
		Root: repoRoot, Version: "0.1.0", Image: "ghcr.io/logplane/logplane:v0.1.0",
		Channels: "candidate", DefaultChannel: "candidate",
		InstallDir: "hack/bundle/testdata/webhook",
	}
}

func readCSV(t *testing.T, files Files) *operatorsv1alpha1.ClusterServiceVersion {
	t.Helper()
	data, ok := files[filepath.Join(manifestsDir, "logplane.clusterserviceversion.yaml")]
	if !ok {
		t.Fatal("no CSV generated")
	}
	csv := &operatorsv1alpha1.ClusterServiceVersion{}
	if err := yaml.UnmarshalStrict(data, csv); err != nil {
		t.Fatalf("generated CSV does not decode strictly: %v", err)
	}
	return csv
}

// The install with the webhook (as config/webhook adds it) becomes a CSV webhook
// definition; OLM's replacements of the Service and configuration are not shipped and
// the manager leaves certificates to OLM.
func TestWebhookInstall(t *testing.T) {
	files, notes, err := Generate(webhookFixtureOptions())
	if err != nil {
		t.Fatal(err)
	}
	csv := readCSV(t, files)

	if n := len(csv.Spec.WebhookDefinitions); n != 1 {
		t.Fatalf("%d webhook definitions, want 1", n)
	}
	w := csv.Spec.WebhookDefinitions[0]
	if w.GenerateName != "sidecar.logging.logplane.dev" || w.Type != operatorsv1alpha1.MutatingAdmissionWebhook ||
		w.DeploymentName != "logplane-controller-manager" || w.ContainerPort != 443 ||
		w.TargetPort == nil || w.TargetPort.IntValue() != 9443 || w.WebhookPath == nil || *w.WebhookPath != "/mutate-v1-pod" {
		t.Errorf("webhook definition %+v", w)
	}
	if w.FailurePolicy == nil || *w.FailurePolicy != "Ignore" || w.TimeoutSeconds == nil || *w.TimeoutSeconds != 5 || w.ObjectSelector == nil {
		t.Errorf("webhook definition lost failurePolicy, timeout or objectSelector: %+v", w)
	}

	args := csv.Spec.InstallStrategy.StrategySpec.DeploymentSpecs[0].Spec.Template.Spec.Containers[0].Args
	if n := count(args, "--webhook-cert-mode=external"); n != 1 || count(args, "--webhook-cert-mode=self") != 0 {
		t.Errorf("manager args %v, want --webhook-cert-mode=external once and no self", args)
	}

	for name := range files {
		if strings.Contains(name, "webhook") {
			t.Errorf("%s is shipped; OLM creates the webhook Service and configuration itself", name)
		}
	}
	if _, ok := files[filepath.Join(manifestsDir, "logplane-metrics-service_v1_service.yaml")]; !ok {
		t.Error("the metrics Service, which OLM does not replace, is not shipped")
	}
	if len(notes) != 1 || !strings.Contains(notes[0], "namespaceSelector") {
		t.Errorf("notes %q, want one about the namespaceSelector OLM replaces", notes)
	}
	// Only what this fixture is about, so that API or RBAC changes do not touch it; the
	// whole CSV of the real install is drift-checked by hack/verify-generated.sh.
	webhookPart, err := yaml.Marshal(map[string]any{
		"webhookdefinitions": csv.Spec.WebhookDefinitions,
		"managerArgs":        args,
	})
	if err != nil {
		t.Fatal(err)
	}
	golden(t, filepath.Join("testdata", "webhook", "golden.yaml"), webhookPart)
}

// The plain install: every CRD owned with descriptors, both images related, the
// samples as examples, RBAC split by scope, and nothing OLM creates itself.
func TestDefaultInstall(t *testing.T) {
	opts := webhookFixtureOptions()
	opts.InstallDir = "config/default"
	opts.CreatedAt = "2026-01-02T03:04:05Z"
	files, _, err := Generate(opts)
	if err != nil {
		t.Fatal(err)
	}
	csv := readCSV(t, files)
	if csv.Name != "logplane.v0.1.0" || csv.Spec.Version.String() != "0.1.0" {
		t.Errorf("name %s version %s", csv.Name, csv.Spec.Version.String())
	}
	if csv.Annotations["createdAt"] != opts.CreatedAt {
		t.Errorf("createdAt %q, want the pinned value", csv.Annotations["createdAt"])
	}
	var ns struct {
		Kind     string
		Metadata struct {
			Name   string
			Labels map[string]string
		}
	}
	if err := yaml.Unmarshal([]byte(csv.Annotations["operatorframework.io/suggested-namespace-template"]), &ns); err != nil ||
		ns.Kind != "Namespace" || ns.Metadata.Name != "logplane-system" || ns.Metadata.Labels["pod-security.kubernetes.io/enforce"] != "privileged" {
		t.Errorf("suggested namespace template %+v (%v), want logplane-system with Pod Security privileged", ns, err)
	}
	wantImages := map[string]string{"logplane": opts.Image, "fluent-bit": fluentbit.Image}
	for _, ri := range csv.Spec.RelatedImages {
		if wantImages[ri.Name] != ri.Image {
			t.Errorf("related image %s=%s", ri.Name, ri.Image)
		}
		delete(wantImages, ri.Name)
	}
	if len(wantImages) != 0 {
		t.Errorf("related images missing: %v", wantImages)
	}

	owned := csv.Spec.CustomResourceDefinitions.Owned
	crdFiles := 0
	for name := range files {
		if strings.HasPrefix(filepath.Base(name), "logging.logplane.dev_") {
			crdFiles++
		}
	}
	if len(owned) != 7 || crdFiles != 7 {
		t.Fatalf("%d owned CRDs and %d CRD files, want 7 each", len(owned), crdFiles)
	}
	for _, d := range owned {
		if d.Kind == "IdentityGrant" {
			// The platform's own configuration, which the operator only reads: no status.
			if d.Description == "" || len(d.SpecDescriptors) == 0 || len(d.StatusDescriptors) != 0 {
				t.Errorf("%s: description %q, %d spec and %d status descriptors", d.Kind, d.Description, len(d.SpecDescriptors), len(d.StatusDescriptors))
			}
			continue
		}
		if d.Description == "" || len(d.SpecDescriptors) == 0 || len(d.StatusDescriptors) == 0 {
			t.Errorf("%s: description %q, %d spec and %d status descriptors", d.Kind, d.Description, len(d.SpecDescriptors), len(d.StatusDescriptors))
		}
		if !hasConditionsDescriptor(d) {
			t.Errorf("%s: no conditions status descriptor", d.Kind)
		}
	}

	var examples []map[string]any
	if err := yaml.Unmarshal([]byte(csv.Annotations["alm-examples"]), &examples); err != nil {
		t.Fatal(err)
	}
	kinds := map[string]bool{}
	for _, e := range examples {
		kinds[e["kind"].(string)] = true
	}
	for _, d := range owned {
		if !kinds[d.Kind] {
			t.Errorf("alm-examples has no %s", d.Kind)
		}
	}

	s := csv.Spec.InstallStrategy.StrategySpec
	if len(s.ClusterPermissions) != 1 || len(s.Permissions) != 1 ||
		s.ClusterPermissions[0].ServiceAccountName != "logplane-controller-manager" {
		t.Errorf("permissions %+v / cluster %+v", s.Permissions, s.ClusterPermissions)
	}
	for name, data := range files {
		var obj struct{ Kind string }
		if err := yaml.Unmarshal(data, &obj); err != nil {
			continue // not YAML: the Dockerfile
		}
		switch obj.Kind {
		case "Namespace", "ClusterRoleBinding", "RoleBinding", "MutatingWebhookConfiguration", "ValidatingWebhookConfiguration", "Certificate", "Issuer":
			t.Errorf("%s ships a %s, which OLM creates or replaces", name, obj.Kind)
		case "ServiceAccount":
			t.Errorf("%s ships the operator's ServiceAccount, which OLM creates", name)
		}
	}
	if modes := supportedModes(csv); len(modes) != 1 || modes[0] != operatorsv1alpha1.InstallModeTypeAllNamespaces {
		t.Errorf("supported install modes %v, want AllNamespaces only", modes)
	}
}

// The manager leaves certificates to OLM exactly when the CSV has webhooks; a manager
// without a webhook would not know the flag.
func TestCertModeFollowsWebhooks(t *testing.T) {
	for _, install := range []string{"config/default", "hack/bundle/testdata/webhook"} {
		opts := webhookFixtureOptions()
		opts.InstallDir = install
		files, _, err := Generate(opts)
		if err != nil {
			t.Fatal(err)
		}
		csv := readCSV(t, files)
		args := csv.Spec.InstallStrategy.StrategySpec.DeploymentSpecs[0].Spec.Template.Spec.Containers[0].Args
		hasWebhooks := len(csv.Spec.WebhookDefinitions) > 0
		if external := count(args, "--webhook-cert-mode=external"); (external == 1) != hasWebhooks || external > 1 {
			t.Errorf("%s: %d webhook definitions, manager args %v", install, len(csv.Spec.WebhookDefinitions), args)
		}
	}
}

// Same inputs, same bytes: no clock, no map order.
func TestGenerateIsDeterministic(t *testing.T) {
	a, _, err := Generate(webhookFixtureOptions())
	if err != nil {
		t.Fatal(err)
	}
	b, _, err := Generate(webhookFixtureOptions())
	if err != nil {
		t.Fatal(err)
	}
	if len(a) != len(b) {
		t.Fatalf("%d files, then %d", len(a), len(b))
	}
	for name := range a {
		if !bytes.Equal(a[name], b[name]) {
			t.Errorf("%s differs between two runs", name)
		}
	}
}

func TestGenerateRejectsBadOptions(t *testing.T) {
	for name, mutate := range map[string]func(*Options){
		"leading v":             func(o *Options) { o.Version = "v0.1.0" },
		"no image":              func(o *Options) { o.Image = "" },
		"default not a channel": func(o *Options) { o.DefaultChannel = "stable" },
		"missing install":       func(o *Options) { o.InstallDir = "hack/bundle/testdata/none" },
	} {
		t.Run(name, func(t *testing.T) {
			opts := webhookFixtureOptions()
			mutate(&opts)
			if _, _, err := Generate(opts); err == nil {
				t.Error("no error")
			}
		})
	}
}

func TestSetExternalCertMode(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		port intstr.IntOrString
		want []string
	}{
		{"appended", []string{"manager"}, intstr.FromInt32(9443), []string{"manager", "--webhook-cert-mode=external"}},
		{"replaces =self", []string{"manager", "--webhook-cert-mode=self", "--x"}, intstr.FromInt32(9443), []string{"manager", "--webhook-cert-mode=external", "--x"}},
		{"replaces spaced form", []string{"manager", "--webhook-cert-mode", "self", "--x"}, intstr.FromString("webhook-server"), []string{"manager", "--webhook-cert-mode=external", "--x"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := &appsv1.Deployment{}
			d.Spec.Template.Spec.Containers = []corev1.Container{
				{Name: "other", Args: []string{"a"}},
				{Name: managerContainer, Args: tc.args, Ports: []corev1.ContainerPort{{Name: "webhook-server", ContainerPort: 9443}}},
			}
			if err := setExternalCertMode(d, tc.port); err != nil {
				t.Fatal(err)
			}
			if got := d.Spec.Template.Spec.Containers[1].Args; strings.Join(got, " ") != strings.Join(tc.want, " ") {
				t.Errorf("args %v, want %v", got, tc.want)
			}
			if got := d.Spec.Template.Spec.Containers[0].Args; len(got) != 1 {
				t.Errorf("other container changed: %v", got)
			}
		})
	}
}

func TestPermissionsRejectNonServiceAccounts(t *testing.T) {
	p := &installParts{
		clusterRoles: map[string]rbacv1.ClusterRole{"r": {ObjectMeta: metav1.ObjectMeta{Name: "r"}}},
		roles:        map[string]rbacv1.Role{},
		clusterRoleBindings: []rbacv1.ClusterRoleBinding{{
			ObjectMeta: metav1.ObjectMeta{Name: "b"},
			RoleRef:    rbacv1.RoleRef{Kind: "ClusterRole", Name: "r"},
			Subjects:   []rbacv1.Subject{{Kind: "Group", Name: "system:authenticated"}},
		}},
	}
	if _, _, _, _, err := permissions(p); err == nil || !strings.Contains(err.Error(), "Group") {
		t.Errorf("err %v, want a refusal of the Group subject", err)
	}
	p.clusterRoleBindings[0].Subjects = nil
	p.clusterRoleBindings[0].RoleRef.Name = "missing"
	if _, _, _, _, err := permissions(p); err == nil {
		t.Error("binding to a missing role accepted")
	}
}

func TestWebhookServiceResolution(t *testing.T) {
	svc := corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "s"}, Spec: corev1.ServiceSpec{
		Selector: map[string]string{"app": "x"},
		Ports:    []corev1.ServicePort{{Port: 443, TargetPort: intstr.FromString("webhook-server")}, {Port: 8443}},
	}}
	if got, err := targetPort(svc, 443); err != nil || got.StrVal != "webhook-server" {
		t.Errorf("targetPort(443) = %v, %v", got, err)
	}
	if got, err := targetPort(svc, 8443); err != nil || got.IntValue() != 8443 {
		t.Errorf("targetPort without targetPort = %v, %v; want the port itself", got, err)
	}
	if _, err := targetPort(svc, 9); err == nil {
		t.Error("unknown port accepted")
	}
	deployment := func(name string, labels map[string]string) appsv1.Deployment {
		d := appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: name}}
		d.Spec.Template.Labels = labels
		return d
	}
	p := &installParts{deployments: []appsv1.Deployment{deployment("a", map[string]string{"app": "x"}), deployment("b", map[string]string{"app": "y"})}}
	if name, err := selectedDeployment(p, svc); err != nil || name != "a" {
		t.Errorf("selectedDeployment = %q, %v", name, err)
	}
	p.deployments = append(p.deployments, deployment("c", map[string]string{"app": "x"}))
	if _, err := selectedDeployment(p, svc); err == nil {
		t.Error("a Service selecting two Deployments accepted")
	}
}

func TestDisplayName(t *testing.T) {
	for in, want := range map[string]string{
		"observedGeneration": "Observed Generation",
		"ClusterLogOutput":   "Cluster Log Output",
		"tls":                "Tls",
		"maxUnavailable":     "Max Unavailable",
		"HTTPHeaders":        "HTTP Headers",
	} {
		if got := displayName(in); got != want {
			t.Errorf("displayName(%q) = %q, want %q", in, got, want)
		}
	}
}

func hasConditionsDescriptor(d operatorsv1alpha1.CRDDescription) bool {
	for _, s := range d.StatusDescriptors {
		if s.Path == "conditions" && len(s.XDescriptors) == 1 && s.XDescriptors[0] == xConditions {
			return true
		}
	}
	return false
}

func supportedModes(csv *operatorsv1alpha1.ClusterServiceVersion) []operatorsv1alpha1.InstallModeType {
	var out []operatorsv1alpha1.InstallModeType
	for _, m := range csv.Spec.InstallModes {
		if m.Supported {
			out = append(out, m.Type)
		}
	}
	return out
}

func count(list []string, s string) int {
	n := 0
	for _, x := range list {
		if x == s {
			n++
		}
	}
	return n
}

// The webhook OLM creates from the definition is the one the kustomize install has, but
// for what OLM owns: the Service it points at, the CA bundle and the namespace selector.
func TestWebhookRoundTripsThroughOLM(t *testing.T) {
	files, _, err := Generate(webhookFixtureOptions())
	if err != nil {
		t.Fatal(err)
	}
	def := readCSV(t, files).Spec.WebhookDefinitions[0]
	got := def.GetMutatingWebhook("logplane-system", nil, nil)

	objs, err := kustomize(filepath.Join(repoRoot, "hack", "bundle", "testdata", "webhook"))
	if err != nil {
		t.Fatal(err)
	}
	p, err := partition(objs)
	if err != nil {
		t.Fatal(err)
	}
	want := p.mutatingWebhooks[0].Webhooks[0]

	wantPort := int32(443) // the API server's default when the install leaves it out
	if want.ClientConfig.Service.Port != nil {
		wantPort = *want.ClientConfig.Service.Port
	}
	if s := got.ClientConfig.Service; s == nil || s.Namespace != "logplane-system" || s.Port == nil || *s.Port != wantPort ||
		s.Path == nil || *s.Path != *want.ClientConfig.Service.Path {
		t.Errorf("OLM's clientConfig %+v, want port %d path %s in logplane-system", s, wantPort, *want.ClientConfig.Service.Path)
	}
	got.ClientConfig, want.ClientConfig = admissionregistrationv1.WebhookClientConfig{}, admissionregistrationv1.WebhookClientConfig{}
	got.NamespaceSelector, want.NamespaceSelector = nil, nil
	if !equality.Semantic.DeepEqual(got, want) {
		gy, _ := yaml.Marshal(got)
		wy, _ := yaml.Marshal(want)
		t.Errorf("OLM would create\n%s\nthe install has\n%s", gy, wy)
	}
}

var golden = goldenfile.Compare
