package controllers

import (
	"context"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/workqueue"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	v1 "github.com/logplane/logplane/api/v1alpha1"
	"github.com/logplane/logplane/internal/reconciler/agent"
)

// The agent reconciler reads every logplane kind and namespace labels, writes statuses
// (patches only), reads referenced Secrets, and owns the agents' objects, which it
// applies (server-side apply: patch, and create for a new object) and deletes.
//
// Cluster-wide RBAC objects are two pairs with fixed names (agent.AgentsClusterRBACName
// and agent.EventsClusterRBACName): the operator may get, patch and delete those
// four and no other. create cannot be limited by name, but the API server lets it
// create only roles that grant what the operator itself holds (it has neither
// escalate nor bind): reading pods, namespaces and events, which is why it holds
// those cluster-wide.
// +kubebuilder:rbac:groups=logging.logplane.dev,resources=logagents;clusterlogpipelines;logpipelines;logoutputs;clusterlogoutputs;retentionpolicies,verbs=get;list;watch
// +kubebuilder:rbac:groups=logging.logplane.dev,resources=logagents/status;clusterlogpipelines/status;logpipelines/status;logoutputs/status;clusterlogoutputs/status;retentionpolicies/status,verbs=get;patch
// +kubebuilder:rbac:groups=logging.logplane.dev,resources=identitygrants,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=namespaces;pods;events,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=secrets;serviceaccounts;services,verbs=get;create;patch;delete,namespace=logplane-system
// +kubebuilder:rbac:groups=apps,resources=daemonsets,verbs=get;list;watch;create;patch;delete,namespace=logplane-system
// +kubebuilder:rbac:groups=apps,resources=deployments,verbs=get;create;patch;delete,namespace=logplane-system
// +kubebuilder:rbac:groups=rbac.authorization.k8s.io,resources=clusterroles;clusterrolebindings,verbs=create
// +kubebuilder:rbac:groups=rbac.authorization.k8s.io,resources=clusterroles;clusterrolebindings,verbs=get;patch;delete,resourceNames=logplane-agent;logplane-events

// AgentController wires the agent reconciler: a pipeline's change queues its agent;
// any other change to a logplane resource or a namespace's labels queues every
// agent; an agent's DaemonSet, pods and Secrets queue that agent. The queue holds one
// entry per agent, so a burst of events costs one render per agent, not one per event.
type AgentController struct {
	*agent.Reconciler
}

// SetupWithManager registers the controller.
func (c *AgentController) SetupWithManager(mgr ctrl.Manager) error {
	allAgents := handler.EnqueueRequestsFromMapFunc(c.allAgents)
	specOnly := builder.WithPredicates(predicate.GenerationChangedPredicate{})
	namespaces := &metav1.PartialObjectMetadata{}
	namespaces.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Namespace"))
	secrets := &metav1.PartialObjectMetadata{}
	secrets.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Secret"))
	// An agent's canary wakes the default agent when what it refused changes (see
	// agent.Reconciler.Wake); a full channel drops the wake, a later one comes.
	wake := make(chan event.GenericEvent, 16)
	c.Wake = func(name string) {
		select {
		case wake <- event.GenericEvent{Object: &v1.LogAgent{ObjectMeta: metav1.ObjectMeta{Name: name}}}:
		default:
		}
	}
	return ctrl.NewControllerManagedBy(mgr).
		Named("agent").
		WatchesRawSource(source.Channel(wake, &handler.EnqueueRequestForObject{})).
		Watches(&v1.LogAgent{}, allAgents, specOnly).
		// A pipeline's change queues the agents it ran and runs on (and the default
		// agent, which reports on outputs), so one tenant's edit does not re-render
		// every agent.
		Watches(&v1.LogPipeline{}, c.pipelineAgents(), specOnly).
		Watches(&v1.ClusterLogPipeline{}, c.pipelineAgents(), specOnly).
		Watches(&v1.LogOutput{}, allAgents, specOnly).
		Watches(&v1.ClusterLogOutput{}, allAgents, specOnly).
		Watches(&v1.RetentionPolicy{}, allAgents, specOnly).
		// A grant, or a namespace's labels (below), decide which tenant outputs may
		// write to AWS through the agent's identity.
		Watches(&v1.IdentityGrant{}, allAgents, specOnly).
		WatchesMetadata(namespaces, allAgents, builder.WithPredicates(predicate.LabelChangedPredicate{})).
		// Secrets are watched by metadata only (their data is never cached) and queue
		// only the agents that use or wait for them.
		WatchesMetadata(secrets, handler.EnqueueRequestsFromMapFunc(c.agentsForSecret)).
		// Drift: an edited or deleted DaemonSet is put back; its status and its pods'
		// say whether the agent is healthy.
		Watches(&appsv1.DaemonSet{}, handler.EnqueueRequestsFromMapFunc(ownedByAgent)).
		Watches(&corev1.Pod{}, handler.EnqueueRequestsFromMapFunc(ownedByAgent)).
		Complete(c.Reconciler)
}

// allAgents queues the default agent and every LogAgent.
func (c *AgentController) allAgents(ctx context.Context, _ client.Object) []reconcile.Request {
	reqs := []reconcile.Request{{NamespacedName: types.NamespacedName{Name: v1.DefaultAgentName}}}
	var agents v1.LogAgentList
	if err := c.Client.List(ctx, &agents); err != nil {
		return reqs
	}
	for _, a := range agents.Items {
		if a.Name != v1.DefaultAgentName {
			reqs = append(reqs, reconcile.Request{NamespacedName: types.NamespacedName{Name: a.Name}})
		}
	}
	return reqs
}

// pipelineAgents queues the agents agent.AgentsToRender names for a pipeline event.
func (c *AgentController) pipelineAgents() handler.EventHandler {
	queue := func(ctx context.Context, q workqueue.TypedRateLimitingInterface[reconcile.Request], old, new client.Object) {
		exists := func(name string) bool {
			return c.Client.Get(ctx, client.ObjectKey{Name: name}, &v1.LogAgent{}) == nil
		}
		for _, a := range agent.AgentsToRender(old, new, exists) {
			q.Add(reconcile.Request{NamespacedName: types.NamespacedName{Name: a}})
		}
	}
	return handler.Funcs{
		CreateFunc: func(ctx context.Context, e event.CreateEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			queue(ctx, q, nil, e.Object)
		},
		UpdateFunc: func(ctx context.Context, e event.UpdateEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			queue(ctx, q, e.ObjectOld, e.ObjectNew)
		},
		DeleteFunc: func(ctx context.Context, e event.DeleteEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			queue(ctx, q, e.Object, nil)
		},
		GenericFunc: func(ctx context.Context, e event.GenericEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			queue(ctx, q, nil, e.Object)
		},
	}
}

func (c *AgentController) agentsForSecret(ctx context.Context, o client.Object) []reconcile.Request {
	if own := ownedByAgent(ctx, o); own != nil {
		return own // one of the agent's own Secrets: repair drift
	}
	agents, all := c.SecretIndex.Agents(o.GetNamespace(), o.GetName())
	if all {
		return c.allAgents(ctx, o)
	}
	reqs := make([]reconcile.Request, 0, len(agents))
	for _, a := range agents {
		reqs = append(reqs, reconcile.Request{NamespacedName: types.NamespacedName{Name: a}})
	}
	return reqs
}

func ownedByAgent(_ context.Context, o client.Object) []reconcile.Request {
	name, ok := o.GetLabels()["logging.logplane.dev/agent"]
	if !ok {
		return nil
	}
	return []reconcile.Request{{NamespacedName: types.NamespacedName{Name: name}}}
}
