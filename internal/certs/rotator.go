package certs

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/go-logr/logr"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// The rotator keeps its Secret in the operator namespace and patches the caBundle of
// logplane's webhook configuration (by name: it never lists or watches them), nothing
// else.
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;create;update,namespace=logplane-system
// +kubebuilder:rbac:groups=admissionregistration.k8s.io,resources=mutatingwebhookconfigurations,verbs=get;patch,resourceNames=logplane-mutating-webhook-configuration
// +kubebuilder:rbac:groups=admissionregistration.k8s.io,resources=validatingwebhookconfigurations,verbs=get;patch,resourceNames=logplane-validating-webhook-configuration

// Rotator keeps the certificate Secret, the serving files and the caBundle in step.
// Every replica runs one: they share the Secret (writes carry its resourceVersion, so
// two replicas never both rotate) and each writes its own serving files.
type Rotator struct {
	// Client talks to the API server directly: this runs before the caches start.
	Client    client.Client
	Namespace string
	// SecretName holds the CA and serving certificate.
	SecretName string
	// WebhookConfig is the MutatingWebhookConfiguration whose caBundle is kept.
	WebhookConfig string
	// ValidatingWebhookConfig is the ValidatingWebhookConfiguration whose caBundle is
	// kept too; empty for none. Both are served by the same certificate.
	ValidatingWebhookConfig string
	DNSNames                []string
	// CertDir receives tls.crt and tls.key for the webhook server's cert watcher.
	CertDir string
	Clock   clock.WithTicker
	// Interval between checks; caBundle drift (a re-applied manifest) is repaired
	// within one interval.
	Interval time.Duration
	Log      logr.Logger
}

// Start checks at every interval until ctx ends. Failures are logged and retried:
// the certificate in use stays valid for months.
func (r *Rotator) Start(ctx context.Context) error {
	t := r.Clock.NewTicker(r.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C():
			if err := r.Sync(ctx); err != nil {
				r.Log.Error(err, "webhook certificate check failed; retrying")
			}
		}
	}
}

// NeedLeaderElection: every replica serves the webhook and needs the files.
func (r *Rotator) NeedLeaderElection() bool { return false }

// Sync makes one pass: read the Secret, carry out the plan, write the serving files,
// patch the caBundle. Run it once before the webhook server starts, which needs the
// files. When another replica wrote the Secret or the configuration in between, the
// pass starts again from what that replica wrote.
func (r *Rotator) Sync(ctx context.Context) error {
	var err error
	for range 3 {
		if err = r.sync(ctx); !apierrors.IsConflict(err) && !apierrors.IsAlreadyExists(err) {
			return err
		}
	}
	return err
}

func (r *Rotator) sync(ctx context.Context) error {
	var s corev1.Secret
	err := r.Client.Get(ctx, client.ObjectKey{Namespace: r.Namespace, Name: r.SecretName}, &s)
	exists := err == nil
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("failed to get Secret %s: %w", r.SecretName, err)
	}
	b := Parse(s.Data)
	trusted := false
	if len(b.CAs) > 0 {
		bundle, err := r.caBundle(ctx)
		if err != nil {
			return err
		}
		trusted = Trusts(bundle, b.CAs[0])
	}
	now := r.Clock.Now()
	action, why := Plan(now, b, r.DNSNames, trusted)
	if action != ActionNone {
		r.Log.Info("rotating webhook certificate", "action", action, "reason", why)
		if b, err = Apply(now, action, b, r.DNSNames); err != nil {
			return err
		}
		s.Data = b.Data()
		if exists {
			err = r.Client.Update(ctx, &s) // carries resourceVersion: a concurrent rotation conflicts
		} else {
			s.ObjectMeta = metav1.ObjectMeta{Name: r.SecretName, Namespace: r.Namespace,
				Labels: map[string]string{"app.kubernetes.io/managed-by": "logplane", "app.kubernetes.io/component": "webhook"}}
			s.Type = corev1.SecretTypeOpaque
			err = r.Client.Create(ctx, &s)
		}
		if err != nil {
			return fmt.Errorf("failed to write Secret %s: %w", r.SecretName, err)
		}
	}
	if b.Serving == nil {
		return nil // a pending rotation left nothing to serve; the next pass issues it
	}
	if err := r.writeFiles(s.Data); err != nil {
		return err
	}
	return r.patchCABundle(ctx, s.Data[KeyCACert])
}

// caBundle is the bundle every webhook of the configurations holds, or nil when they
// differ or none is installed: trusted means trusted by every webhook the certificate
// serves.
func (r *Rotator) caBundle(ctx context.Context) ([]byte, error) {
	var bundles [][]byte
	for _, c := range r.configs() {
		found, err := c.get(ctx, r.Client)
		if err != nil {
			return nil, err
		}
		if found {
			bundles = append(bundles, c.bundles()...)
		}
	}
	if len(bundles) == 0 {
		return nil, nil
	}
	for _, b := range bundles[1:] {
		if !bytes.Equal(b, bundles[0]) {
			return nil, nil
		}
	}
	return bundles[0], nil
}

// patchCABundle sets the bundle on every webhook of the configurations; a missing
// configuration (not installed yet) is left for the next pass.
func (r *Rotator) patchCABundle(ctx context.Context, bundle []byte) error {
	for _, c := range r.configs() {
		found, err := c.get(ctx, r.Client)
		if err != nil {
			return err
		}
		if !found {
			r.Log.Info("webhook configuration not found; caBundle not set yet", "kind", c.kind, "name", c.obj.GetName())
			continue
		}
		base := c.obj.DeepCopyObject().(client.Object)
		if !c.setBundles(bundle) {
			continue
		}
		if err := r.Client.Patch(ctx, c.obj, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{})); err != nil {
			return fmt.Errorf("failed to patch caBundle of %s %s: %w", c.kind, c.obj.GetName(), err)
		}
	}
	return nil
}

// webhookConfig is one Mutating- or ValidatingWebhookConfiguration; the two types
// share no interface for their webhooks' client configs.
type webhookConfig struct {
	kind    string
	obj     client.Object
	configs func() []*admissionregistrationv1.WebhookClientConfig
}

func (r *Rotator) configs() []webhookConfig {
	mwc := &admissionregistrationv1.MutatingWebhookConfiguration{}
	mwc.Name = r.WebhookConfig
	out := []webhookConfig{{kind: "MutatingWebhookConfiguration", obj: mwc, configs: func() []*admissionregistrationv1.WebhookClientConfig {
		cc := make([]*admissionregistrationv1.WebhookClientConfig, len(mwc.Webhooks))
		for i := range mwc.Webhooks {
			cc[i] = &mwc.Webhooks[i].ClientConfig
		}
		return cc
	}}}
	if r.ValidatingWebhookConfig != "" {
		vwc := &admissionregistrationv1.ValidatingWebhookConfiguration{}
		vwc.Name = r.ValidatingWebhookConfig
		out = append(out, webhookConfig{kind: "ValidatingWebhookConfiguration", obj: vwc, configs: func() []*admissionregistrationv1.WebhookClientConfig {
			cc := make([]*admissionregistrationv1.WebhookClientConfig, len(vwc.Webhooks))
			for i := range vwc.Webhooks {
				cc[i] = &vwc.Webhooks[i].ClientConfig
			}
			return cc
		}})
	}
	return out
}

// get reads the configuration; found is false when it is not installed.
func (c webhookConfig) get(ctx context.Context, cl client.Client) (found bool, err error) {
	err = cl.Get(ctx, client.ObjectKey{Name: c.obj.GetName()}, c.obj)
	if apierrors.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("failed to get %s %s: %w", c.kind, c.obj.GetName(), err)
	}
	return true, nil
}

func (c webhookConfig) bundles() [][]byte {
	var out [][]byte
	for _, cc := range c.configs() {
		out = append(out, cc.CABundle)
	}
	return out
}

// setBundles sets bundle on every webhook and reports whether any changed.
func (c webhookConfig) setBundles(bundle []byte) bool {
	changed := false
	for _, cc := range c.configs() {
		if !bytes.Equal(cc.CABundle, bundle) {
			cc.CABundle = bundle
			changed = true
		}
	}
	return changed
}

// writeFiles replaces the serving files when they differ, each by an atomic rename,
// so the cert watcher never reads half a file.
func (r *Rotator) writeFiles(data map[string][]byte) error {
	if err := os.MkdirAll(r.CertDir, 0o700); err != nil {
		return fmt.Errorf("failed to create %s: %w", r.CertDir, err)
	}
	// Key first: the watcher reloads on the certificate, and the pair must match then.
	for _, name := range []string{KeyKey, KeyCert} {
		path := filepath.Join(r.CertDir, name)
		if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, data[name]) {
			continue
		}
		tmp := path + ".tmp"
		if err := os.WriteFile(tmp, data[name], 0o600); err != nil {
			return fmt.Errorf("failed to write %s: %w", tmp, err)
		}
		if err := os.Rename(tmp, path); err != nil {
			return fmt.Errorf("failed to replace %s: %w", path, err)
		}
	}
	return nil
}
