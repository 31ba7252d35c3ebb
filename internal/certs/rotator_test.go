package certs

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/go-logr/logr"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
)

// Two replicas starting together both try to create the Secret; the one that loses
// adopts the winner's certificate instead of failing its start.
func TestSyncAdoptsAConcurrentlyCreatedSecret(t *testing.T) {
	s := runtime.NewScheme()
	_ = corev1.AddToScheme(s)
	_ = admissionregistrationv1.AddToScheme(s)
	mwc := &admissionregistrationv1.MutatingWebhookConfiguration{ObjectMeta: metav1.ObjectMeta{Name: "hook"},
		Webhooks: []admissionregistrationv1.MutatingWebhook{{Name: "a.example.com"}}}
	c := fake.NewClientBuilder().WithScheme(s).WithObjects(mwc).Build()
	clock := clocktesting.NewFakeClock(time.Now())
	winner := &Rotator{Client: c, Namespace: "ops", SecretName: "cert", WebhookConfig: "hook", DNSNames: []string{"svc.ops.svc"},
		CertDir: t.TempDir(), Clock: clock, Interval: time.Minute, Log: logr.Discard()}
	loserDir := t.TempDir()
	created := false
	loser := *winner
	loser.CertDir = loserDir
	// The loser's Create happens right after the winner's pass.
	loser.Client = interceptor.NewClient(c.(client.WithWatch), interceptor.Funcs{
		Create: func(ctx context.Context, cl client.WithWatch, obj client.Object, opts ...client.CreateOption) error {
			if !created {
				created = true
				if err := winner.Sync(ctx); err != nil {
					t.Fatal(err)
				}
				return apierrors.NewAlreadyExists(corev1.Resource("secrets"), obj.GetName())
			}
			return cl.Create(ctx, obj, opts...)
		}})
	if err := loser.Sync(t.Context()); err != nil {
		t.Fatalf("the second replica failed: %v", err)
	}
	a, _ := os.ReadFile(filepath.Join(winner.CertDir, KeyCert))
	b, _ := os.ReadFile(filepath.Join(loserDir, KeyCert))
	if len(a) == 0 || string(a) != string(b) {
		t.Fatal("the replicas serve different certificates")
	}
	var got admissionregistrationv1.MutatingWebhookConfiguration
	if err := c.Get(t.Context(), client.ObjectKey{Name: "hook"}, &got); err != nil {
		t.Fatal(err)
	}
	var sec corev1.Secret
	if err := c.Get(t.Context(), client.ObjectKey{Namespace: "ops", Name: "cert"}, &sec); err != nil {
		t.Fatal(err)
	}
	if string(got.Webhooks[0].ClientConfig.CABundle) != string(sec.Data[KeyCACert]) {
		t.Fatal("caBundle is not the Secret's CA")
	}
}

// One certificate serves the mutating and the validating webhook: the rotator keeps
// the caBundle of every webhook of both configurations, counts the CA as trusted only
// when all of them hold it, and repairs one that drifted (a re-applied manifest).
func TestSyncKeepsBothWebhookConfigurations(t *testing.T) {
	s := runtime.NewScheme()
	_ = corev1.AddToScheme(s)
	_ = admissionregistrationv1.AddToScheme(s)
	mwc := &admissionregistrationv1.MutatingWebhookConfiguration{ObjectMeta: metav1.ObjectMeta{Name: "hook"},
		Webhooks: []admissionregistrationv1.MutatingWebhook{{Name: "a.example.com"}}}
	vwc := &admissionregistrationv1.ValidatingWebhookConfiguration{ObjectMeta: metav1.ObjectMeta{Name: "vhook"},
		Webhooks: []admissionregistrationv1.ValidatingWebhook{{Name: "b.example.com"}, {Name: "c.example.com"}}}
	c := fake.NewClientBuilder().WithScheme(s).WithObjects(mwc, vwc).Build()
	r := &Rotator{Client: c, Namespace: "ops", SecretName: "cert", WebhookConfig: "hook", ValidatingWebhookConfig: "vhook",
		DNSNames: []string{"svc.ops.svc"}, CertDir: t.TempDir(), Clock: clocktesting.NewFakeClock(time.Now()), Interval: time.Minute, Log: logr.Discard()}
	bundles := func() [][]byte {
		t.Helper()
		var m admissionregistrationv1.MutatingWebhookConfiguration
		var v admissionregistrationv1.ValidatingWebhookConfiguration
		if err := c.Get(t.Context(), client.ObjectKey{Name: "hook"}, &m); err != nil {
			t.Fatal(err)
		}
		if err := c.Get(t.Context(), client.ObjectKey{Name: "vhook"}, &v); err != nil {
			t.Fatal(err)
		}
		return [][]byte{m.Webhooks[0].ClientConfig.CABundle, v.Webhooks[0].ClientConfig.CABundle, v.Webhooks[1].ClientConfig.CABundle}
	}
	if err := r.Sync(t.Context()); err != nil {
		t.Fatal(err)
	}
	var sec corev1.Secret
	if err := c.Get(t.Context(), client.ObjectKey{Namespace: "ops", Name: "cert"}, &sec); err != nil {
		t.Fatal(err)
	}
	ca := sec.Data[KeyCACert]
	for i, b := range bundles() {
		if len(ca) == 0 || string(b) != string(ca) {
			t.Fatalf("webhook %d does not trust the Secret's CA", i)
		}
	}
	if got, err := r.caBundle(t.Context()); err != nil || string(got) != string(ca) {
		t.Fatalf("caBundle = %q, %v; want the CA", got, err)
	}

	// The validating configuration re-applied from its manifest: no caBundle there.
	var v admissionregistrationv1.ValidatingWebhookConfiguration
	if err := c.Get(t.Context(), client.ObjectKey{Name: "vhook"}, &v); err != nil {
		t.Fatal(err)
	}
	v.Webhooks[1].ClientConfig.CABundle = nil
	if err := c.Update(t.Context(), &v); err != nil {
		t.Fatal(err)
	}
	if got, err := r.caBundle(t.Context()); err != nil || got != nil {
		t.Fatalf("caBundle = %q, %v; want none while one webhook lacks it", got, err)
	}
	if err := r.Sync(t.Context()); err != nil {
		t.Fatal(err)
	}
	for i, b := range bundles() {
		if string(b) != string(ca) {
			t.Fatalf("webhook %d not repaired", i)
		}
	}

	// Without the validating configuration (an install from before it), the mutating
	// one alone decides.
	if err := c.Delete(t.Context(), vwc); err != nil {
		t.Fatal(err)
	}
	if got, err := r.caBundle(t.Context()); err != nil || string(got) != string(ca) {
		t.Fatalf("caBundle = %q, %v; want the mutating configuration's", got, err)
	}
	if err := r.Sync(t.Context()); err != nil {
		t.Fatalf("a missing validating configuration failed the pass: %v", err)
	}
}
