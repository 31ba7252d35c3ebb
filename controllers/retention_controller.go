package controllers

import (
	"context"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/workqueue"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	v1 "github.com/logplane/logplane/api/v1alpha1"
	"github.com/logplane/logplane/internal/conditions"
	"github.com/logplane/logplane/internal/reconciler/retention"
)

// The retention reconciler reads policies and outputs, writes their status, and reads
// the Secrets outputs refer to (one at a time, never listed or watched).
// +kubebuilder:rbac:groups=logging.logplane.dev,resources=retentionpolicies;logoutputs;clusterlogoutputs,verbs=get;list;watch
// +kubebuilder:rbac:groups=logging.logplane.dev,resources=retentionpolicies/status;logoutputs/status;clusterlogoutputs/status,verbs=get;patch
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get
// It puts its finalizer on outputs whose S3 lifecycle rule it removes when they are
// deleted (a metadata patch; never their spec).
// +kubebuilder:rbac:groups=logging.logplane.dev,resources=logoutputs;clusterlogoutputs,verbs=patch
// It reads IdentityGrants and namespace labels: a tenant output's retention is applied
// only with an identity granted to its namespace.
// +kubebuilder:rbac:groups=logging.logplane.dev,resources=identitygrants,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=namespaces,verbs=get;list;watch

// RetentionController wires the retention reconciler: a policy is reconciled when its
// spec changes, when an output starts, stops or changes referring to it, and when an
// output that refers to it lost its RetentionEnforced condition to another writer.
type RetentionController struct {
	*retention.Reconciler
}

// Failed destinations are retried from 5s, doubling up to 10 minutes: each retry calls
// the destination's API, which throttles.
const (
	retentionRetryBase = 5 * time.Second
	retentionRetryMax  = 10 * time.Minute
)

// SetupWithManager registers the controller.
func (c *RetentionController) SetupWithManager(mgr ctrl.Manager) error {
	byPolicy := handler.EnqueueRequestsFromMapFunc(policyOfOutput)
	allPolicies := handler.EnqueueRequestsFromMapFunc(c.allPolicies)
	namespaces := &metav1.PartialObjectMetadata{}
	namespaces.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Namespace"))
	outputs := builder.WithPredicates(predicate.Or[client.Object](predicate.GenerationChangedPredicate{},
		predicate.Funcs{UpdateFunc: func(e event.UpdateEvent) bool { return retentionConditionLost(e) || cleanupDue(e.ObjectNew) }}))
	return ctrl.NewControllerManagedBy(mgr).
		Named("retention").
		For(&v1.RetentionPolicy{}, builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		// An update maps the old and the new object, so the policy an output stops
		// naming is reconciled too.
		Watches(&v1.LogOutput{}, byPolicy, outputs).
		Watches(&v1.ClusterLogOutput{}, byPolicy, outputs).
		// A grant or a namespace's labels change which tenant outputs may have their
		// retention applied: every policy is checked again.
		Watches(&v1.IdentityGrant{}, allPolicies, builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		WatchesMetadata(namespaces, allPolicies, builder.WithPredicates(predicate.LabelChangedPredicate{})).
		WithOptions(controller.Options{RateLimiter: workqueue.NewTypedItemExponentialFailureRateLimiter[reconcile.Request](
			retentionRetryBase, retentionRetryMax)}).
		Complete(c.Reconciler)
}

// allPolicies queues every RetentionPolicy.
func (c *RetentionController) allPolicies(ctx context.Context, _ client.Object) []reconcile.Request {
	var policies v1.RetentionPolicyList
	if err := c.Client.List(ctx, &policies); err != nil {
		return nil
	}
	reqs := make([]reconcile.Request, 0, len(policies.Items))
	for _, p := range policies.Items {
		reqs = append(reqs, reconcile.Request{NamespacedName: types.NamespacedName{Name: p.Name}})
	}
	return reqs
}

func policyOfOutput(_ context.Context, o client.Object) []reconcile.Request {
	var name v1.ResourceName
	switch out := o.(type) {
	case *v1.LogOutput:
		name = out.Spec.RetentionPolicy
	case *v1.ClusterLogOutput:
		name = out.Spec.RetentionPolicy
	}
	if name == "" && !cleanupDue(o) {
		return nil
	}
	// An output that names no policy but still has a rule to remove goes to the request
	// with an empty name, which handles only those.
	return []reconcile.Request{{NamespacedName: types.NamespacedName{Name: string(name)}}}
}

// cleanupDue passes an output being deleted whose retention rule is still to be removed.
func cleanupDue(o client.Object) bool {
	return o.GetDeletionTimestamp() != nil && controllerutil.ContainsFinalizer(o, retention.Finalizer)
}

// retentionConditionLost passes status updates that removed the RetentionEnforced
// condition from an output that names a policy: the agent reconciler writes the same
// conditions list and may have written it from a copy made before ours.
func retentionConditionLost(e event.UpdateEvent) bool {
	switch out := e.ObjectNew.(type) {
	case *v1.LogOutput:
		return out.Spec.RetentionPolicy != "" && meta.FindStatusCondition(out.Status.Conditions, conditions.TypeRetentionEnforced) == nil
	case *v1.ClusterLogOutput:
		return out.Spec.RetentionPolicy != "" && meta.FindStatusCondition(out.Status.Conditions, conditions.TypeRetentionEnforced) == nil
	}
	return false
}
