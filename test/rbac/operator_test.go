package rbac

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/logplane/logplane/api/v1alpha1"
	agentobjects "github.com/logplane/logplane/internal/agent"
	"github.com/logplane/logplane/internal/certs"
	"github.com/logplane/logplane/internal/conditions"
	"github.com/logplane/logplane/internal/manager"
	retentionreconciler "github.com/logplane/logplane/internal/reconciler/retention"
	"github.com/logplane/logplane/internal/sidecar"
	"github.com/logplane/logplane/test/testenv"
)

// operatorUser is who the operator is in a cluster: its ServiceAccount, with the
// groups the API server gives every ServiceAccount token.
var operatorUser = rest.ImpersonationConfig{
	UserName: "system:serviceaccount:" + operatorNamespace + ":logplane-controller-manager",
	Groups:   []string{"system:serviceaccounts", "system:serviceaccounts:" + operatorNamespace, "system:authenticated"},
}

// forbidden records every request the API server refused for lack of rights.
type forbidden struct {
	mu       sync.Mutex
	requests []string
	next     http.RoundTripper
}

func (f *forbidden) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := f.next.RoundTrip(req)
	if err == nil && resp.StatusCode == http.StatusForbidden {
		f.mu.Lock()
		f.requests = append(f.requests, req.Method+" "+req.URL.RequestURI())
		f.mu.Unlock()
	}
	return resp, err
}

func (f *forbidden) list() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.requests)
}

// TestOperatorWorksWithExactlyItsRBAC runs the operator in a real API server as its
// ServiceAccount, bound only to the RBAC config/default installs, through a flow
// that reaches every controller and every kind of write it makes: a second agent
// (agents' shared ClusterRole and binding), pipelines and their statuses, a
// RetentionPolicy, the events collector started and stopped (the events
// ClusterRole created and deleted), a sidecar-injected namespace (a sidecar Secret
// written into a tenant namespace, a pod injected through the webhook), leader
// election, and the certificate rotator patching the webhook's caBundle. Nothing
// may be refused. The optional admission policy on Secret writes (config/policy) is
// in force throughout, and then shown to refuse what RBAC cannot.
func TestOperatorWorksWithExactlyItsRBAC(t *testing.T) {
	env, err := testenv.Start(testenv.WithWebhooks())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Stop(context.Background()) })
	admin := env.Client
	ctx := t.Context()

	// Install the namespace and the RBAC exactly as config/default has them.
	if err := admin.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: operatorNamespace}}); err != nil {
		t.Fatal(err)
	}
	var rbacObjs []*unstructured.Unstructured
	for _, u := range defaultInstall(t) {
		switch u.GetKind() {
		case "ClusterRole", "Role", "ClusterRoleBinding", "RoleBinding", "ServiceAccount":
			rbacObjs = append(rbacObjs, u)
		}
	}
	if err := testenv.Apply(ctx, admin, "rbac-test", rbacObjs); err != nil {
		t.Fatal(err)
	}

	cfg := rest.CopyConfig(env.Config)
	cfg.Impersonate = operatorUser
	refused := &forbidden{}
	cfg.WrapTransport = func(rt http.RoundTripper) http.RoundTripper { refused.next = rt; return refused }
	// The impersonated user holds exactly those rights: a Secret elsewhere is refused.
	operator, err := client.New(cfg, client.Options{Scheme: manager.NewScheme()})
	if err != nil {
		t.Fatal(err)
	}
	if err := operator.Update(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "x"}}); err == nil || len(refused.list()) != 1 {
		t.Fatalf("the operator's user may update any Secret (%v): the test would prove nothing", err)
	}
	// The optional admission policy on the operator's Secret writes (config/policy),
	// active before the operator starts: the flow below must pass it too.
	policy, err := testenv.LoadManifests(filepath.Join(testenv.RepoRoot(), "config", "policy"))
	if err != nil {
		t.Fatal(err)
	}
	if err := testenv.Apply(ctx, admin, "rbac-test", policy); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the Secret policy in force", func() error {
		s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "policy-probe"}}
		if err := operator.Create(ctx, s, client.DryRunAll); err == nil || !strings.Contains(err.Error(), "logplane may write only") {
			return fmt.Errorf("dry-run create of default/policy-probe: %v", err)
		}
		return nil
	})
	refused.mu.Lock()
	refused.requests = nil
	refused.mu.Unlock()
	t.Cleanup(func() {
		if r := refused.list(); t.Failed() && len(r) > 0 {
			t.Logf("requests the API server refused the operator:\n%s", joinLines(r))
		}
	})

	runCtx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- manager.Run(runCtx, cfg, manager.Options{
			MetricsAddr: "0", ProbeAddr: "0", Namespace: operatorNamespace, LeaderElect: true, LeaderElectionID: "logplane-rbac-test",
			FlowInterval: time.Second, RolloutInterval: time.Second,
			Webhook: manager.WebhookOptions{Port: env.WebhookInstallOptions.LocalServingPort,
				Host: env.WebhookInstallOptions.LocalServingHost, CertDir: env.WebhookInstallOptions.LocalServingCertDir,
				CertMode: manager.CertModeExternal},
		}, logr.Discard())
	}()
	t.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("manager: %v", err)
		}
	})

	// Tenants, an agent of their own, outputs, pipelines, retention, events.
	const tenant, files = "team-a", "team-files"
	for _, ns := range []*corev1.Namespace{
		{ObjectMeta: metav1.ObjectMeta{Name: tenant}},
		{ObjectMeta: metav1.ObjectMeta{Name: files, Labels: map[string]string{sidecar.LabelInjection: sidecar.InjectionEnabled}}},
	} {
		if err := admin.Create(ctx, ns); err != nil {
			t.Fatal(err)
		}
	}
	stdout := v1.OutputSpec{Type: v1.OutputStdout, Stdout: &v1.StdoutOutput{}}
	keep := v1.OutputSpec{Type: v1.OutputStdout, Stdout: &v1.StdoutOutput{}, RetentionPolicy: "audit"}
	objs := []client.Object{
		&v1.LogAgent{ObjectMeta: metav1.ObjectMeta{Name: "edge"}},
		&v1.RetentionPolicy{ObjectMeta: metav1.ObjectMeta{Name: "audit"}, Spec: v1.RetentionPolicySpec{Retention: "30d"}},
		&v1.LogOutput{ObjectMeta: metav1.ObjectMeta{Namespace: tenant, Name: "out"}, Spec: keep},
		&v1.LogPipeline{ObjectMeta: metav1.ObjectMeta{Namespace: tenant, Name: "web"}, Spec: v1.LogPipelineSpec{
			Input: v1.LogPipelineInput{Containers: &v1.ContainerSelection{}}, OutputRefs: []v1.ResourceName{"out"}}},
		&v1.LogPipeline{ObjectMeta: metav1.ObjectMeta{Namespace: tenant, Name: "edge"}, Spec: v1.LogPipelineSpec{Agent: "edge",
			Input: v1.LogPipelineInput{Containers: &v1.ContainerSelection{}}, OutputRefs: []v1.ResourceName{"out"}}},
		&v1.LogOutput{ObjectMeta: metav1.ObjectMeta{Namespace: files, Name: "out"}, Spec: stdout},
		&v1.LogPipeline{ObjectMeta: metav1.ObjectMeta{Namespace: files, Name: "audit"}, Spec: v1.LogPipelineSpec{
			Input: v1.LogPipelineInput{Files: &v1.FileInput{
				PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{"app": "billing"}},
				Paths:       []v1.LogFilePath{"/var/log/billing/audit.log"}}},
			OutputRefs: []v1.ResourceName{"out"}}},
		&v1.ClusterLogOutput{ObjectMeta: metav1.ObjectMeta{Name: "events-out"}, Spec: v1.ClusterLogOutputSpec{OutputSpec: stdout}},
		&v1.ClusterLogPipeline{ObjectMeta: metav1.ObjectMeta{Name: "events"}, Spec: v1.ClusterLogPipelineSpec{
			Input: v1.ClusterLogPipelineInput{Events: &v1.EventsInput{}}, ClusterOutputRefs: []v1.ResourceName{"events-out"}}},
	}
	for _, o := range objs {
		if err := admin.Create(ctx, o); err != nil {
			t.Fatalf("create %T %s: %v", o, o.GetName(), err)
		}
	}

	key := func(ns, name string) client.ObjectKey { return client.ObjectKey{Namespace: ns, Name: name} }
	eventually(t, "both agents and the events collector run", func() error {
		for _, name := range []string{agentobjects.ResourceName("default"), agentobjects.ResourceName("edge")} {
			if err := admin.Get(ctx, key(operatorNamespace, name), &appsv1.DaemonSet{}); err != nil {
				return err
			}
		}
		return admin.Get(ctx, key(operatorNamespace, agentobjects.EventsName), &appsv1.Deployment{})
	})
	eventually(t, "the agents share one binding with both ServiceAccounts", func() error {
		return bindingSubjects(ctx, admin, agentobjects.ResourceName("default"), agentobjects.ResourceName("edge"))
	})
	eventually(t, "pipelines' configuration generated", func() error {
		for _, name := range []string{"web", "edge"} {
			var p v1.LogPipeline
			if err := admin.Get(ctx, key(tenant, name), &p); err != nil {
				return err
			}
			if c := meta.FindStatusCondition(p.Status.Conditions, conditions.TypeConfigGenerated); c == nil || c.Status != metav1.ConditionTrue {
				return fmt.Errorf("pipeline %s: ConfigGenerated %+v", name, c)
			}
		}
		return nil
	})
	eventually(t, "retention reported", func() error {
		var rp v1.RetentionPolicy
		if err := admin.Get(ctx, key("", "audit"), &rp); err != nil {
			return err
		}
		if len(rp.Status.Outputs) == 0 {
			return fmt.Errorf("no outputs in status yet")
		}
		return nil
	})
	// An S3 output's retention rule goes with it: the finalizer is added before the
	// bucket is called and removed once the bucket holds no rule of ours (this one has
	// no lifecycle configuration at all).
	bucket := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(`<Error><Code>NoSuchLifecycleConfiguration</Code><Message>none</Message></Error>`))
	}))
	t.Cleanup(bucket.Close)
	archive := &v1.ClusterLogOutput{ObjectMeta: metav1.ObjectMeta{Name: "archive"}, Spec: v1.ClusterLogOutputSpec{OutputSpec: v1.OutputSpec{
		Type: v1.OutputS3, RetentionPolicy: "audit", S3: &v1.S3Output{Bucket: "archive", AWS: v1.AWSAuth{Region: "eu-west-1",
			Endpoint: ptr(v1.EndpointURL(bucket.URL)), Credentials: &v1.AWSCredentials{
				AccessKeyID: v1.SecretKeyRef{Name: "archive-aws", Key: "id"}, SecretAccessKey: v1.SecretKeyRef{Name: "archive-aws", Key: "secret"}}}}}}}
	for _, o := range []client.Object{&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: operatorNamespace, Name: "archive-aws"},
		StringData: map[string]string{"id": "AKIDRBACTEST", "secret": "c2VjcmV0"}}, archive} {
		if err := admin.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, "the retention finalizer on the S3 output", func() error {
		if err := admin.Get(ctx, key("", "archive"), archive); err != nil {
			return err
		}
		if !slices.Contains(archive.Finalizers, retentionreconciler.Finalizer) {
			return fmt.Errorf("finalizers %v", archive.Finalizers)
		}
		return nil
	})
	if err := admin.Delete(ctx, archive); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the S3 output released after its rule was removed", func() error {
		if err := admin.Get(ctx, key("", "archive"), &v1.ClusterLogOutput{}); !apierrors.IsNotFound(err) {
			return fmt.Errorf("still there: %v", err)
		}
		return nil
	})
	eventually(t, "the sidecar Secret written in the tenant namespace", func() error {
		return admin.Get(ctx, key(files, sidecar.SecretName("audit")), &corev1.Secret{})
	})
	// The webhook reads the Secret from the manager's cache, which may trail it.
	eventually(t, "a pod injected", func() error {
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: files, GenerateName: "billing-", Labels: map[string]string{"app": "billing"}},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "billing:1"}}}}
		if err := admin.Create(ctx, pod); err != nil {
			return err
		}
		if pod.Labels[sidecar.LabelInjected] != sidecar.Injected {
			_ = admin.Delete(ctx, pod)
			return fmt.Errorf("pod %s not injected", pod.Name)
		}
		return nil
	})
	eventually(t, "the sidecar pipeline counts its pod", func() error {
		var p v1.LogPipeline
		if err := admin.Get(ctx, key(files, "audit"), &p); err != nil {
			return err
		}
		if p.Status.Sidecars == nil || p.Status.Sidecars.Injected != 1 {
			return fmt.Errorf("sidecars %+v", p.Status.Sidecars)
		}
		return nil
	})

	// Removals: the events collector goes, with its ClusterRole and binding; an agent
	// goes, and its ServiceAccount leaves the shared binding.
	if err := admin.Delete(ctx, &v1.ClusterLogPipeline{ObjectMeta: metav1.ObjectMeta{Name: "events"}}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the events collector and its ClusterRole removed", func() error {
		if err := admin.Get(ctx, key("", agentobjects.EventsClusterRBACName), &rbacv1.ClusterRole{}); err == nil {
			return fmt.Errorf("ClusterRole %s still there", agentobjects.EventsClusterRBACName)
		}
		return nil
	})
	if err := admin.Delete(ctx, &v1.LogPipeline{ObjectMeta: metav1.ObjectMeta{Namespace: tenant, Name: "edge"}}); err != nil {
		t.Fatal(err)
	}
	if err := admin.Delete(ctx, &v1.LogAgent{ObjectMeta: metav1.ObjectMeta{Name: "edge"}}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the deleted agent leaves the shared binding", func() error {
		return bindingSubjects(ctx, admin, agentobjects.ResourceName("default"))
	})

	// The certificate rotator (self-managed certificates), as the operator's user:
	// its Secret, and the caBundle of the webhook configuration config/webhook ships.
	webhookObjs, err := testenv.LoadManifests(filepath.Join(testenv.RepoRoot(), "config", "webhook"))
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range webhookObjs {
		if o.GetKind() == "MutatingWebhookConfiguration" {
			// Nothing serves it here: ignored from the start, and removed at the end.
			if err := testenv.Apply(ctx, admin, "rbac-test", []*unstructured.Unstructured{o}); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = admin.Delete(context.Background(), o) })
		}
	}
	rotator := &certs.Rotator{Client: operator, Namespace: operatorNamespace, SecretName: "logplane-webhook-server-cert",
		WebhookConfig: manager.WebhookConfigName, DNSNames: certs.DNSNames(manager.WebhookServiceName, operatorNamespace),
		CertDir: t.TempDir(), Clock: clock.RealClock{}, Interval: time.Minute, Log: logr.Discard()}
	if err := rotator.Sync(ctx); err != nil {
		t.Fatalf("rotator: %v", err)
	}
	var mwc admissionregistrationv1.MutatingWebhookConfiguration
	if err := admin.Get(ctx, key("", manager.WebhookConfigName), &mwc); err != nil || len(mwc.Webhooks[0].ClientConfig.CABundle) == 0 {
		t.Errorf("caBundle not patched (%v)", err)
	}

	// Give the controllers a few more cycles (flow, status, requeues) to hit anything.
	time.Sleep(3 * time.Second)
	if r := refused.list(); len(r) > 0 {
		t.Errorf("the API server refused the operator %d requests; its RBAC misses:\n%s", len(r), joinLines(r))
	}

	// What RBAC cannot hold, the policy does: outside its namespace, the operator's
	// user may not write a Secret that is not one of its sidecar Secrets.
	theirs := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: tenant, Name: "db-password"}, StringData: map[string]string{"password": "hunter2"}}
	if err := admin.Create(ctx, theirs); err != nil {
		t.Fatal(err)
	}
	sidecarSecret := &corev1.Secret{}
	if err := admin.Get(ctx, key(files, sidecar.SecretName("audit")), sidecarSecret); err != nil {
		t.Fatal(err)
	}
	for what, write := range map[string]func() error{
		"patch a tenant's Secret": func() error {
			return operator.Patch(ctx, theirs.DeepCopy(), client.RawPatch(types.MergePatchType, []byte(`{"stringData":{"password":"x"}}`)))
		},
		"label a tenant's Secret as its own": func() error {
			return operator.Patch(ctx, theirs.DeepCopy(), client.RawPatch(types.MergePatchType,
				[]byte(`{"metadata":{"labels":{"app.kubernetes.io/managed-by":"logplane","app.kubernetes.io/component":"sidecar"}}}`)))
		},
		"delete a tenant's Secret": func() error { return operator.Delete(ctx, theirs.DeepCopy()) },
		"create an unlabelled logplane-sidecar Secret": func() error {
			return operator.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: tenant, Name: "logplane-sidecar-x"}})
		},
		"strip its own labels from a sidecar Secret": func() error {
			return operator.Patch(ctx, sidecarSecret.DeepCopy(), client.RawPatch(types.MergePatchType, []byte(`{"metadata":{"labels":null}}`)))
		},
	} {
		if err := write(); err == nil || !strings.Contains(err.Error(), "logplane may write only") {
			t.Errorf("%s: %v, want the policy's refusal", what, err)
		}
	}
	if err := admin.Get(ctx, client.ObjectKeyFromObject(theirs), theirs); err != nil || string(theirs.Data["password"]) != "hunter2" {
		t.Errorf("the tenant's Secret changed: %v %q", err, theirs.Data["password"])
	}
	if _, err := os.Stat(filepath.Join(rotator.CertDir, "tls.crt")); err != nil {
		t.Errorf("rotator wrote no serving certificate: %v", err)
	}
}

func bindingSubjects(ctx context.Context, c client.Client, want ...string) error {
	var b rbacv1.ClusterRoleBinding
	if err := c.Get(ctx, client.ObjectKey{Name: agentobjects.AgentsClusterRBACName}, &b); err != nil {
		return err
	}
	var got []string
	for _, s := range b.Subjects {
		got = append(got, s.Name)
	}
	if !slices.Equal(got, want) {
		return fmt.Errorf("subjects %v, want %v", got, want)
	}
	return nil
}

func eventually(t *testing.T, what string, check func() error) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	var err error
	for time.Now().Before(deadline) {
		if err = check(); err == nil {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("%s: %v", what, err)
}

func joinLines(s []string) string {
	out := ""
	for _, l := range s {
		out += "  " + l + "\n"
	}
	return out
}

func ptr[T any](v T) *T { return &v }
