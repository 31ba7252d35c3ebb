// Package manager wires the logplane controllers into a controller-runtime manager:
// flags, scheme, caches, probes, metrics and leader election. It holds no logic of
// its own; controllers register themselves here as they are added.
package manager

import (
	"cmp"
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/go-logr/logr"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
	"sigs.k8s.io/controller-runtime/pkg/metrics/filters"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	loggingv1alpha1 "github.com/logplane/logplane/api/v1alpha1"
	"github.com/logplane/logplane/controllers"
	"github.com/logplane/logplane/internal/agent"
	"github.com/logplane/logplane/internal/alias"
	"github.com/logplane/logplane/internal/apply"
	"github.com/logplane/logplane/internal/canary"
	"github.com/logplane/logplane/internal/flow"
	agentreconciler "github.com/logplane/logplane/internal/reconciler/agent"
	flowreconciler "github.com/logplane/logplane/internal/reconciler/flow"
	retentionreconciler "github.com/logplane/logplane/internal/reconciler/retention"
	"github.com/logplane/logplane/internal/reconciler/verdict"
	"github.com/logplane/logplane/internal/render"
	"github.com/logplane/logplane/internal/retention"
	"github.com/logplane/logplane/internal/sidecar"
	"github.com/logplane/logplane/internal/status"
)

// Leader election needs a Lease (get, create, update: controller-runtime's lease lock
// does nothing else); events explain decisions to users.
// +kubebuilder:rbac:groups=coordination.k8s.io,resources=leases,verbs=get;create;update,namespace=logplane-system
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch
// client-go's leader election still records its events with the core API, on the Lease.
// +kubebuilder:rbac:groups="",resources=events,verbs=create;patch,namespace=logplane-system
// Secure metrics authenticate and authorise their scrapers.
// +kubebuilder:rbac:groups=authentication.k8s.io,resources=tokenreviews,verbs=create
// +kubebuilder:rbac:groups=authorization.k8s.io,resources=subjectaccessreviews,verbs=create

var recoverPanic = true

// Options are the manager's settings, bound to command-line flags.
type Options struct {
	MetricsAddr      string
	MetricsSecure    bool
	ProbeAddr        string
	LeaderElect      bool
	Namespace        string
	LeaderElectionID string
	OperatorImage    string
	// FlowInterval is how often pipelines' throughput is measured; zero means 30s.
	FlowInterval time.Duration
	// FlowSource is "scrape" (read every agent pod) or "prometheus" (query
	// PrometheusURL over PrometheusWindow).
	FlowSource       string
	PrometheusURL    string
	PrometheusWindow time.Duration
	// RetentionInterval is how often retention is re-applied to catch drift.
	RetentionInterval time.Duration
	// RolloutInterval is the least time between two configuration rollouts of an
	// agent in Restart mode; zero rolls out every change at once.
	RolloutInterval time.Duration
	// RolloutDeadline is how long an agent pod may run a new configuration without
	// becoming ready before the agent is rolled back; zero is the default (3m).
	RolloutDeadline time.Duration
	// RetentionAppliers reaches the destinations; nil uses the real ones (tests swap it).
	RetentionAppliers retention.Factory
	// Canary proves every changed agent configuration by starting it in a canary
	// pod before the nodes get it (internal/reconciler/agent/canary.go). Off, every
	// rendered configuration is written as it is.
	Canary bool
	// CanaryTiming bounds each canary run; zero is canary.DefaultTiming.
	CanaryTiming canary.Timing
	// Webhook: see webhook.go.
	Webhook   WebhookOptions
	PprofAddr string
}

// BindFlags registers the options on fs with their defaults.
func (o *Options) BindFlags(fs *flag.FlagSet) {
	fs.StringVar(&o.MetricsAddr, "metrics-bind-address", ":8443",
		"Address of the metrics endpoint; 0 turns it off.")
	fs.BoolVar(&o.MetricsSecure, "metrics-secure", true,
		"Serve metrics over HTTPS, authenticated and authorised against the API server.")
	fs.StringVar(&o.ProbeAddr, "health-probe-bind-address", ":8081",
		"Address of the /healthz and /readyz endpoints.")
	fs.BoolVar(&o.LeaderElect, "leader-elect", false,
		"Elect a leader so that only one replica reconciles at a time.")
	fs.StringVar(&o.Namespace, "namespace", envOr("POD_NAMESPACE", "logplane-system"),
		"Namespace of the operator: leader election lease, agents, platform Secrets.")
	fs.StringVar(&o.LeaderElectionID, "leader-election-id", "logplane.logging.logplane.dev",
		"Name of the leader election Lease.")
	fs.DurationVar(&o.FlowInterval, "flow-interval", 30*time.Second,
		"How often pipelines' throughput is measured and, when a rounded figure moved, written to their status.")
	fs.StringVar(&o.FlowSource, "flow-source", "scrape",
		"Where throughput comes from: scrape (the operator reads every agent pod) or prometheus (query --prometheus-url, for large clusters).")
	fs.StringVar(&o.PrometheusURL, "prometheus-url", "",
		"Prometheus HTTP API that scrapes the agents, for --flow-source=prometheus.")
	fs.DurationVar(&o.PrometheusWindow, "prometheus-window", 2*time.Minute,
		"Range of rate() with --flow-source=prometheus; at least four of Prometheus's scrape intervals.")
	fs.StringVar(&o.OperatorImage, "operator-image", envOr("OPERATOR_IMAGE", agent.DefaultOperatorImage),
		"This operator's image; agent pods copy its fbexec to start Fluent Bit, and in HotReload mode run its reloader.")
	fs.DurationVar(&o.RetentionInterval, "retention-interval", retentionreconciler.DefaultInterval,
		"How often retention is re-applied at every destination, to undo changes made outside the operator.")
	fs.DurationVar(&o.RolloutInterval, "min-rollout-interval", 10*time.Second,
		"Least time between two configuration rollouts (pod restarts) of an agent in Restart mode; a burst of changes rolls out its first and its last.")
	fs.DurationVar(&o.RolloutDeadline, "rollout-deadline", agentreconciler.DefaultRolloutDeadline,
		"How long an agent pod may run a new configuration without becoming ready before the agent is rolled back to the last configuration that ran healthy (Restart mode; a crash loop rolls back at once).")
	fs.BoolVar(&o.Canary, "canary", true,
		"Start each changed agent configuration in a canary pod before the nodes get it; a configuration Fluent Bit refuses never reaches them, and the resources that make it refuse are named in their status (RejectedByAgent). Needs nodes that can run the agent's image in the operator's namespace.")
	o.Webhook.BindFlags(fs)
	fs.StringVar(&o.PprofAddr, "pprof-address", "",
		"Address of the Go pprof endpoints (/debug/pprof), for profiling; empty turns them off.")
}

// NewScheme returns a scheme with the Kubernetes built-ins and the logplane API.
func NewScheme() *runtime.Scheme {
	s := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(s))
	utilruntime.Must(loggingv1alpha1.AddToScheme(s))
	return s
}

// Run starts the manager and blocks until ctx ends or the manager fails.
func Run(ctx context.Context, cfg *rest.Config, opts Options, log logr.Logger) error {
	metrics := metricsserver.Options{BindAddress: opts.MetricsAddr, SecureServing: opts.MetricsSecure}
	if opts.MetricsSecure {
		metrics.FilterProvider = filters.WithAuthenticationAndAuthorization
	}
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme: NewScheme(),
		// Only the operator's own DaemonSets and agent pods are cached; Secret data is
		// read on demand and never cached.
		Cache: cache.Options{
			// Nothing reads managedFields; dropping them keeps every cached object,
			// and each deep copy and status patch of one, a good deal smaller.
			DefaultTransform: cache.TransformStripManagedFields(),
			ByObject: map[client.Object]cache.ByObject{
				&appsv1.DaemonSet{}: {Namespaces: map[string]cache.Config{opts.Namespace: {}}},
				&corev1.Pod{}: {Namespaces: map[string]cache.Config{opts.Namespace: {}},
					Label: labels.SelectorFromSet(labels.Set{agent.LabelManagedBy: "logplane"})},
				secretMetadata(): {Transform: keepIdentityOnly},
			}},
		// A panic in a reconcile fails that reconcile, not the process (the default
		// since controller-runtime 0.19, stated so that no upgrade changes it). The
		// renderer goes further: a resource that makes it panic is left out alone
		// (internal/render/guard.go), so that one tenant cannot stop every render.
		Controller:              config.Controller{RecoverPanic: &recoverPanic},
		WebhookServer:           webhookServer(opts.Webhook),
		Client:                  client.Options{Cache: &client.CacheOptions{DisableFor: []client.Object{&corev1.Secret{}}}},
		Logger:                  log,
		Metrics:                 metrics,
		HealthProbeBindAddress:  opts.ProbeAddr,
		PprofBindAddress:        opts.PprofAddr,
		LeaderElection:          opts.LeaderElect,
		LeaderElectionID:        opts.LeaderElectionID,
		LeaderElectionNamespace: opts.Namespace,
		// Stepping down at once on shutdown lets the next replica take over quickly.
		LeaderElectionReleaseOnCancel: true,
	})
	if err != nil {
		return fmt.Errorf("failed to create manager: %w", err)
	}
	// Read directly: the manager's caches have not started yet.
	salt, err := credentialsSalt(ctx, mgr.GetClient(), mgr.GetAPIReader(), opts.Namespace)
	if err != nil {
		return err
	}
	board := status.NewBoard()
	events := mgr.GetEventRecorder("logplane")
	agents := &controllers.AgentController{Reconciler: &agentreconciler.Reconciler{
		Client: mgr.GetClient(), Secrets: mgr.GetAPIReader(), Namespace: opts.Namespace, Salt: salt,
		// The cache holds Secret metadata only (see keepIdentityOnly); data is read
		// when a referenced Secret's resourceVersion moves.
		SecretData:  agentreconciler.NewSecretData(mgr.GetCache(), mgr.GetAPIReader()),
		SecretIndex: agentreconciler.NewSecretIndex(), Events: events,
		OperatorImage: opts.OperatorImage, Renderer: render.NewRenderer(), Board: board,
		Rollouts: &agentreconciler.Rollouts{Interval: opts.RolloutInterval}, RolloutDeadline: opts.RolloutDeadline,
		// Objects no watch covers (ServiceAccount, RBAC, Service) are re-applied at
		// least this often, undoing edits made by hand.
		Applied: apply.NewMemo(10*time.Minute, mgr.GetAPIReader())}}
	if opts.Canary {
		agents.Prover = &agentreconciler.PodProver{Client: mgr.GetClient(), Namespace: opts.Namespace, Timing: opts.CanaryTiming}
	}
	if err := agents.SetupWithManager(mgr); err != nil {
		return fmt.Errorf("failed to set up the agent controller: %w", err)
	}
	for _, kind := range []string{alias.LogPipeline, alias.ClusterLogPipeline, alias.LogOutput, alias.ClusterLogOutput} {
		r := &verdict.Reconciler{Client: mgr.GetClient(), Board: board, Kind: kind, Events: events}
		c := &controllers.StatusController{Kind: kind, Board: board, Reconciler: r}
		if kind == alias.LogOutput || kind == alias.ClusterLogOutput {
			// The list of pipelines using an output grows with every render of a
			// burst; one write a second says the same in far fewer.
			c.Coalesce = time.Second
		}
		if err := c.SetupWithManager(mgr); err != nil {
			return fmt.Errorf("failed to set up the %s status controller: %w", kind, err)
		}
	}
	// The sidecar reconciler records every sidecar configuration it writes; the
	// scraper reads only pods injected with one of them.
	generated := sidecar.NewGenerated()
	monitor, err := flowMonitor(mgr, opts, board, generated)
	if err != nil {
		return err
	}
	if err := mgr.Add(monitor); err != nil {
		return fmt.Errorf("failed to add the flow monitor: %w", err)
	}
	retentions := &controllers.RetentionController{Reconciler: &retentionreconciler.Reconciler{
		Client: mgr.GetClient(), Secrets: mgr.GetAPIReader(), Namespace: opts.Namespace,
		Appliers: opts.RetentionAppliers, Interval: opts.RetentionInterval, Events: events}}
	if err := retentions.SetupWithManager(mgr); err != nil {
		return fmt.Errorf("failed to set up the retention controller: %w", err)
	}
	if err := setupSidecars(ctx, mgr, cfg, opts, salt, generated, log); err != nil {
		return err
	}
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		return fmt.Errorf("failed to add health check: %w", err)
	}
	if err := mgr.AddReadyzCheck("readyz", healthz.Ping); err != nil {
		return fmt.Errorf("failed to add ready check: %w", err)
	}
	log.Info("starting manager", "namespace", opts.Namespace, "leaderElection", opts.LeaderElect)
	if err := mgr.Start(ctx); err != nil {
		return fmt.Errorf("failed to run manager: %w", err)
	}
	return nil
}

// flowMonitor measures pipelines' throughput from the source the options choose.
func flowMonitor(mgr ctrl.Manager, opts Options, board *status.Board, generated *sidecar.Generated) (*flowreconciler.Monitor, error) {
	m := &flowreconciler.Monitor{Client: mgr.GetClient(), Board: board, Interval: cmp.Or(opts.FlowInterval, 30*time.Second),
		Debounce: &flow.Debouncer{Cycles: 2}, Metrics: flowreconciler.NewMetrics(ctrlmetrics.Registry), Now: time.Now}
	switch opts.FlowSource {
	case "", "scrape":
		injected, err := injectedPods(mgr)
		if err != nil {
			return nil, err
		}
		m.Source = flowreconciler.NewPodScrape(
			flowreconciler.Pods{Reader: mgr.GetClient(), Role: flow.AgentPods, Options: []client.ListOption{
				client.InNamespace(opts.Namespace), client.MatchingLabels{agent.LabelManagedBy: "logplane"}}},
			flowreconciler.Pods{Reader: injected, Role: flow.InjectedPods, Injection: sidecar.Verifier{Generated: generated,
				Options: sidecar.Options{Image: opts.Webhook.SidecarImage}}})
	case "prometheus":
		if opts.PrometheusURL == "" {
			return nil, fmt.Errorf("--flow-source=prometheus needs --prometheus-url")
		}
		src, err := flowreconciler.NewPrometheusQuery(opts.PrometheusURL, cmp.Or(opts.PrometheusWindow, 2*time.Minute))
		if err != nil {
			return nil, err
		}
		m.Source = src
	default:
		return nil, fmt.Errorf("--flow-source must be scrape or prometheus, not %q", opts.FlowSource)
	}
	return m, nil
}

// secretMetadata is the metadata-only view of Secrets the Secret watch uses.
func secretMetadata() client.Object {
	m := &metav1.PartialObjectMetadata{}
	m.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Secret"))
	return m
}

// keepIdentityOnly strips cached Secret metadata down to what the watch needs, so a
// cluster with many Secrets costs little memory: no data is ever cached, and no
// annotations, managed fields or labels (but logplane's own) either.
func keepIdentityOnly(obj any) (any, error) {
	if m, ok := obj.(*metav1.PartialObjectMetadata); ok {
		kept := metav1.ObjectMeta{Name: m.Name, Namespace: m.Namespace, UID: m.UID, ResourceVersion: m.ResourceVersion}
		// The agent label of logplane's own Secrets routes their drift to their agent.
		if a, ok := m.Labels[agent.LabelAgent]; ok && m.Labels[agent.LabelManagedBy] == "logplane" {
			kept.Labels = map[string]string{agent.LabelAgent: a, agent.LabelManagedBy: "logplane"}
		}
		keepSidecarSecret(m, &kept)
		m.ObjectMeta = kept
	}
	return obj, nil
}

func envOr(key, fallback string) string {
	if v, ok := os.LookupEnv(key); ok && v != "" {
		return v
	}
	return fallback
}
