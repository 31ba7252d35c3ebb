package controllers

import (
	"context"
	"fmt"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/workqueue"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	v1 "github.com/logplane/logplane/api/v1alpha1"
	"github.com/logplane/logplane/internal/alias"
	"github.com/logplane/logplane/internal/render"
	"github.com/logplane/logplane/internal/status"
)

// StatusController wires the status writer of one pipeline or output kind: it runs
// when the status board says a verdict changed, and when the resource itself changes
// (so a status edited by hand is put back).
type StatusController struct {
	// Kind is a pipeline or output kind from package alias.
	Kind       string
	Board      *status.Board
	Reconciler reconcile.Reconciler
	// Coalesce delays the write a board change asks for, so that the changes of a
	// burst share one write; zero writes at once.
	Coalesce time.Duration
}

// SetupWithManager registers the controller.
func (c *StatusController) SetupWithManager(mgr ctrl.Manager) error {
	var obj client.Object
	switch c.Kind {
	case alias.LogPipeline:
		obj = &v1.LogPipeline{}
	case alias.ClusterLogPipeline:
		obj = &v1.ClusterLogPipeline{}
	case alias.LogOutput:
		obj = &v1.LogOutput{}
	case alias.ClusterLogOutput:
		obj = &v1.ClusterLogOutput{}
	default:
		return fmt.Errorf("no status controller for kind %q", c.Kind)
	}
	board := source.Func(func(_ context.Context, q workqueue.TypedRateLimitingInterface[reconcile.Request]) error {
		c.Board.Listen(c.Kind, func(ref render.Ref) {
			q.AddAfter(reconcile.Request{NamespacedName: types.NamespacedName{Namespace: ref.Namespace, Name: ref.Name}}, c.Coalesce)
		})
		return nil
	})
	return ctrl.NewControllerManagedBy(mgr).
		Named(strings.ToLower(c.Kind) + "-status").
		For(obj).
		WatchesRawSource(board).
		// Status writes are independent small patches; a few at once keep a burst of
		// thousands short without loading the API server.
		WithOptions(controller.Options{MaxConcurrentReconciles: 4}).
		Complete(c.Reconciler)
}
