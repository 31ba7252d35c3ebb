// Package testenv starts a real kube-apiserver and etcd (envtest) with the logplane CRDs
// installed, and applies manifests to it. Tests and `make run` share it.
package testenv

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"

	"github.com/logplane/logplane/test/testcerts"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/logplane/logplane/internal/manager"
)

// RepoRoot is the repository's top directory, found from this file's location so that
// tests work from any package directory.
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// Env is a running control plane.
type Env struct {
	*envtest.Environment
	Config *rest.Config
	Client client.Client
}

// Option changes the control plane before it starts.
type Option func(*envtest.Environment) error

// WithWebhooks installs the webhook configurations of config/webhook, pointed by
// envtest at a local server (WebhookInstallOptions.LocalServing*) with a CA the API
// server trusts, so admission goes to an in-process webhook server over TLS. Objects
// labelled SkipValidationLabel are not sent to the validating webhook, so that a test
// can store what the webhook would refuse, as a cluster does while it is down.
func WithWebhooks() Option {
	return func(env *envtest.Environment) error {
		objs, err := LoadManifests(filepath.Join(RepoRoot(), "config", "webhook"))
		if err != nil {
			return err
		}
		for _, o := range objs {
			switch o.GetKind() {
			case "MutatingWebhookConfiguration":
				var mwc admissionregistrationv1.MutatingWebhookConfiguration
				if err := k8sruntime.DefaultUnstructuredConverter.FromUnstructured(o.Object, &mwc); err != nil {
					return err
				}
				// Its own name: install tests apply the shipped one (pointing at a Service) beside it.
				mwc.Name += "-envtest"
				env.WebhookInstallOptions.MutatingWebhooks = append(env.WebhookInstallOptions.MutatingWebhooks, &mwc)
			case "ValidatingWebhookConfiguration":
				var vwc admissionregistrationv1.ValidatingWebhookConfiguration
				if err := k8sruntime.DefaultUnstructuredConverter.FromUnstructured(o.Object, &vwc); err != nil {
					return err
				}
				vwc.Name += "-envtest"
				for i := range vwc.Webhooks {
					if vwc.Webhooks[i].ObjectSelector != nil {
						return fmt.Errorf("webhook %s has an objectSelector; WithWebhooks would replace it", vwc.Webhooks[i].Name)
					}
					vwc.Webhooks[i].ObjectSelector = &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
						{Key: SkipValidationLabel, Operator: metav1.LabelSelectorOpDoesNotExist}}}
				}
				env.WebhookInstallOptions.ValidatingWebhooks = append(env.WebhookInstallOptions.ValidatingWebhooks, &vwc)
			}
		}
		return nil
	}
}

// SkipValidationLabel keeps an object away from the validating webhook WithWebhooks
// installs (tests only).
const SkipValidationLabel = "test.logplane.dev/skip-validation"

// WithAPIServerFlag sets a kube-apiserver flag, such as the audit log the benchmark
// counts writes with.
func WithAPIServerFlag(name, value string) Option {
	return func(e *envtest.Environment) error {
		e.ControlPlane.GetAPIServer().Configure().Set(name, value)
		return nil
	}
}

// Start launches the control plane and installs the CRDs from config/crd/bases. It needs
// KUBEBUILDER_ASSETS, which `make test` sets from hack/setup-envtest.sh.
func Start(opts ...Option) (*Env, error) {
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		return nil, errors.New("KUBEBUILDER_ASSETS is not set: run `make test`, or " +
			"`export KUBEBUILDER_ASSETS=$(hack/setup-envtest.sh)` before `go test`")
	}
	env := &envtest.Environment{
		CRDDirectoryPaths:     []string{filepath.Join(RepoRoot(), "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
	}
	for _, o := range opts {
		if err := o(env); err != nil {
			return nil, err
		}
	}
	cfg, err := env.Start()
	if err != nil {
		// A half-started environment leaves etcd and kube-apiserver running.
		_ = env.Stop()
		return nil, fmt.Errorf("failed to start the control plane: %w", err)
	}
	c, err := client.New(cfg, client.Options{Scheme: manager.NewScheme()})
	if err != nil {
		_ = env.Stop()
		return nil, fmt.Errorf("failed to create client: %w", err)
	}
	return &Env{Environment: env, Config: cfg, Client: c}, nil
}

// WriteKubeconfig writes an admin kubeconfig for the control plane to path, for kubectl
// and for the operator run as its own process.
func (e *Env) WriteKubeconfig(path string) error { return e.WriteKubeconfigFor(path, "admin") }

// WriteKubeconfigFor writes a kubeconfig of a cluster admin named userName, so that the
// API server's audit log can tell that client's requests from everyone else's.
func (e *Env) WriteKubeconfigFor(path, userName string) error {
	user, err := e.AddUser(envtest.User{Name: userName, Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return fmt.Errorf("failed to add user %s: %w", userName, err)
	}
	data, err := user.KubeConfig()
	if err != nil {
		return fmt.Errorf("failed to build kubeconfig: %w", err)
	}
	return os.WriteFile(path, data, 0o600)
}

// Stop shuts the control plane down.
func (e *Env) Stop(context.Context) error { return e.Environment.Stop() }

// InCluster is how pods reach the API server as kubernetes.default.svc:443, as pods
// in a cluster do: Address is the loopback address the API server listens on (a pod
// maps the name to it, like a hostAlias), and CA signs the certificate the API server
// presents for that name, as the service account's ca.crt does in a cluster.
type InCluster struct {
	Address string
	CA      []byte
}

// WithInClusterAddress makes the API server listen on addr:443 and present, for the
// server name kubernetes.default.svc, a certificate from a CA of its own (returned in
// ic), so that Fluent Bit's kubernetes filter and events input, which always dial
// https://kubernetes.default.svc:443 and verify it, reach this control plane. Listening
// on 443 needs root (or CAP_NET_BIND_SERVICE).
func WithInClusterAddress(addr string, ic *InCluster) Option {
	return func(e *envtest.Environment) error {
		certs, err := testcerts.New("kubernetes.default.svc", "kubernetes.default", "kubernetes", addr)
		if err != nil {
			return err
		}
		dir, err := os.MkdirTemp("", "logplane-incluster-")
		if err != nil {
			return err
		}
		crt, key := filepath.Join(dir, "sni.crt"), filepath.Join(dir, "sni.key")
		if err := os.WriteFile(crt, certs.Cert, 0o600); err != nil {
			return err
		}
		if err := os.WriteFile(key, certs.Key, 0o600); err != nil {
			return err
		}
		api := e.ControlPlane.GetAPIServer()
		api.SecureServing.ListenAddr = envtest.ListenAddr{Address: addr, Port: "443"}
		api.Configure().Append("tls-sni-cert-key", crt+","+key+":kubernetes.default.svc")
		*ic = InCluster{Address: addr, CA: certs.CA}
		return nil
	}
}
