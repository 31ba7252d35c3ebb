// Package retention reconciles one RetentionPolicy: for every LogOutput and
// ClusterLogOutput that names it, it enforces the policy's retention at the destination
// and reports the state per output, on the policy and on each output.
//
// Deleting a policy changes nothing at any destination: data is never deleted because
// a Kubernetes object went away. Outputs that still name it report RetentionPolicyNotFound.
// Deleting an output removes the S3 lifecycle rule logplane wrote for it (finalizer.go),
// whichever policy it names, or none: the request with an empty name stands for the
// outputs that name no policy.
package retention

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	v1 "github.com/logplane/logplane/api/v1alpha1"
	"github.com/logplane/logplane/internal/alias"
	"github.com/logplane/logplane/internal/conditions"
	"github.com/logplane/logplane/internal/identity"
	"github.com/logplane/logplane/internal/retention"
	"github.com/logplane/logplane/internal/status"
)

// DefaultInterval is how often a policy is re-applied to catch changes made at the
// destination outside the operator.
const DefaultInterval = time.Hour

// destinationTimeout bounds one output's read-decide-apply, so one hung destination
// delays only its own result.
const destinationTimeout = 2 * time.Minute

// parallelDestinations bounds concurrent calls to destinations in one reconcile.
const parallelDestinations = 4

// Reconciler enforces one RetentionPolicy per request; the request name is the policy's.
type Reconciler struct {
	// Client reads logplane resources from the cache and writes statuses.
	Client client.Client
	// Secrets reads the outputs' credentials directly, never from a cache.
	Secrets client.Reader
	// Namespace is the operator's: ClusterLogOutput credentials live there.
	Namespace string
	// Appliers builds the applier per output; nil uses the real destinations.
	Appliers retention.Factory
	// Interval between re-applies; 0 means DefaultInterval.
	Interval time.Duration
	// Clock stamps lastApplied and times the cleanup of deleted outputs; nil is the real clock.
	Clock clock.PassiveClock
	// Events records the cleanup of deleted outputs; nil records nothing.
	Events status.EventRecorder
}

// errRetry returns a reconcile error so the work queue retries with exponential backoff.
var errRetry = errors.New("retention not applied at every output; retrying")

// Reconcile enforces the policy at every output that references it and writes what
// happened. Failed and Pending outputs are retried with the work queue's backoff;
// otherwise the policy is checked again after Interval.
func (r *Reconciler) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	logger := log(ctx).WithValues("retentionPolicy", req.Name)
	targets, deleting, err := r.targets(ctx, req.Name)
	if err != nil {
		return reconcile.Result{}, err
	}
	grants, err := r.grants(ctx, append(slices.Clip(targets), deleting...))
	if err != nil {
		return reconcile.Result{}, err
	}
	// Deleted outputs first, whatever became of their policy.
	again, err := r.cleanupAll(ctx, deleting, grants)
	if err != nil {
		return reconcile.Result{}, err
	}
	if req.Name == "" {
		if again {
			return reconcile.Result{}, errRetry
		}
		return reconcile.Result{}, nil
	}
	var policy v1.RetentionPolicy
	if err := r.Client.Get(ctx, client.ObjectKey{Name: req.Name}, &policy); apierrors.IsNotFound(err) {
		// Deleted: nothing at the destinations changes; outputs say the policy is gone.
		if err := r.reportMissing(ctx, req.Name, targets); err != nil {
			return reconcile.Result{}, err
		}
		if again {
			return reconcile.Result{}, errRetry
		}
		return reconcile.Result{}, nil
	} else if err != nil {
		return reconcile.Result{}, fmt.Errorf("failed to get RetentionPolicy %s: %w", req.Name, err)
	}

	requested, err := retention.Parse(policy.Spec.Retention)
	if err != nil {
		c := conditions.New(conditions.TypeRetentionEnforced, metav1.ConditionFalse, conditions.ReasonInvalidRetention, policy.Generation, err.Error())
		return reconcile.Result{}, r.writePolicyStatus(ctx, &policy, nil, c)
	}
	outcomes := r.enforceAll(ctx, &policy, requested, targets, grants)
	retry := again
	for _, o := range outcomes {
		if o.entry.State == v1.RetentionFailed || o.entry.State == v1.RetentionPending {
			// A refused identity waits for a grant or a namespace label, which are
			// watched: retrying sooner would change nothing.
			retry = retry || o.reason != conditions.ReasonIdentityNotGranted && o.reason != conditions.ReasonRetentionPrefixNotGranted
			logger.Info("retention not enforced", "output", refString(o.entry.Output), "state", o.entry.State, "message", o.entry.Message)
		}
	}
	if err := r.writePolicyStatus(ctx, &policy, outcomes, summary(outcomes, policy.Generation)); err != nil {
		return reconcile.Result{}, err
	}
	conflict := false
	for i, o := range outcomes {
		err := r.writeOutputCondition(ctx, targets[i], outputCondition(o, 0))
		if apierrors.IsConflict(err) {
			conflict = true
			continue
		}
		if err != nil {
			return reconcile.Result{}, err
		}
	}
	switch {
	case retry:
		return reconcile.Result{}, errRetry
	case conflict:
		// Another controller wrote the output's status since the cache saw it.
		return reconcile.Result{RequeueAfter: time.Second}, nil
	}
	return reconcile.Result{RequeueAfter: r.interval()}, nil
}

func (r *Reconciler) interval() time.Duration {
	if r.Interval > 0 {
		return r.Interval
	}
	return DefaultInterval
}

func (r *Reconciler) clock() clock.PassiveClock {
	if r.Clock == nil {
		return clock.RealClock{}
	}
	return r.Clock
}

func (r *Reconciler) now() metav1.Time {
	return metav1.NewTime(r.clock().Now())
}

func (r *Reconciler) factory() retention.Factory {
	if r.Appliers == nil {
		return retention.NewApplier
	}
	return r.Appliers
}

func log(ctx context.Context) logr.Logger { return ctrllog.FromContext(ctx) }

// target is an output that names the policy, with the object its status lives on.
type target struct {
	retention.Target
	obj        client.Object
	conditions *[]metav1.Condition
}

// targets lists, sorted, the outputs that reference policy, and apart those of them
// being deleted that carry the finalizer (policy "": the deleted outputs that name no
// policy). On the way it removes a RetentionEnforced condition left on an output that
// no longer names any policy.
func (r *Reconciler) targets(ctx context.Context, policy string) ([]target, []target, error) {
	var outputs v1.LogOutputList
	if err := r.Client.List(ctx, &outputs); err != nil {
		return nil, nil, fmt.Errorf("failed to list LogOutputs: %w", err)
	}
	var cluster v1.ClusterLogOutputList
	if err := r.Client.List(ctx, &cluster); err != nil {
		return nil, nil, fmt.Errorf("failed to list ClusterLogOutputs: %w", err)
	}
	var all []target
	for i := range outputs.Items {
		o := &outputs.Items[i]
		all = append(all, target{Target: retention.Target{Spec: &o.Spec,
			Output: v1.ObjectReference{Kind: alias.LogOutput, Namespace: o.Namespace, Name: o.Name}}, obj: o, conditions: &o.Status.Conditions})
	}
	for i := range cluster.Items {
		o := &cluster.Items[i]
		all = append(all, target{Target: retention.Target{Spec: &o.Spec.OutputSpec,
			Output: v1.ObjectReference{Kind: alias.ClusterLogOutput, Name: o.Name}}, obj: o, conditions: &o.Status.Conditions})
	}
	var mine, deleting []target
	for _, t := range all {
		switch {
		case t.obj.GetDeletionTimestamp() != nil:
			// Going away: never enforced again; its rule is removed if logplane wrote one.
			if string(t.Spec.RetentionPolicy) == policy && controllerutil.ContainsFinalizer(t.obj, Finalizer) {
				deleting = append(deleting, t)
			}
		case policy == "":
		case string(t.Spec.RetentionPolicy) == policy:
			mine = append(mine, t)
		case t.Spec.RetentionPolicy == "" && meta.FindStatusCondition(*t.conditions, conditions.TypeRetentionEnforced) != nil:
			if err := r.removeOutputCondition(ctx, t); err != nil && !apierrors.IsConflict(err) {
				return nil, nil, err
			}
		}
	}
	slices.SortFunc(mine, func(a, b target) int { return compareRefs(a.Output, b.Output) })
	return mine, deleting, nil
}

// enforceAll runs every output's read-decide-apply, a few at a time.
func (r *Reconciler) enforceAll(ctx context.Context, policy *v1.RetentionPolicy, requested retention.Days, targets []target, grants identities) []outcome {
	outcomes := make([]outcome, len(targets))
	sem := make(chan struct{}, parallelDestinations)
	var wg sync.WaitGroup
	for i, t := range targets {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			outcomes[i] = r.enforce(ctx, policy, requested, t, grants)
		}()
	}
	wg.Wait()
	now := r.now()
	for i := range outcomes {
		outcomes[i].entry.LastApplied = lastApplied(policy.Status.Outputs, outcomes[i], now)
	}
	return outcomes
}

// enforce is one output's chain: unsupported destinations are reported without a
// call; a tenant output whose AWS identity is not granted, whose granted identity does
// not reach a part of the bucket of its own, or whose credentials are missing, is left
// Pending; otherwise the destination decides.
func (r *Reconciler) enforce(ctx context.Context, policy *v1.RetentionPolicy, requested retention.Days, t target, grants identities) outcome {
	if why := retention.Unsupported(t.Spec); why != "" {
		return result(t.Target, policy.Name, policy.Spec.Retention, retention.Decision{State: v1.RetentionUnsupported}, errors.New(why))
	}
	// Before any call: without its own keys or a grant, the applier would change the
	// destination with the operator's identity, which a tenant never inherits.
	v := grants.decide(t)
	if v.Use == identity.Refused {
		return identityRefused(t.Target, v)
	}
	if why := retention.GrantedScope(t.Spec, v); why != "" {
		return prefixNotGranted(t.Target, policy.Name, why)
	}
	// Before the first call that could write a rule, so that none outlives its output.
	if retention.RemovedWithOutput(t.Spec) {
		if err := r.addFinalizer(ctx, t); err != nil {
			return result(t.Target, policy.Name, policy.Spec.Retention, retention.Decision{State: v1.RetentionFailed}, err)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, destinationTimeout)
	defer cancel()
	applier, err := r.factory()(ctx, t.Target, r.secretValue(t.Output.Namespace))
	if errors.Is(err, retention.ErrSecretNotFound) {
		return result(t.Target, policy.Name, policy.Spec.Retention, retention.Decision{State: v1.RetentionPending}, err)
	}
	if err != nil {
		return result(t.Target, policy.Name, policy.Spec.Retention, retention.Decision{State: v1.RetentionFailed}, err)
	}
	d, err := retention.Enforce(ctx, applier, retention.Effective(t.Spec, requested), policy.Spec.AllowShortening)
	return result(t.Target, policy.Name, policy.Spec.Retention, d, err)
}

// secretValue reads keys of Secrets an output may use: its own namespace's for a
// LogOutput, the operator's for a ClusterLogOutput (namespace ""). Read on demand
// with the API reader, so Secret data is never cached.
func (r *Reconciler) secretValue(namespace string) retention.SecretValue {
	if namespace == "" {
		namespace = r.Namespace
	}
	return func(ctx context.Context, ref v1.SecretKeyRef) (string, error) {
		var s corev1.Secret
		if err := r.Secrets.Get(ctx, client.ObjectKey{Namespace: namespace, Name: string(ref.Name)}, &s); apierrors.IsNotFound(err) {
			return "", fmt.Errorf("%w: %s", retention.ErrSecretNotFound, conditions.Message(conditions.ReasonSecretNotFound, namespace+"/"+string(ref.Name), ref.Key))
		} else if err != nil {
			return "", fmt.Errorf("failed to get Secret %s/%s: %w", namespace, ref.Name, err)
		}
		v, ok := s.Data[ref.Key]
		if !ok {
			return "", fmt.Errorf("%w: %s", retention.ErrSecretNotFound, conditions.Message(conditions.ReasonSecretNotFound, namespace+"/"+string(ref.Name), ref.Key))
		}
		return string(v), nil
	}
}

// writePolicyStatus writes outputs and conditions, only when they changed.
func (r *Reconciler) writePolicyStatus(ctx context.Context, p *v1.RetentionPolicy, outcomes []outcome, enforced metav1.Condition) error {
	base := p.DeepCopy()
	entries := make([]v1.OutputRetention, len(outcomes))
	for i, o := range outcomes {
		entries[i] = o.entry
	}
	if len(entries) == 0 {
		entries = nil
	}
	changed := !equality.Semantic.DeepEqual(p.Status.Outputs, entries)
	p.Status.Outputs = entries
	changed = setCondition(&p.Status.Conditions, enforced) || changed
	changed = setCondition(&p.Status.Conditions, ready(enforced)) || changed
	if p.Status.ObservedGeneration != p.Generation {
		p.Status.ObservedGeneration, changed = p.Generation, true
	}
	if !changed {
		return nil
	}
	if err := r.Client.Status().Patch(ctx, p, client.MergeFrom(base)); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("failed to write status of RetentionPolicy %s: %w", p.Name, err)
	}
	return nil
}

// reportMissing tells the outputs that still name a deleted (or not yet created) policy.
func (r *Reconciler) reportMissing(ctx context.Context, policy string, targets []target) error {
	var errs []error
	for _, t := range targets {
		c := conditions.New(conditions.TypeRetentionEnforced, metav1.ConditionFalse, conditions.ReasonRetentionPolicyNotFound, 0, policy)
		if err := r.writeOutputCondition(ctx, t, c); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// writeOutputCondition sets the output's RetentionEnforced condition and nothing else.
// The agent reconciler writes the same status, so the patch carries the
// resourceVersion it was computed from: a concurrent write makes it fail with a
// conflict (retried) instead of dropping the other controller's conditions.
func (r *Reconciler) writeOutputCondition(ctx context.Context, t target, c metav1.Condition) error {
	c.ObservedGeneration = t.obj.GetGeneration()
	base := t.obj.DeepCopyObject().(client.Object)
	if !setCondition(t.conditions, c) {
		return nil
	}
	err := r.Client.Status().Patch(ctx, t.obj, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{}))
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("failed to write the RetentionEnforced condition of %s: %w", refString(t.Output), err)
	}
	return nil
}

func (r *Reconciler) removeOutputCondition(ctx context.Context, t target) error {
	base := t.obj.DeepCopyObject().(client.Object)
	meta.RemoveStatusCondition(t.conditions, conditions.TypeRetentionEnforced)
	err := r.Client.Status().Patch(ctx, t.obj, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{}))
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("failed to remove the RetentionEnforced condition of %s: %w", refString(t.Output), err)
	}
	return nil
}
