package manager

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/version"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/rest"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
	crwebhook "sigs.k8s.io/controller-runtime/pkg/webhook"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/logplane/logplane/controllers"
	"github.com/logplane/logplane/internal/agent"
	"github.com/logplane/logplane/internal/certs"
	sidecarreconciler "github.com/logplane/logplane/internal/reconciler/sidecar"
	"github.com/logplane/logplane/internal/sidecar"
	"github.com/logplane/logplane/internal/webhook"
)

// Names shared with config/webhook (and the OLM bundle built from it).
const (
	WebhookServiceName = "logplane-webhook-service"
	WebhookConfigName  = "logplane-mutating-webhook-configuration"
	// ValidatingWebhookConfigName is the configuration of the validating webhook for
	// pipelines and outputs (internal/webhook.Validator).
	ValidatingWebhookConfigName = "logplane-validating-webhook-configuration"
	webhookCertSecret           = "logplane-webhook-server-cert"
)

// Certificate modes.
const (
	CertModeSelf     = "self"
	CertModeExternal = "external"
)

// WebhookOptions configure the webhook server: sidecar injection and the validation of
// pipelines and outputs.
type WebhookOptions struct {
	// Port serves the webhooks; 0 turns them off (the sidecar Secrets and counts are
	// still kept, and the renderer still checks what the validating webhook would).
	Port int
	// Host to listen on; empty means every address.
	Host string
	// CertDir holds tls.crt and tls.key.
	CertDir string
	// CertMode is self (generate, rotate, patch caBundle) or external (OLM or
	// cert-manager mount the certificate and set the caBundle).
	CertMode string
	// SidecarImage runs the injected Fluent Bit; empty means logplane's default.
	SidecarImage string
}

// BindFlags registers the webhook flags.
func (o *WebhookOptions) BindFlags(fs *flag.FlagSet) {
	fs.IntVar(&o.Port, "webhook-port", 9443, "Port of the webhooks (sidecar injection, validation of pipelines and outputs); 0 turns them off.")
	fs.StringVar(&o.CertDir, "webhook-cert-dir", "/tmp/k8s-webhook-server/serving-certs",
		"Directory of the webhook's tls.crt and tls.key.")
	fs.StringVar(&o.CertMode, "webhook-cert-mode", CertModeSelf,
		"self: generate, rotate and trust the webhook certificate; external: OLM or cert-manager provide it.")
	fs.StringVar(&o.SidecarImage, "sidecar-image", "", "Image of the injected Fluent Bit sidecar (default: logplane's Fluent Bit).")
}

func webhookServer(o WebhookOptions) crwebhook.Server {
	if o.Port == 0 {
		return nil
	}
	return crwebhook.NewServer(crwebhook.Options{Port: o.Port, Host: o.Host, CertDir: o.CertDir})
}

// setupSidecars wires the sidecar reconciler and, unless turned off, the webhooks
// (sidecar injection, validation of pipelines and outputs) and their certificate.
func setupSidecars(ctx context.Context, mgr ctrl.Manager, cfg *rest.Config, opts Options, salt []byte, generated *sidecar.Generated, log logr.Logger) error {
	// Counting pods needs their labels and one annotation, in any namespace a
	// pipeline may live in. A cache of its own (the manager's caches pods of the
	// operator namespace only, and caches are keyed by kind): metadata only, so the
	// API server sends no specs or statuses, and trimmed to those fields before
	// they are stored, so a large cluster costs little memory.
	pods, err := cache.New(cfg, cache.Options{Scheme: mgr.GetScheme(), Mapper: mgr.GetRESTMapper(), HTTPClient: mgr.GetHTTPClient(),
		DefaultTransform: keepPodCountFields})
	if err != nil {
		return fmt.Errorf("failed to create the pod metadata cache: %w", err)
	}
	if err := mgr.Add(pods); err != nil {
		return err
	}
	sidecars := &controllers.SidecarController{PodCache: pods, Reconciler: &sidecarreconciler.Reconciler{
		Client: mgr.GetClient(), Secrets: mgr.GetAPIReader(), Pods: pods, Namespace: opts.Namespace, Salt: salt, Generated: generated}}
	if err := sidecars.SetupWithManager(mgr); err != nil {
		return fmt.Errorf("failed to set up the sidecar controller: %w", err)
	}
	if opts.Webhook.Port == 0 {
		return nil
	}

	native, err := nativeSidecars(cfg)
	if err != nil {
		return err
	}
	if opts.Webhook.CertMode == CertModeSelf {
		direct, err := client.New(cfg, client.Options{Scheme: mgr.GetScheme()})
		if err != nil {
			return err
		}
		rotator := &certs.Rotator{Client: direct, Namespace: opts.Namespace, SecretName: webhookCertSecret,
			WebhookConfig: WebhookConfigName, ValidatingWebhookConfig: ValidatingWebhookConfigName,
			DNSNames: certs.DNSNames(WebhookServiceName, opts.Namespace),
			CertDir:  opts.Webhook.CertDir, Clock: clock.RealClock{}, Interval: time.Minute, Log: log.WithName("certs")}
		// The webhook server reads its certificate when it starts.
		if err := rotator.Sync(ctx); err != nil {
			return fmt.Errorf("failed to prepare the webhook certificate: %w", err)
		}
		if err := mgr.Add(rotator); err != nil {
			return err
		}
	} else if opts.Webhook.CertMode != CertModeExternal {
		return fmt.Errorf("--webhook-cert-mode must be %s or %s, not %q", CertModeSelf, CertModeExternal, opts.Webhook.CertMode)
	}
	for _, c := range []prometheus.Collector{webhook.Admissions, webhook.Validations} {
		if err := metrics.Registry.Register(c); err != nil && !errors.As(err, &prometheus.AlreadyRegisteredError{}) {
			return err
		}
	}
	// The cache itself, not the client: the client reads Secrets (even their
	// metadata) from the API server, and an admission must not wait for that.
	injector := &webhook.PodInjector{Reader: mgr.GetCache(), Events: mgr.GetEventRecorder("logplane-webhook"), Log: log.WithName("webhook"),
		Options: sidecar.Options{Image: opts.Webhook.SidecarImage, Native: native, OperatorNamespace: opts.Namespace}}
	mgr.GetWebhookServer().Register(webhook.Path, &admission.Webhook{Handler: injector})
	// One check at a time: a typical one takes under a millisecond, and a tenant who
	// sends specs that take seconds holds one processor at most (webhook.Validator.Slots).
	mgr.GetWebhookServer().Register(webhook.ValidatePath, &admission.Webhook{Handler: webhook.NewValidator(log.WithName("validation"), 1)})
	log.Info("webhooks enabled: sidecar injection, validation of pipelines and outputs", "nativeSidecars", native, "certMode", opts.Webhook.CertMode)
	return mgr.AddReadyzCheck("webhook", mgr.GetWebhookServer().StartedChecker())
}

// nativeSidecars: init containers with restartPolicy Always are on by default since
// Kubernetes 1.29. Older servers get a regular container.
func nativeSidecars(cfg *rest.Config) (bool, error) {
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return false, err
	}
	info, err := dc.ServerVersion()
	if err != nil {
		return false, fmt.Errorf("failed to read the server version: %w", err)
	}
	v, err := version.ParseGeneric(info.GitVersion)
	if err != nil {
		return false, fmt.Errorf("failed to parse server version %q: %w", info.GitVersion, err)
	}
	return v.AtLeast(version.MajorMinor(1, 29)), nil
}

// keepPodCountFields trims cached pod metadata to what counting reads.
func keepPodCountFields(obj any) (any, error) {
	if m, ok := obj.(*metav1.PartialObjectMetadata); ok {
		kept := metav1.ObjectMeta{Name: m.Name, Namespace: m.Namespace, UID: m.UID, ResourceVersion: m.ResourceVersion,
			Labels: m.Labels, DeletionTimestamp: m.DeletionTimestamp}
		if h, ok := m.Annotations[sidecar.AnnotationHashes]; ok {
			kept.Annotations = map[string]string{sidecar.AnnotationHashes: h}
		}
		m.ObjectMeta = kept
	}
	return obj, nil
}

// keepSidecarSecret keeps, of a sidecar Secret's metadata, what the webhook and the
// sidecar controller read: its manifest, its labels and its owner.
func keepSidecarSecret(m *metav1.PartialObjectMetadata, kept *metav1.ObjectMeta) {
	if m.Labels[agent.LabelManagedBy] != "logplane" || m.Labels[agent.LabelComponent] != sidecar.ComponentSidecar {
		return
	}
	kept.Labels = map[string]string{agent.LabelManagedBy: "logplane", agent.LabelComponent: sidecar.ComponentSidecar}
	kept.Annotations = map[string]string{sidecar.AnnotationManifest: m.Annotations[sidecar.AnnotationManifest]}
	kept.OwnerReferences = m.OwnerReferences
}
