// Package verdict writes the status of pipelines and outputs from their verdicts on
// the status board. It is the only writer of those conditions, and it writes only
// when something a user reads changed — a no-op render or an unchanged measurement
// costs no API call, and a render of thousands of pipelines costs no write for the
// resources it left as they were.
package verdict

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	v1 "github.com/logplane/logplane/api/v1alpha1"
	"github.com/logplane/logplane/internal/alias"
	"github.com/logplane/logplane/internal/conditions"
	"github.com/logplane/logplane/internal/render"
	"github.com/logplane/logplane/internal/status"
)

// Reconciler writes the status of one kind of pipeline or output.
type Reconciler struct {
	Client client.Client
	Board  *status.Board
	// Kind is a pipeline or output kind from package alias.
	Kind string
	// Events records transitions users should notice; nil records none.
	Events status.EventRecorder
}

// composer applies a board verdict to the object it was made for, once that object
// is read, and says what ConfigGenerated was before and is now.
type composer func() (before *metav1.Condition, now metav1.Condition, changed bool)

// Reconcile composes and writes one resource's status.
func (r *Reconciler) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	ref := render.Ref{Kind: r.Kind, Namespace: req.Namespace, Name: req.Name}
	obj, compose := r.subject(ref)
	if compose == nil {
		return reconcile.Result{}, nil // not rendered yet: the render will tell us
	}
	if err := r.Client.Get(ctx, req.NamespacedName, obj); err != nil {
		return reconcile.Result{}, client.IgnoreNotFound(err)
	}
	base := obj.DeepCopyObject().(client.Object)
	before, now, changed := compose()
	if !changed {
		return reconcile.Result{}, nil
	}
	status.RecordTransition(r.Events, obj, before, now)
	// Optimistic locking: another controller writes its own condition on outputs,
	// and a patch built on a stale copy must not take it away.
	if err := r.Client.Status().Patch(ctx, obj, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{})); err != nil {
		if apierrors.IsNotFound(err) {
			return reconcile.Result{}, nil
		}
		return reconcile.Result{}, fmt.Errorf("failed to write status of %s: %w", ref, err)
	}
	return reconcile.Result{}, nil
}

// subject returns an empty object of the reconciler's kind and the composer of its
// status; the composer is nil while the board has no verdict on it.
func (r *Reconciler) subject(ref render.Ref) (client.Object, composer) {
	switch r.Kind {
	case alias.LogPipeline, alias.ClusterLogPipeline:
		entry, ok := r.Board.Get(ref)
		if !ok {
			return nil, nil
		}
		var obj client.Object
		var st *v1.PipelineStatus
		if r.Kind == alias.ClusterLogPipeline {
			p := &v1.ClusterLogPipeline{}
			obj, st = p, &p.Status.PipelineStatus
		} else {
			p := &v1.LogPipeline{}
			obj, st = p, &p.Status.PipelineStatus
		}
		return obj, func() (*metav1.Condition, metav1.Condition, bool) {
			before := configCondition(st.Conditions)
			return before, entry.Verdict.Config, status.Apply(st, entry)
		}
	default:
		v, ok := r.Board.Output(ref)
		if !ok {
			return nil, nil
		}
		var obj client.Object
		var st *v1.OutputStatus
		if r.Kind == alias.ClusterLogOutput {
			o := &v1.ClusterLogOutput{}
			obj, st = o, &o.Status
		} else {
			o := &v1.LogOutput{}
			obj, st = o, &o.Status
		}
		return obj, func() (*metav1.Condition, metav1.Condition, bool) {
			before := configCondition(st.Conditions)
			return before, v.Config, status.ApplyOutput(st, v)
		}
	}
}

// configCondition copies ConfigGenerated out of a list about to be changed in place.
func configCondition(list []metav1.Condition) *metav1.Condition {
	c := meta.FindStatusCondition(list, conditions.TypeConfigGenerated)
	if c == nil {
		return nil
	}
	copied := *c
	return &copied
}
