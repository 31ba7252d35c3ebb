package controllers

import (
	"context"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/workqueue"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	v1 "github.com/logplane/logplane/api/v1alpha1"
	"github.com/logplane/logplane/internal/alias"
	"github.com/logplane/logplane/internal/reconciler/pipeline"
	"github.com/logplane/logplane/internal/render"
)

// PipelineStatusController wires the status writer of one pipeline kind: it runs when
// the status board says a verdict changed, and when the pipeline itself changes (so a
// status edited by hand is put back).
type PipelineStatusController struct {
	*pipeline.Reconciler
}

// SetupWithManager registers the controller.
func (c *PipelineStatusController) SetupWithManager(mgr ctrl.Manager) error {
	var obj client.Object = &v1.LogPipeline{}
	name := "logpipeline-status"
	if c.Kind == alias.ClusterLogPipeline {
		obj, name = &v1.ClusterLogPipeline{}, "clusterlogpipeline-status"
	}
	board := source.Func(func(_ context.Context, q workqueue.TypedRateLimitingInterface[reconcile.Request]) error {
		c.Board.Listen(c.Kind, func(ref render.Ref) {
			q.Add(reconcile.Request{NamespacedName: types.NamespacedName{Namespace: ref.Namespace, Name: ref.Name}})
		})
		return nil
	})
	return ctrl.NewControllerManagedBy(mgr).
		Named(name).
		For(obj).
		WatchesRawSource(board).
		// Status writes are independent small patches; a few at once keep a burst of
		// thousands short without loading the API server.
		WithOptions(controller.Options{MaxConcurrentReconciles: 4}).
		Complete(c.Reconciler)
}
