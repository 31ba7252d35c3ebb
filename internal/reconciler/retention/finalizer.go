package retention

import (
	"context"
	"errors"
	"fmt"
	"time"

	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	"github.com/logplane/logplane/internal/identity"
	"github.com/logplane/logplane/internal/retention"
)

// Finalizer is on every output whose destination holds a setting logplane removes
// when the output is deleted (retention.RemovedWithOutput: an S3 lifecycle rule). It is
// added before the first call to the destination, so no rule exists without it.
const Finalizer = "logging.logplane.dev/retention-rule"

// CleanupWindow is how long after an output's deletion logplane keeps trying (with the
// work queue's backoff, 5s doubling to 10 minutes) to remove its rule from a destination
// that cannot be reached or refuses. Then it lets the output go, leaving the rule, with
// a Warning event that names it: a deletion is never blocked for good by a bucket that
// is gone, a credential Secret deleted with the namespace, or a grant withdrawn.
const CleanupWindow = time.Hour

// Event reasons of the cleanup, recorded on the output.
const (
	EventRuleRemoved = "RetentionRuleRemoved"
	EventRuleLeft    = "RetentionRuleLeft"
)

// addFinalizer puts the finalizer on the output before anything is written at its
// destination. The patch carries the resourceVersion, so that a concurrent change of
// the finalizers fails and is read again instead of being overwritten.
func (r *Reconciler) addFinalizer(ctx context.Context, t target) error {
	if controllerutil.ContainsFinalizer(t.obj, Finalizer) {
		return nil
	}
	first := true
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		if !first {
			if err := r.Client.Get(ctx, client.ObjectKeyFromObject(t.obj), t.obj); err != nil {
				return err
			}
		}
		first = false
		base := t.obj.DeepCopyObject().(client.Object)
		if !controllerutil.AddFinalizer(t.obj, Finalizer) {
			return nil
		}
		if err := r.Client.Patch(ctx, t.obj, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{})); err != nil {
			return fmt.Errorf("failed to add finalizer %s to %s: %w", Finalizer, refString(t.Output), err)
		}
		return nil
	})
}

func (r *Reconciler) removeFinalizer(ctx context.Context, t target) error {
	first := true
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		if !first {
			if err := r.Client.Get(ctx, client.ObjectKeyFromObject(t.obj), t.obj); err != nil {
				return client.IgnoreNotFound(err)
			}
		}
		first = false
		base := t.obj.DeepCopyObject().(client.Object)
		if !controllerutil.RemoveFinalizer(t.obj, Finalizer) {
			return nil
		}
		if err := r.Client.Patch(ctx, t.obj, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{})); err != nil {
			return client.IgnoreNotFound(err)
		}
		return nil
	})
}

// cleanupAll removes logplane's rule for every deleted output that still carries the
// finalizer, then lets the output go. It reports whether some must be tried again.
func (r *Reconciler) cleanupAll(ctx context.Context, deleting []target, grants identities) (bool, error) {
	again := false
	var errs []error
	for _, t := range deleting {
		done, err := r.cleanup(ctx, t, grants)
		if err != nil {
			errs = append(errs, err)
		}
		again = again || !done
	}
	return again, errors.Join(errs...)
}

// cleanup is one deleted output: remove its rule with the identity it may use, and
// release it; past CleanupWindow, release it anyway and say what was left.
func (r *Reconciler) cleanup(ctx context.Context, t target, grants identities) (bool, error) {
	err := r.removeRule(ctx, t, grants)
	if err == nil {
		r.event(t, "Normal", EventRuleRemoved, "Removed logplane's retention setting for this output at its destination (%s); other settings there are unchanged.", destinationName(t.Target))
		return true, r.removeFinalizer(ctx, t)
	}
	deleted := t.obj.GetDeletionTimestamp()
	if deleted != nil && r.clock().Since(deleted.Time) < CleanupWindow {
		log(ctx).Info("retention rule not removed yet; retrying", "output", refString(t.Output), "error", err.Error())
		return false, nil
	}
	r.event(t, "Warning", EventRuleLeft, "Could not remove logplane's retention setting %s at %s within %s of the deletion, so it is left in place and the output is released: %v",
		t.OwnedName(), destinationName(t.Target), CleanupWindow, err)
	return true, r.removeFinalizer(ctx, t)
}

// removeRule follows the rule of enforce: a tenant output's rule is removed only with
// the identity granted to its namespace now, never the operator's.
func (r *Reconciler) removeRule(ctx context.Context, t target, grants identities) error {
	if !retention.RemovedWithOutput(t.Spec) {
		return nil
	}
	if v := grants.decide(t); v.Use == identity.Refused {
		return fmt.Errorf("namespace %s is no longer granted %s", t.Output.Namespace, v.Wants)
	}
	ctx, cancel := context.WithTimeout(ctx, destinationTimeout)
	defer cancel()
	applier, err := r.factory()(ctx, t.Target, r.secretValue(t.Output.Namespace))
	if err != nil {
		return err
	}
	rm, ok := applier.(retention.Remover)
	if !ok {
		return nil
	}
	return rm.Remove(ctx)
}

func destinationName(t retention.Target) string {
	if t.Spec.Type == "s3" && t.Spec.S3 != nil {
		return fmt.Sprintf("bucket %s, rule %s on prefix %q", t.Spec.S3.Bucket, t.OwnedName(), retention.S3Prefix(t.Spec.S3.KeyFormat))
	}
	return string(t.Spec.Type)
}

func (r *Reconciler) event(t target, kind, reason, format string, args ...any) {
	if r.Events != nil {
		r.Events.Eventf(t.obj, nil, kind, reason, "RemoveRetention", format, args...)
	}
}
