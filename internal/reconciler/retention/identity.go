package retention

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/logplane/logplane/api/v1alpha1"
	"github.com/logplane/logplane/internal/alias"
	"github.com/logplane/logplane/internal/conditions"
	"github.com/logplane/logplane/internal/identity"
	"github.com/logplane/logplane/internal/retention"
)

// identities answers, for one reconcile, which AWS identity each tenant output may use:
// the same rule the renderer applies (internal/identity), so retention is set at a
// destination only with the identity the output may ship with.
type identities struct {
	grants *identity.Grants
	// labels of the namespaces of the tenant targets.
	labels map[string]labels.Set
}

// grants reads the IdentityGrants and the labels of the targets' namespaces.
func (r *Reconciler) grants(ctx context.Context, targets []target) (identities, error) {
	var list v1.IdentityGrantList
	if err := r.Client.List(ctx, &list); err != nil {
		return identities{}, fmt.Errorf("failed to list IdentityGrants: %w", err)
	}
	ids := identities{grants: identity.Compile(list.Items), labels: map[string]labels.Set{}}
	for _, t := range targets {
		ns := t.Output.Namespace
		if t.Output.Kind != alias.LogOutput {
			continue
		}
		if _, seen := ids.labels[ns]; seen {
			continue
		}
		meta := &metav1.PartialObjectMetadata{}
		meta.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Namespace"))
		err := r.Client.Get(ctx, client.ObjectKey{Name: ns}, meta)
		if err != nil && !apierrors.IsNotFound(err) {
			return identities{}, fmt.Errorf("failed to get Namespace %s: %w", ns, err)
		}
		ids.labels[ns] = meta.Labels // none when it is gone: no grant selects it
	}
	return ids, nil
}

// decide is the verdict for one target; ClusterLogOutputs use the platform's identity.
func (ids identities) decide(t target) identity.Verdict {
	if t.Output.Kind != alias.LogOutput {
		return identity.Verdict{Use: identity.NotAWS}
	}
	return ids.grants.Decide(t.Output.Namespace, ids.labels[t.Output.Namespace], t.Spec)
}

// identityRefused is the outcome of a tenant output whose identity is not granted:
// Pending, until a grant or its own credentials arrive.
func identityRefused(t retention.Target, v identity.Verdict) outcome {
	o := outcome{entry: v1.OutputRetention{Output: t.Output, State: v1.RetentionPending}, reason: conditions.ReasonIdentityNotGranted}
	o.entry.Message = conditions.Message(o.reason, t.Output.Namespace, v.Wants, v.Ask)
	if len(o.entry.Message) > maxMessage {
		o.entry.Message = o.entry.Message[:maxMessage-3] + "..."
	}
	return o
}

// prefixNotGranted is the outcome of a tenant S3 output whose granted identity names no
// part of the bucket as its namespace's: Pending, until a grant names one.
func prefixNotGranted(t retention.Target, policy, why string) outcome {
	o := outcome{entry: v1.OutputRetention{Output: t.Output, State: v1.RetentionPending}, reason: conditions.ReasonRetentionPrefixNotGranted}
	o.entry.Message = conditions.Message(o.reason, policy, why)
	if len(o.entry.Message) > maxMessage {
		o.entry.Message = o.entry.Message[:maxMessage-3] + "..."
	}
	return o
}
