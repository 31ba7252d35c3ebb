package controllers

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	v1 "github.com/logplane/logplane/api/v1alpha1"
	"github.com/logplane/logplane/internal/agent"
	"github.com/logplane/logplane/internal/reconciler/sidecar"
	sidecarpkg "github.com/logplane/logplane/internal/sidecar"
)

// The sidecar reconciler writes each file-input pipeline's Secret into its namespace
// and counts the pods it selects (metadata only). A pod mounts Secrets of its own
// namespace only, so these are written in tenants' namespaces, whichever they are:
// RBAC can limit neither the namespace nor the name (logplane-sidecar-<pipeline>).
// The verbs are what server-side apply and removal need, no update; the optional
// admission policy in config/policy holds them to these Secrets. See
// docs/concepts.md (Tenancy and trust) for what this grants.
// +kubebuilder:rbac:groups="",resources=secrets,verbs=create;patch;delete
// +kubebuilder:rbac:groups="",resources=pods,verbs=get;list;watch

// SidecarController wires the sidecar reconciler. Requests are LogPipelines; anything
// a file-input pipeline's configuration or counts depend on queues the pipelines of
// the namespace concerned.
type SidecarController struct {
	*sidecar.Reconciler
	// PodCache holds pod metadata for counting; the controller starts watching it.
	PodCache cache.Cache
}

// SetupWithManager registers the controller.
func (c *SidecarController) SetupWithManager(mgr ctrl.Manager) error {
	secrets := &metav1.PartialObjectMetadata{}
	secrets.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Secret"))
	namespaces := &metav1.PartialObjectMetadata{}
	namespaces.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Namespace"))
	pods := &metav1.PartialObjectMetadata{}
	pods.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Pod"))
	inNamespace := handler.EnqueueRequestsFromMapFunc(c.filePipelinesInNamespace)
	all := handler.EnqueueRequestsFromMapFunc(c.allFilePipelines)
	specOnly := builder.WithPredicates(predicate.GenerationChangedPredicate{})
	return ctrl.NewControllerManagedBy(mgr).
		Named("sidecar").
		// Status changes too: the agent reconciler's status patch may have dropped
		// this controller's condition, which is then written again.
		For(&v1.LogPipeline{}).
		Watches(&v1.LogOutput{}, inNamespace, specOnly).
		Watches(&v1.ClusterLogOutput{}, all, specOnly).
		Watches(&v1.RetentionPolicy{}, all, specOnly).
		WatchesMetadata(namespaces, handler.EnqueueRequestsFromMapFunc(c.filePipelinesOfNamespace), builder.WithPredicates(predicate.LabelChangedPredicate{})).
		// A pipeline's own Secret, edited or deleted, is put back; any other Secret in
		// a namespace may hold credentials its pipelines use.
		WatchesMetadata(secrets, handler.EnqueueRequestsFromMapFunc(c.forSecret)).
		WatchesRawSource(source.Kind(c.PodCache, pods,
			handler.TypedEnqueueRequestsFromMapFunc(func(ctx context.Context, o *metav1.PartialObjectMetadata) []reconcile.Request {
				return c.filePipelinesInNamespace(ctx, o)
			}), podCountChanged)).
		Complete(c.Reconciler)
}

// podCountChanged passes the pod events that can change a count: creation, deletion,
// and label, sidecar annotation or termination changes — not the status updates of
// running pods.
var podCountChanged = predicate.TypedFuncs[*metav1.PartialObjectMetadata]{
	UpdateFunc: func(e event.TypedUpdateEvent[*metav1.PartialObjectMetadata]) bool {
		o, n := e.ObjectOld, e.ObjectNew
		return !mapsEqual(o.Labels, n.Labels) ||
			o.Annotations[sidecarpkg.AnnotationHashes] != n.Annotations[sidecarpkg.AnnotationHashes] ||
			(o.DeletionTimestamp == nil) != (n.DeletionTimestamp == nil)
	},
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func (c *SidecarController) forSecret(ctx context.Context, o client.Object) []reconcile.Request {
	if o.GetLabels()[agent.LabelComponent] == sidecarpkg.ComponentSidecar {
		for _, ref := range o.GetOwnerReferences() {
			if ref.Kind == "LogPipeline" && ref.Controller != nil && *ref.Controller {
				return []reconcile.Request{{NamespacedName: types.NamespacedName{Namespace: o.GetNamespace(), Name: ref.Name}}}
			}
		}
		return nil
	}
	return c.filePipelinesInNamespace(ctx, o)
}

func (c *SidecarController) filePipelinesOfNamespace(ctx context.Context, ns client.Object) []reconcile.Request {
	return c.filePipelines(ctx, client.InNamespace(ns.GetName()))
}

func (c *SidecarController) filePipelinesInNamespace(ctx context.Context, o client.Object) []reconcile.Request {
	return c.filePipelines(ctx, client.InNamespace(o.GetNamespace()))
}

func (c *SidecarController) allFilePipelines(ctx context.Context, _ client.Object) []reconcile.Request {
	return c.filePipelines(ctx)
}

func (c *SidecarController) filePipelines(ctx context.Context, opts ...client.ListOption) []reconcile.Request {
	var list v1.LogPipelineList
	if err := c.Client.List(ctx, &list, opts...); err != nil {
		return nil
	}
	var reqs []reconcile.Request
	for _, p := range list.Items {
		if p.Spec.Input.Files != nil {
			reqs = append(reqs, reconcile.Request{NamespacedName: types.NamespacedName{Namespace: p.Namespace, Name: p.Name}})
		}
	}
	return reqs
}
