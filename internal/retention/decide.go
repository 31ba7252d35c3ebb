package retention

import v1 "github.com/logplane/logplane/api/v1alpha1"

// Observed is what a destination holds now.
type Observed struct {
	// Days is how long the destination keeps logs now; Forever when it has no setting.
	Days Days
	// Stale says logplane's setting is there in an outdated shape (another key prefix
	// or index pattern, a policy no longer attached): applying again fixes it without
	// changing the period.
	Stale bool
	// Empty says the destination does not exist yet, so it holds no data that a
	// retention could delete (a log group logplane is about to create).
	Empty bool
}

// Decision is what to do at one destination, given what it holds now.
type Decision struct {
	// State the destination is in once the decision is carried out.
	State v1.RetentionState
	// Apply says the destination must be changed to Effective.
	Apply bool
	// Current is what the destination keeps now; Effective what the policy makes it keep.
	Current, Effective Days
	// Conflict names, when State is Conflict, the setting of someone else at the
	// destination that Effective would cut short.
	Conflict string
}

// Decide compares what a destination keeps now with what the policy asks for (already
// rounded to a value the destination accepts). The checks run in order, first match wins:
//  1. same period: the policy holds; re-apply only a stale shape;
//  2. the destination does not exist yet: it holds nothing, any period deletes nothing;
//  3. the change keeps logs longer: apply, nothing the destination was told to keep
//     is deleted;
//  4. the change keeps logs for less time — including any limit on a destination
//     that keeps logs forever, which is what one without a setting does: that deletes
//     data, so only with allowShortening; otherwise blocked and reported with both
//     values.
func Decide(now Observed, effective Days, allowShortening bool) Decision {
	d := Decision{Current: now.Days, Effective: effective, State: v1.RetentionEnforced}
	switch {
	case now.Days == effective:
		d.Apply = now.Stale
	case now.Empty:
		d.Apply = true
	case now.Days.Shorter(effective):
		d.Apply = true
	case allowShortening:
		d.Apply = true
	default:
		d.State = v1.RetentionShorteningBlocked
	}
	return d
}
