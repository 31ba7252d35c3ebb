package integration

import (
	"context"
	"fmt"
	"slices"
	"testing"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/logplane/logplane/api/v1alpha1"
	"github.com/logplane/logplane/internal/conditions"
	"github.com/logplane/logplane/internal/sidecar"
	"github.com/logplane/logplane/test/testenv"
)

func createNamespace(t *testing.T, name string, optIn bool) {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if optIn {
		ns.Labels = map[string]string{sidecar.LabelInjection: sidecar.InjectionEnabled}
	}
	if err := k8s.Create(t.Context(), ns); err != nil {
		t.Fatal(err)
	}
}

func billingPod(namespace, name, app string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name, Labels: map[string]string{"app": app}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "billing:1"}}},
	}
}

func injected(p *corev1.Pod) bool {
	return slices.ContainsFunc(p.Spec.InitContainers, func(c corev1.Container) bool { return c.Name == sidecar.ContainerName })
}

// createPod creates p and returns what the API server stored, after admission.
func createPod(t *testing.T, p *corev1.Pod) *corev1.Pod {
	t.Helper()
	if err := k8s.Create(t.Context(), p); err != nil {
		t.Fatalf("create pod %s/%s: %v", p.Namespace, p.Name, err)
	}
	return p
}

func sidecarCounts(t *testing.T, namespace, name string) (*v1.LogPipeline, error) {
	var p v1.LogPipeline
	if err := k8s.Get(t.Context(), client.ObjectKey{Namespace: namespace, Name: name}, &p); err != nil {
		return nil, err
	}
	if p.Status.Sidecars == nil {
		return nil, errString("no status.sidecars yet")
	}
	return &p, nil
}

// The real API server calls the webhook over TLS: a selected pod in an opted-in
// namespace gets the sidecar; every other pod is stored as sent; the pipeline's
// Secret appears in its namespace, owned by it; status.sidecars counts the pods.
func TestSidecarInjection(t *testing.T) {
	ctx := t.Context()
	const tenant, neighbour, off = "sidecar-tenant", "sidecar-neighbour", "sidecar-off"
	createNamespace(t, tenant, true)
	createNamespace(t, neighbour, true)
	createNamespace(t, off, false)

	// A pod created before its pipeline has no sidecar: it counts as missing.
	early := createPod(t, billingPod(tenant, "early", "billing"))
	if injected(early) {
		t.Fatal("a pod was injected before any pipeline existed")
	}

	for _, obj := range []client.Object{
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: tenant, Name: "loki-credentials"}, StringData: map[string]string{"password": "s3cret"}},
		&v1.LogOutput{ObjectMeta: metav1.ObjectMeta{Namespace: tenant, Name: "loki"}, Spec: v1.OutputSpec{
			Type: v1.OutputLoki, Loki: &v1.LokiOutput{Host: "loki.example", BasicAuth: &v1.BasicAuth{User: "billing",
				Password: v1.SecretKeyRef{Name: "loki-credentials", Key: "password"}}}}},
		&v1.LogPipeline{ObjectMeta: metav1.ObjectMeta{Namespace: tenant, Name: "billing-files"}, Spec: v1.LogPipelineSpec{
			Input: v1.LogPipelineInput{Files: &v1.FileInput{
				PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{"app": "billing"}},
				Container:   "app", Paths: []v1.LogFilePath{"/var/log/billing/*.log"}}},
			OutputRefs: []v1.ResourceName{"loki"}}},
	} {
		if err := k8s.Create(ctx, obj); err != nil {
			t.Fatal(err)
		}
	}

	var secret corev1.Secret
	eventually(t, "sidecar Secret written", func() error {
		return k8s.Get(ctx, client.ObjectKey{Namespace: tenant, Name: sidecar.SecretName("billing-files")}, &secret)
	})
	owner := metav1.GetControllerOf(&secret)
	if owner == nil || owner.Kind != "LogPipeline" || owner.Name != "billing-files" {
		t.Fatalf("sidecar Secret owned by %+v, want the LogPipeline", owner)
	}
	m, err := sidecar.DecodeManifest(secret.Annotations[sidecar.AnnotationManifest])
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Env) != 1 || string(secret.Data[m.Env[0]]) != "s3cret" || len(secret.Data["fluent-bit.yaml"]) == 0 {
		t.Fatalf("sidecar Secret holds %v, manifest %+v", keys(secret.Data), m)
	}

	// The webhook reads the Secret from the manager's cache, which may trail the
	// write above by a moment: retry with new pods until one is injected.
	var pod *corev1.Pod
	for i := 0; ; i++ {
		pod = createPod(t, billingPod(tenant, fmt.Sprintf("app-%d", i), "billing"))
		if injected(pod) || i == 50 {
			break
		}
		if err := k8s.Delete(ctx, pod); err != nil {
			t.Fatal(err)
		}
	}
	if !injected(pod) {
		t.Fatal("a selected pod in an opted-in namespace got no sidecar")
	}
	if got := sidecar.ParseHashes(pod.Annotations[sidecar.AnnotationHashes])["billing-files"]; got != m.Hash {
		t.Fatalf("pod carries hash %q, Secret %q", got, m.Hash)
	}
	sc := pod.Spec.InitContainers[len(pod.Spec.InitContainers)-1]
	if sc.RestartPolicy == nil || *sc.RestartPolicy != corev1.ContainerRestartPolicyAlways {
		t.Fatal("the sidecar is not a native sidecar on a server that supports them")
	}
	if !slices.ContainsFunc(pod.Spec.Containers[0].VolumeMounts, func(v corev1.VolumeMount) bool { return v.MountPath == "/var/log/billing" }) {
		t.Fatalf("the app container does not share /var/log/billing: %+v", pod.Spec.Containers[0].VolumeMounts)
	}

	// Pods that must be stored exactly as sent.
	kubeSystem := &corev1.Namespace{}
	if err := k8s.Get(ctx, client.ObjectKey{Name: "kube-system"}, kubeSystem); err != nil {
		t.Fatal(err)
	}
	kubeSystem.Labels[sidecar.LabelInjection] = sidecar.InjectionEnabled
	if err := k8s.Update(ctx, kubeSystem); err != nil {
		t.Fatal(err)
	}
	alreadyInjected := billingPod(tenant, "already", "billing")
	alreadyInjected.Spec.Containers = append(alreadyInjected.Spec.Containers, corev1.Container{Name: sidecar.ContainerName, Image: "own-fluent-bit:1"})
	for name, p := range map[string]*corev1.Pod{
		"not selected":             billingPod(tenant, "web", "web"),
		"namespace not opted in":   billingPod(off, "billing", "billing"),
		"kube-system":              billingPod("kube-system", "billing", "billing"),
		"other tenant's namespace": billingPod(neighbour, "billing", "billing"),
		"already has the sidecar":  alreadyInjected,
	} {
		sent := p.DeepCopy()
		got := createPod(t, p)
		if injected(got) || len(got.Spec.Containers) != len(sent.Spec.Containers) || got.Annotations[sidecar.AnnotationHashes] != "" {
			t.Errorf("%s: pod was changed: %+v", name, got.Spec)
		}
	}

	eventually(t, "status.sidecars counts the pods", func() error {
		p, err := sidecarCounts(t, tenant, "billing-files")
		if err != nil {
			return err
		}
		// early and alreadyInjected have no sidecar of this pipeline.
		if *p.Status.Sidecars != (v1.SidecarCounts{Injected: 1, Missing: 2}) {
			return errString(fmt.Sprintf("counts %+v", *p.Status.Sidecars))
		}
		c := meta.FindStatusCondition(p.Status.Conditions, conditions.TypeSidecarsCurrent)
		if c == nil || c.Status != metav1.ConditionFalse || c.Reason != conditions.ReasonSidecarsOutdated {
			return errString(fmt.Sprintf("condition %+v", c))
		}
		return nil
	})

	// A changed pipeline rewrites its Secret; the injected pod now runs an older
	// configuration until its workload restarts.
	var p v1.LogPipeline
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: tenant, Name: "billing-files"}, &p); err != nil {
		t.Fatal(err)
	}
	p.Spec.Input.Files.Paths = append(p.Spec.Input.Files.Paths, "/var/log/billing/audit/*.log")
	if err := k8s.Update(ctx, &p); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the injected pod counts as outdated", func() error {
		p, err := sidecarCounts(t, tenant, "billing-files")
		if err != nil {
			return err
		}
		if *p.Status.Sidecars != (v1.SidecarCounts{Outdated: 1, Missing: 2}) {
			return errString(fmt.Sprintf("counts %+v", *p.Status.Sidecars))
		}
		return nil
	})
}

// With the webhook unreachable, failurePolicy Ignore lets pods through: a copy of
// the shipped configuration pointed at a closed port must not block a pod.
func TestPodsAreCreatedWhenTheWebhookIsDown(t *testing.T) {
	ctx := t.Context()
	objs, err := testenv.LoadManifests(testenv.RepoRoot() + "/config/webhook")
	if err != nil {
		t.Fatal(err)
	}
	var down admissionregistrationv1.MutatingWebhookConfiguration
	for _, o := range objs {
		if o.GetKind() == "MutatingWebhookConfiguration" {
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, &down); err != nil {
				t.Fatal(err)
			}
		}
	}
	down.Name = "logplane-test-webhook-down"
	url := "https://127.0.0.1:1/mutate-v1-pod"
	for i := range down.Webhooks {
		down.Webhooks[i].ClientConfig = admissionregistrationv1.WebhookClientConfig{URL: &url}
	}
	if err := k8s.Create(ctx, &down); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = k8s.Delete(context.Background(), &down) }) // t.Context() is cancelled by now
	createNamespace(t, "sidecar-webhook-down", true)
	createPod(t, billingPod("sidecar-webhook-down", "app", "billing"))
}

func keys(m map[string][]byte) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
