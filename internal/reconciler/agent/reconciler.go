// Package agent reconciles one LogAgent (or the built-in default) into running Fluent
// Bit: it renders every pipeline, applies the agent's objects and writes the
// ConfigGenerated condition of the pipelines it runs.
package agent

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	v1 "github.com/logplane/logplane/api/v1alpha1"
	agentobjects "github.com/logplane/logplane/internal/agent"
	"github.com/logplane/logplane/internal/apply"
	"github.com/logplane/logplane/internal/render"
)

// Reconciler renders and applies one agent per request; the request name is the agent's.
type Reconciler struct {
	// Client reads logplane resources and namespaces from the cache and writes.
	Client client.Client
	// Secrets reads referenced Secrets directly, so that the cache never holds every
	// Secret of the cluster.
	Secrets client.Reader
	// Namespace is the operator's: agent objects and platform Secrets live there.
	Namespace string
	// SecretIndex is updated after each render for the Secret watch to consult.
	SecretIndex *SecretIndex
}

// Reconcile renders the whole snapshot once and applies the requested agent's share.
// A burst of events for the agent collapses into one request in the work queue, so
// the cost is one render per burst, not one per event.
func (r *Reconciler) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	logger := log.FromContext(ctx).WithValues("agent", req.Name)
	snap, secrets, err := r.gather(ctx)
	if err != nil {
		return reconcile.Result{}, err
	}
	res := render.Render(snap)

	var owner *v1.LogAgent
	for i := range snap.Agents {
		if snap.Agents[i].Name == req.Name {
			owner = &snap.Agents[i]
		}
	}
	if owner == nil && req.Name != v1.DefaultAgentName {
		return reconcile.Result{}, nil // deleted: owner references remove its objects
	}
	var cfg *render.AgentConfig
	for i := range res.Agents {
		if res.Agents[i].Agent == req.Name {
			cfg = &res.Agents[i]
		}
	}
	if cfg == nil {
		return reconcile.Result{}, fmt.Errorf("render produced no configuration for agent %s", req.Name)
	}
	if r.SecretIndex != nil {
		referenced := make(map[[2]string]bool, len(secrets))
		for key := range secrets {
			referenced[key] = true
		}
		r.SecretIndex.record(req.Name, cfg.Config, referenced)
	}
	in := agentobjects.Input{Name: req.Name, Namespace: r.Namespace, Config: cfg.Config,
		SecretValues: secretValues(cfg.Config, secrets)}
	if owner != nil {
		in.Spec = owner.Spec
	}
	objs := agentobjects.Build(in)
	for _, obj := range objs.All() {
		if owner != nil {
			if err := controllerutil.SetOwnerReference(owner, obj, r.Client.Scheme()); err != nil {
				return reconcile.Result{}, err
			}
		}
		if err := apply.Apply(ctx, r.Client, obj); err != nil {
			return reconcile.Result{}, err
		}
	}
	logger.V(1).Info("applied agent", "configHash", cfg.Hash, "pipelines", len(cfg.Pipelines))
	return reconcile.Result{}, r.writeStatuses(ctx, req.Name, snap, res)
}

// isNotFound tolerates objects deleted between the list and the status write.
func isNotFound(err error) bool { return apierrors.IsNotFound(err) }
