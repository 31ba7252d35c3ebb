// Package output writes the status of one LogOutput or ClusterLogOutput from its
// verdict on the status board: its ConfigGenerated and Ready conditions and the
// pipelines that use it. It writes only when something a user reads changed, so a
// render of thousands of pipelines costs no write for the outputs it left as they were.
package output

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	v1 "github.com/logplane/logplane/api/v1alpha1"
	"github.com/logplane/logplane/internal/alias"
	"github.com/logplane/logplane/internal/render"
	"github.com/logplane/logplane/internal/status"
)

// Reconciler writes the status of outputs of one kind.
type Reconciler struct {
	Client client.Client
	Board  *status.Board
	// Kind is alias.LogOutput or alias.ClusterLogOutput.
	Kind string
	// Events records transitions users should notice; nil records none.
	Events status.EventRecorder
}

// Reconcile composes and writes one output's status.
func (r *Reconciler) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	ref := render.Ref{Kind: r.Kind, Namespace: req.Namespace, Name: req.Name}
	verdict, ok := r.Board.Output(ref)
	if !ok {
		return reconcile.Result{}, nil // not rendered yet: the render will tell us
	}
	obj, st := r.newObject()
	if err := r.Client.Get(ctx, req.NamespacedName, obj); err != nil {
		return reconcile.Result{}, client.IgnoreNotFound(err)
	}
	base := obj.DeepCopyObject().(client.Object)
	before := meta.FindStatusCondition(st.Conditions, verdict.Config.Type)
	if !status.ApplyOutput(st, verdict) {
		return reconcile.Result{}, nil
	}
	status.RecordTransition(r.Events, obj, before, verdict.Config)
	// Optimistic locking: the retention controller writes its own condition on
	// outputs, and a patch built on a stale copy must not take it away.
	if err := r.Client.Status().Patch(ctx, obj, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{})); err != nil {
		if apierrors.IsNotFound(err) {
			return reconcile.Result{}, nil
		}
		return reconcile.Result{}, fmt.Errorf("failed to write status of %s: %w", ref, err)
	}
	return reconcile.Result{}, nil
}

func (r *Reconciler) newObject() (client.Object, *v1.OutputStatus) {
	if r.Kind == alias.ClusterLogOutput {
		o := &v1.ClusterLogOutput{}
		return o, &o.Status
	}
	o := &v1.LogOutput{}
	return o, &o.Status
}
