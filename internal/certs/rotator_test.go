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
