// Package agent reconciles one LogAgent (or the built-in default) into running Fluent
// Bit: it renders every pipeline, applies the agent's objects and writes the
// ConfigGenerated condition of the pipelines it runs.
package agent

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	v1 "github.com/logplane/logplane/api/v1alpha1"
	agentobjects "github.com/logplane/logplane/internal/agent"
	"github.com/logplane/logplane/internal/apply"
	"github.com/logplane/logplane/internal/conditions"
	"github.com/logplane/logplane/internal/render"
	"github.com/logplane/logplane/internal/status"
)

// Reconciler renders and applies one agent per request; the request name is the agent's.
type Reconciler struct {
	// Client reads logplane resources and namespaces from the cache and writes.
	Client client.Client
	// Secrets reads referenced Secrets directly, so that the cache never holds every
	// Secret of the cluster.
	Secrets client.Reader
	// SecretData keeps referenced Secrets' data between reconciles; nil reads them
	// every time.
	SecretData *SecretData
	// Namespace is the operator's: agent objects and platform Secrets live there.
	Namespace string
	// Salt keys the names of credentials (snapshot.Snapshot.Salt).
	Salt []byte
	// SecretIndex is updated after each render for the Secret watch to consult.
	SecretIndex *SecretIndex
	// Events records transitions users should notice; nil records none.
	Events status.EventRecorder
	// OperatorImage is this operator's image, which also holds the agents' fbexec
	// and runs their reloader.
	OperatorImage string
	// Renderer remembers unchanged pipelines between renders; nil renders from scratch.
	Renderer *render.Renderer
	// Applied skips applies that would change nothing; nil applies every time.
	Applied *apply.Memo
	// Board receives the render's verdicts on pipelines, for their status reconciler.
	Board *status.Board
	// Rollouts paces configuration rollouts in Restart mode; nil rolls out each change.
	Rollouts *Rollouts
	// Prover proves each changed configuration in a canary before the nodes get it
	// (see canary.go); nil writes every configuration as rendered.
	Prover Prover
	// Wake queues a reconcile of the named agent; nil queues nothing. Another agent's
	// canary asks the default agent, which publishes outputs' verdicts, to say what
	// it found about them.
	Wake func(agent string)
	// RolloutDeadline is how long an agent pod may run a new configuration without
	// becoming ready before the rollout counts as failed and is rolled back (see
	// rollback.go); zero is DefaultRolloutDeadline.
	RolloutDeadline time.Duration
	// Clock tells the time for rollout deadlines; nil is the system clock.
	Clock clock.PassiveClock
	// ReloadStatus asks a HotReload agent pod's reloader for its status (reload.go);
	// nil asks it over HTTP.
	ReloadStatus ReloadStatusFunc

	canaryFields
	rollbackFields

	// eventsAbsent remembers that the events collector was removed. Only the default
	// agent's reconcile touches it, and one reconcile per agent runs at a time.
	eventsAbsent bool
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
	var res *render.Result
	if r.Renderer != nil {
		res = r.Renderer.Render(snap)
	} else {
		res = render.Render(snap)
	}

	var owner *v1.LogAgent
	for i := range snap.Agents {
		if snap.Agents[i].Name == req.Name {
			owner = &snap.Agents[i]
		}
	}
	agents := agentNames(snap.Agents)
	if owner == nil && req.Name != v1.DefaultAgentName {
		// Deleted: owner references remove its objects; its ServiceAccount leaves the
		// binding the agents share.
		binding := agentobjects.Build(agentobjects.Input{Name: v1.DefaultAgentName, Namespace: r.Namespace, Agents: agents}).ClusterRoleBinding
		return reconcile.Result{}, r.apply(ctx, binding)
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
	var canaryRequeue time.Duration
	if r.Prover != nil {
		// Only a configuration a canary proved reaches the nodes; the statuses tell
		// what is held back and why.
		p, err := r.prove(ctx, req.Name, owner, snap, secrets, res)
		if err != nil {
			return reconcile.Result{}, err
		}
		res, cfg, canaryRequeue = p.res, p.cfg, p.requeue
		if cfg == nil {
			// Nothing proven to write yet: what runs stays.
			state, err := r.agentState(ctx, req.Name)
			if err != nil {
				return reconcile.Result{}, err
			}
			if owner != nil && p.refused != "" {
				if err := r.writeAgentRefused(ctx, owner, p.refused, r.agentHealth(req.Name, state, owner.Generation)); err != nil {
					return reconcile.Result{}, err
				}
			}
			r.publishVerdicts(req.Name, snap, res, r.pipelineHealth(req.Name, state))
			return reconcile.Result{RequeueAfter: canaryRequeue}, nil
		}
	}
	in := agentobjects.Input{Name: req.Name, Namespace: r.Namespace, Config: cfg.Config,
		SecretValues: secretValues(cfg.Config, secrets), OperatorImage: r.OperatorImage, Agents: agents}
	if owner != nil {
		in.Spec = owner.Spec
	}
	objs := agentobjects.Build(in)
	// The running DaemonSet, as the cache has it, read once: rollback judges its
	// rollout, the apply memo compares with it, and rollout pacing starts from its
	// hash after a restart.
	var live appsv1.DaemonSet
	err = r.Client.Get(ctx, client.ObjectKeyFromObject(objs.DaemonSet), &live)
	if err != nil && !apierrors.IsNotFound(err) {
		return reconcile.Result{}, fmt.Errorf("failed to get DaemonSet: %w", err)
	}
	liveFound := err == nil
	// One list serves rollback, the apply memo and the pruning: the Secrets the apply
	// below creates are the current configuration's, which pruning keeps anyway.
	existing, err := r.agentSecrets(ctx, req.Name)
	if err != nil {
		return reconcile.Result{}, err
	}
	// A configuration that failed on nodes after its rollout stays off them; the last
	// healthy one runs instead (rollback.go).
	plan, err := r.rollback(ctx, req.Name, owner, in, objs, &live, liveFound, existing)
	if err != nil {
		return reconcile.Result{}, err
	}
	objs = plan.objs
	if r.Prover != nil {
		// The proven hash, also when a rollback writes another configuration: it is
		// the canary's record of what it proved, and a restarted operator that
		// renders it again proves nothing and holds the rollback.
		for _, s := range objs.ConfigSecrets {
			if s.Name == agentobjects.ConfigSecretName(agentobjects.ResourceName(req.Name), render.MainFile) {
				s.Annotations = map[string]string{AnnotationProven: cfg.Hash}
			}
		}
	}
	var requeue time.Duration
	if plan.bypassPacing {
		r.Rollouts.Put(req.Name, objs.DaemonSet.Spec.Template.Annotations[agentobjects.AnnotationConfig], time.Now())
	} else {
		requeue = r.paceRollout(req.Name, objs.DaemonSet, &live)
	}
	r.confirmApplied(objs, &live, liveFound, existing)
	for _, obj := range objs.All() {
		if owner != nil && obj.GetNamespace() != "" { // cluster-wide RBAC is shared by every agent

			if err := controllerutil.SetOwnerReference(owner, obj, r.Client.Scheme()); err != nil {
				return reconcile.Result{}, err
			}
		}
		if err := r.apply(ctx, obj); err != nil {
			return reconcile.Result{}, err
		}
	}
	if err := r.pruneSecrets(ctx, req.Name, objs, existing); err != nil {
		return reconcile.Result{}, err
	}
	if r.Prover != nil {
		// After the configuration: what is saved always describes what was written.
		state, err := r.provenSecret(req.Name, cfg.Hash)
		if err != nil {
			return reconcile.Result{}, err
		}
		if state != nil {
			if owner != nil {
				if err := controllerutil.SetOwnerReference(owner, state, r.Client.Scheme()); err != nil {
					return reconcile.Result{}, err
				}
			}
			if err := apply.Apply(ctx, r.Client, state); err != nil {
				r.forgetSaved(req.Name)
				return reconcile.Result{}, err
			}
		}
	}
	logger.V(1).Info("applied agent", "configHash", cfg.Hash, "pipelines", len(cfg.Pipelines))

	if req.Name == v1.DefaultAgentName {
		// The cluster's events collector is not an agent; the default agent's
		// reconcile keeps it, since there is always exactly one default agent.
		if err := r.reconcileEvents(ctx, res.Events, secrets); err != nil {
			return reconcile.Result{}, err
		}
	}

	state, err := r.agentState(ctx, req.Name)
	if err != nil {
		return reconcile.Result{}, err
	}
	if owner != nil {
		var usage *v1.BudgetUsage
		if plan.cfg.Hash == cfg.Hash { // a rolled-back configuration's usage is not known
			usage = &cfg.Usage
		}
		if err := r.writeAgentStatus(ctx, owner, objs, plan.cfg, usage, r.agentHealth(req.Name, state, owner.Generation)); err != nil {
			return reconcile.Result{}, err
		}
	}
	r.publishVerdicts(req.Name, snap, res, r.pipelineHealth(req.Name, state))
	for _, d := range []time.Duration{canaryRequeue, plan.recheck} {
		if d > 0 && (requeue == 0 || d < requeue) {
			requeue = d
		}
	}
	return reconcile.Result{RequeueAfter: requeue}, nil
}

// agentNames are the node agents that run: every LogAgent, and the default one,
// which always does.
func agentNames(agents []v1.LogAgent) []string {
	names := []string{v1.DefaultAgentName}
	for _, a := range agents {
		if a.DeletionTimestamp == nil && a.Name != v1.DefaultAgentName {
			names = append(names, a.Name)
		}
	}
	return names
}

// paceRollout keeps the running configuration hash on the pod template while a
// rollout must wait (see Rollouts), and says when to come back for it. live is empty
// when there is no DaemonSet yet.
func (r *Reconciler) paceRollout(agent string, ds, live *appsv1.DaemonSet) time.Duration {
	if r.Rollouts == nil {
		return 0
	}
	tmpl := ds.Spec.Template.Annotations
	var wait time.Duration
	tmpl[agentobjects.AnnotationConfig], wait = r.Rollouts.TemplateHash(agent,
		tmpl[agentobjects.AnnotationConfig], live.Spec.Template.Annotations[agentobjects.AnnotationConfig], time.Now())
	return wait
}

// agentState reads the agent's DaemonSet and pods from the cache and judges them.
func (r *Reconciler) agentState(ctx context.Context, agent string) (agentState, error) {
	var ds appsv1.DaemonSet
	err := r.Client.Get(ctx, client.ObjectKey{Namespace: r.Namespace, Name: agentobjects.ResourceName(agent)}, &ds)
	if apierrors.IsNotFound(err) {
		return judgeAgent(nil, nil), nil
	}
	if err != nil {
		return agentState{}, fmt.Errorf("failed to get DaemonSet: %w", err)
	}
	var pods corev1.PodList
	if err := r.Client.List(ctx, &pods, client.InNamespace(r.Namespace), client.MatchingLabels{agentobjects.LabelAgent: agent, agentobjects.LabelComponent: agentobjects.ComponentAgent}); err != nil {
		return agentState{}, fmt.Errorf("failed to list agent pods: %w", err)
	}
	return withReloadRefusals(judgeAgent(&ds, pods.Items), r.reloadRefusals(ctx, pods.Items)), nil
}

// writeAgentRefused reports on a LogAgent that Fluent Bit refused its configuration
// when no pipeline or output change accounts for it (its own spec, most likely): no
// resource can carry the refusal but the agent. Its other status fields keep
// describing the configuration that runs.
func (r *Reconciler) writeAgentRefused(ctx context.Context, a *v1.LogAgent, why string, health metav1.Condition) error {
	base := a.DeepCopy()
	config := conditions.New(conditions.TypeConfigGenerated, metav1.ConditionFalse, conditions.ReasonRejectedByAgent, a.Generation, a.Name, why,
		"No pipeline or output change accounts for it: the LogAgent's spec, a namespace's labels, a retention policy or a deletion changed. The nodes keep the last proven configuration.")
	changed := status.SetConditions(&a.Status.Conditions, config, health, status.Ready(a.Generation, config, health))
	if a.Status.ObservedGeneration != a.Generation {
		a.Status.ObservedGeneration, changed = a.Generation, true
	}
	return r.patchIfChanged(ctx, a, base, changed)
}

// writeAgentStatus reports a LogAgent's own state: its configuration, its pods, and
// the figures kubectl shows.
func (r *Reconciler) writeAgentStatus(ctx context.Context, a *v1.LogAgent, objs *agentobjects.Objects, cfg render.Config, usage *v1.BudgetUsage, health metav1.Condition) error {
	base := a.DeepCopy()
	config := conditions.New(conditions.TypeConfigGenerated, metav1.ConditionTrue, conditions.ReasonConfigGenerated, a.Generation)
	if len(objs.Missing) > 0 {
		m := objs.Missing[0]
		config = conditions.New(conditions.TypeConfigGenerated, metav1.ConditionFalse, conditions.ReasonSecretNotFound, a.Generation,
			m.Namespace+"/"+m.Name, m.Key)
	} else if len(objs.Refused) > 0 {
		r := objs.Refused[0]
		config = conditions.New(conditions.TypeConfigGenerated, metav1.ConditionFalse, conditions.ReasonSecretInvalid, a.Generation,
			r.Source.Namespace+"/"+r.Source.Name, r.Source.Key, r.Why)
	}
	changed := status.SetConditions(&a.Status.Conditions, config, health, status.Ready(a.Generation, config, health))
	var ds appsv1.DaemonSet
	if err := r.Client.Get(ctx, client.ObjectKeyFromObject(objs.DaemonSet), &ds); err == nil {
		changed = setInt32(&a.Status.DesiredNodes, ds.Status.DesiredNumberScheduled) || changed
		changed = setInt32(&a.Status.ReadyNodes, ds.Status.NumberReady) || changed
	}
	changed = setInt32(&a.Status.Pipelines, int32(len(cfg.Pipelines))) || changed
	if usage != nil && (a.Status.BudgetUsage == nil || !equality.Semantic.DeepEqual(*a.Status.BudgetUsage, *usage)) {
		a.Status.BudgetUsage, changed = usage.DeepCopy(), true
	}
	if a.Status.ConfigHash != cfg.Hash {
		a.Status.ConfigHash, changed = cfg.Hash, true
	}
	if a.Status.ObservedGeneration != a.Generation {
		a.Status.ObservedGeneration, changed = a.Generation, true
	}
	return r.patchIfChanged(ctx, a, base, changed)
}

func setInt32(field *int32, v int32) bool {
	if *field == v {
		return false
	}
	*field = v
	return true
}

// isNotFound tolerates objects deleted between the list and the status write.
func isNotFound(err error) bool { return apierrors.IsNotFound(err) }

// reconcileEvents runs the events collector while a pipeline ships Kubernetes events,
// and removes it when none does.
func (r *Reconciler) reconcileEvents(ctx context.Context, cfg *render.Config, secrets map[[2]string]*corev1.Secret) error {
	if cfg == nil {
		if r.eventsAbsent {
			return nil // deleted before; a delete of what is gone is still a request
		}
		// After a restart: a read, not five deletes, finds that there is none.
		var d appsv1.Deployment
		err := r.Secrets.Get(ctx, client.ObjectKey{Namespace: r.Namespace, Name: agentobjects.EventsName}, &d)
		if apierrors.IsNotFound(err) {
			r.eventsAbsent = true
			return nil
		}
		for _, obj := range agentobjects.BuildEvents(agentobjects.Input{Namespace: r.Namespace}).All() {
			if err := r.Client.Delete(ctx, obj); err != nil && !apierrors.IsNotFound(err) {
				return fmt.Errorf("failed to delete %s %s: %w", obj.GetObjectKind().GroupVersionKind().Kind, obj.GetName(), err)
			}
			if r.Applied != nil {
				r.Applied.Forget(obj.GetObjectKind().GroupVersionKind().Kind, obj.GetNamespace(), obj.GetName())
			}
		}
		r.eventsAbsent = true
		return nil
	}
	objs := agentobjects.BuildEvents(agentobjects.Input{Namespace: r.Namespace, Config: *cfg,
		SecretValues: secretValues(*cfg, secrets), OperatorImage: r.OperatorImage})
	r.eventsAbsent = false
	for _, obj := range objs.All() {
		if err := r.apply(ctx, obj); err != nil {
			return err
		}
	}
	return nil
}

func (r *Reconciler) apply(ctx context.Context, obj client.Object) error {
	if r.Applied == nil {
		return apply.Apply(ctx, r.Client, obj)
	}
	return r.Applied.Apply(ctx, r.Client, obj)
}

// confirmApplied tells the apply memo what the agent's DaemonSet and Secrets look like
// now, so that an object edited or deleted by someone else is applied again.
func (r *Reconciler) confirmApplied(objs *agentobjects.Objects, live *appsv1.DaemonSet, liveFound bool, secrets []metav1.PartialObjectMetadata) {
	if r.Applied == nil {
		return
	}
	r.Applied.Confirm("DaemonSet", objs.DaemonSet.Namespace, objs.DaemonSet.Name, live.ResourceVersion, liveFound)
	rvs := make(map[string]string, len(secrets))
	for _, s := range secrets {
		rvs[s.Name] = s.ResourceVersion
	}
	for _, s := range append(slices.Clone(objs.CredentialsSecrets), objs.ConfigSecrets...) {
		rv, ok := rvs[s.Name]
		r.Applied.Confirm("Secret", s.Namespace, s.Name, rv, ok)
	}
}

// agentSecrets lists the metadata of the Secrets logplane labelled as the agent's.
func (r *Reconciler) agentSecrets(ctx context.Context, agent string) ([]metav1.PartialObjectMetadata, error) {
	var secrets metav1.PartialObjectMetadataList
	secrets.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("SecretList"))
	if err := r.Client.List(ctx, &secrets, client.InNamespace(r.Namespace),
		client.MatchingLabels{agentobjects.LabelAgent: agent, agentobjects.LabelManagedBy: "logplane"}); err != nil {
		return nil, fmt.Errorf("failed to list the agent's Secrets: %w", err)
	}
	return secrets.Items, nil
}

// pruneSecrets deletes configuration and credentials Secrets of the agent that the
// current configuration no longer uses, as when a large configuration shrinks back
// into fewer Secrets. Only Secrets logplane labelled as this agent's are considered.
func (r *Reconciler) pruneSecrets(ctx context.Context, agent string, objs *agentobjects.Objects, secrets []metav1.PartialObjectMetadata) error {
	keep := map[string]bool{}
	for _, s := range append(slices.Clone(objs.CredentialsSecrets), objs.ConfigSecrets...) {
		keep[s.Name] = true
	}
	name := agentobjects.ResourceName(agent)
	for i := range secrets {
		s := &secrets[i]
		if keep[s.Name] || !strings.HasPrefix(s.Name, name+"-config-") && !strings.HasPrefix(s.Name, name+"-credentials-") {
			continue
		}
		if err := r.Client.Delete(ctx, s); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("failed to delete stale Secret %s: %w", s.Name, err)
		}
	}
	return nil
}
