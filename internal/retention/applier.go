package retention

import (
	"context"
	"errors"
	"fmt"

	v1 "github.com/logplane/logplane/api/v1alpha1"
)

// Applier reads and sets retention at one output's destination.
type Applier interface {
	// Current reads what the destination keeps now.
	Current(ctx context.Context) (Observed, error)
	// Apply makes the destination keep logs for days (Forever: without limit).
	Apply(ctx context.Context, days Days) error
}

// ConflictChecker is an applier whose destination holds settings of others that
// logplane's could cut short (an S3 bucket's lifecycle rules). Conflict is asked after
// Current, with what Apply would set; it names the settings, or returns "".
type ConflictChecker interface {
	Conflict(days Days) string
}

// Remover is an applier that keeps something of logplane's at the destination which
// must go with the output: an S3 lifecycle rule would otherwise keep expiring whatever
// lands under its prefix, whoever writes it there, long after the output is gone.
type Remover interface {
	// Remove deletes logplane's setting for this output and nothing else; a setting
	// (or a destination) that is not there is already removed.
	Remove(ctx context.Context) error
}

// RemovedWithOutput says whether logplane removes what it set at the output's
// destination when the output is deleted (its appliers are Removers): S3 lifecycle
// rules. A log group's retention and a search policy stay: they are the destination's
// own setting, which governs the data the output already wrote, and removing them
// would only make that data stay forever.
func RemovedWithOutput(spec *v1.OutputSpec) bool {
	return spec.Type == v1.OutputS3 && Unsupported(spec) == ""
}

// SecretValue returns the value of a Secret key an output refers to, from the Secrets
// the output may use.
type SecretValue func(ctx context.Context, ref v1.SecretKeyRef) (string, error)

// Factory builds the applier for a target. Tests replace it to reach fake destinations.
type Factory func(ctx context.Context, t Target, secret SecretValue) (Applier, error)

// ErrSecretNotFound marks a missing Secret or key; the output cannot be reached until
// it appears.
var ErrSecretNotFound = errors.New("secret not found")

// Effective is the retention the target's destination will hold for a requested one:
// CloudWatch Logs accepts only fixed values; the others take any number of days.
func Effective(spec *v1.OutputSpec, requested Days) Days {
	if spec.Type == v1.OutputCloudWatchLogs {
		return CloudWatchRetention(requested)
	}
	return requested
}

// NewApplier is the Factory for real destinations.
func NewApplier(ctx context.Context, t Target, secret SecretValue) (Applier, error) {
	if why := Unsupported(t.Spec); why != "" {
		return nil, fmt.Errorf("retention is not supported: %s", why)
	}
	switch t.Spec.Type {
	case v1.OutputCloudWatchLogs:
		return newCloudWatchLogs(ctx, t, secret)
	case v1.OutputS3:
		return newS3(ctx, t, secret)
	case v1.OutputOpenSearch:
		return newOpenSearch(ctx, t, secret)
	case v1.OutputElasticsearch:
		return newElasticsearch(ctx, t, secret)
	}
	return nil, fmt.Errorf("no applier for %s", t.Spec.Type)
}

// Enforce reads what the destination keeps, decides and, when the decision says so and
// nothing of someone else's would be cut short, applies effective. On error the decision's State is Failed.
func Enforce(ctx context.Context, a Applier, effective Days, allowShortening bool) (Decision, error) {
	now, err := a.Current(ctx)
	if err != nil {
		return Decision{State: v1.RetentionFailed, Effective: effective}, err
	}
	d := Decide(now, effective, allowShortening)
	// Also when nothing is written: a longer rule added over logplane's since is reported.
	if c, ok := a.(ConflictChecker); ok && d.State == v1.RetentionEnforced {
		if msg := c.Conflict(d.Effective); msg != "" {
			d.State, d.Apply, d.Conflict = v1.RetentionConflict, false, msg
		}
	}
	if d.Apply {
		if err := a.Apply(ctx, d.Effective); err != nil {
			d.State = v1.RetentionFailed
			return d, err
		}
	}
	return d, nil
}
