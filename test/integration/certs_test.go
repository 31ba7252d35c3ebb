package integration

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"gomodules.xyz/jsonpatch/v2"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/client"
	crwebhook "sigs.k8s.io/controller-runtime/pkg/webhook"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/logplane/logplane/internal/certs"
)

// The operator's own certificates, end to end against the real API server: the
// rotator creates the CA and serving certificate, patches the caBundle, and the API
// server calls a webhook served with them over TLS. A CA rotation (staged, then a
// serving certificate from the new CA, picked up by the cert watcher) keeps every
// admission working. The webhook here fails closed, so any TLS failure fails a pod.
func TestCertRotationKeepsAdmissionWorking(t *testing.T) {
	ctx := t.Context()
	// Short lifetimes, so that a clock moved by less than the certificates'
	// one-hour backdating reaches the rotation thresholds while every certificate
	// issued stays valid for the API server, which uses the real time.
	oldCA, oldServing := certs.CALifetime, certs.ServingLifetime
	certs.CALifetime, certs.ServingLifetime = 90*time.Minute, 90*time.Minute
	t.Cleanup(func() { certs.CALifetime, certs.ServingLifetime = oldCA, oldServing })

	const ns = "certs-rotation"
	port := freePort(t)
	url := "https://localhost:" + strconv.Itoa(port) + "/annotate"
	fail := admissionregistrationv1.Fail
	none := admissionregistrationv1.SideEffectClassNone
	mwc := &admissionregistrationv1.MutatingWebhookConfiguration{ObjectMeta: metav1.ObjectMeta{Name: "logplane-test-cert-rotation"},
		Webhooks: []admissionregistrationv1.MutatingWebhook{{
			Name: "rotation.test.logplane.dev", AdmissionReviewVersions: []string{"v1"}, SideEffects: &none, FailurePolicy: &fail,
			ClientConfig:      admissionregistrationv1.WebhookClientConfig{URL: &url},
			NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"kubernetes.io/metadata.name": ns}},
			Rules: []admissionregistrationv1.RuleWithOperations{{Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create},
				Rule: admissionregistrationv1.Rule{APIGroups: []string{""}, APIVersions: []string{"v1"}, Resources: []string{"pods"}}}},
		}}}
	if err := k8s.Create(ctx, mwc); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = k8s.Delete(context.Background(), mwc) })
	createNamespace(t, ns, false)

	clock := clocktesting.NewFakeClock(time.Now())
	dir := t.TempDir()
	r := &certs.Rotator{Client: k8s, Namespace: operatorNamespace, SecretName: "logplane-test-rotation-cert",
		WebhookConfig: mwc.Name, DNSNames: []string{"localhost"}, CertDir: dir, Clock: clock, Interval: time.Hour, Log: logr.Discard()}
	if err := r.Sync(ctx); err != nil {
		t.Fatal(err)
	}

	srv := crwebhook.NewServer(crwebhook.Options{Host: "127.0.0.1", Port: port, CertDir: dir})
	srv.Register("/annotate", &admission.Webhook{Handler: admission.HandlerFunc(func(context.Context, admission.Request) admission.Response {
		return admission.Patched("", jsonAdd("/metadata/annotations", map[string]string{"served": "yes"}))
	})})
	go func() { _ = srv.Start(ctx) }()
	eventually(t, "webhook server started", func() error { return srv.StartedChecker()(nil) })

	n := 0
	admitted := func(what string) {
		t.Helper()
		eventually(t, what, func() error {
			n++
			p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: fmt.Sprintf("p%d", n)},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "app:1"}}}}
			if err := k8s.Create(ctx, p); err != nil {
				return err
			}
			if p.Annotations["served"] != "yes" {
				return errString("pod admitted without the webhook")
			}
			return nil
		})
	}
	admitted("admission with the generated certificate")
	first := servedSerial(t, port)

	clock.Step(45 * time.Minute)
	if err := r.Sync(ctx); err != nil { // stages the new CA beside the old one
		t.Fatal(err)
	}
	var got admissionregistrationv1.MutatingWebhookConfiguration
	if err := k8s.Get(ctx, client.ObjectKeyFromObject(mwc), &got); err != nil {
		t.Fatal(err)
	}
	if b := certs.Parse(map[string][]byte{certs.KeyCACert: got.Webhooks[0].ClientConfig.CABundle}); len(b.CAs) != 2 {
		t.Fatalf("caBundle holds %d CAs during the rotation, want 2", len(b.CAs))
	}
	admitted("admission with the new CA staged")
	if err := r.Sync(ctx); err != nil { // issues the serving certificate from the new CA
		t.Fatal(err)
	}
	eventually(t, "the server presents the new certificate", func() error {
		if servedSerial(t, port) == first {
			return errString("still the first certificate")
		}
		return nil
	})
	admitted("admission with a serving certificate from the new CA")
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// servedSerial is the serial number of the certificate the server presents.
func servedSerial(t *testing.T, port int) string {
	t.Helper()
	conn, err := tls.Dial("tcp", "127.0.0.1:"+strconv.Itoa(port), &tls.Config{InsecureSkipVerify: true}) //nolint:gosec // only reads the certificate
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0].SerialNumber.String()
}

func jsonAdd(path string, value any) jsonpatch.Operation {
	return jsonpatch.Operation{Operation: "add", Path: path, Value: value}
}
