// Package pipeline writes the status of one LogPipeline or ClusterLogPipeline from
// the verdicts on the status board. It is the only writer of a pipeline's status, and
// it writes only when a condition, observedGeneration or a figure changed — a
// no-op render or an unchanged measurement costs no API call.
package pipeline

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	v1 "github.com/logplane/logplane/api/v1alpha1"
	"github.com/logplane/logplane/internal/alias"
	"github.com/logplane/logplane/internal/conditions"
	"github.com/logplane/logplane/internal/render"
	"github.com/logplane/logplane/internal/status"
)

// Reconciler writes the status of pipelines of one kind.
type Reconciler struct {
	Client client.Client
	Board  *status.Board
	// Kind is alias.LogPipeline or alias.ClusterLogPipeline.
	Kind string
	// Events records transitions users should notice; nil records none.
	Events status.EventRecorder
}

// Reconcile composes and writes one pipeline's status.
func (r *Reconciler) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	ref := render.Ref{Kind: r.Kind, Namespace: req.Namespace, Name: req.Name}
	entry, ok := r.Board.Get(ref)
	if !ok {
		return reconcile.Result{}, nil // not rendered yet: the render will tell us
	}
	obj, st := r.newObject()
	if err := r.Client.Get(ctx, req.NamespacedName, obj); err != nil {
		return reconcile.Result{}, client.IgnoreNotFound(err)
	}
	base := obj.DeepCopyObject().(client.Object)
	before := meta.FindStatusCondition(st.Conditions, conditions.TypeConfigGenerated)
	if !status.Apply(st, entry) {
		return reconcile.Result{}, nil
	}
	status.RecordTransition(r.Events, obj, before, entry.Verdict.Config)
	if err := r.Client.Status().Patch(ctx, obj, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{})); err != nil {
		if apierrors.IsNotFound(err) {
			return reconcile.Result{}, nil
		}
		return reconcile.Result{}, fmt.Errorf("failed to write status of %s: %w", ref, err)
	}
	return reconcile.Result{}, nil
}

func (r *Reconciler) newObject() (client.Object, *v1.PipelineStatus) {
	if r.Kind == alias.ClusterLogPipeline {
		p := &v1.ClusterLogPipeline{}
		return p, &p.Status.PipelineStatus
	}
	p := &v1.LogPipeline{}
	return p, &p.Status.PipelineStatus
}
