package retention

import (
	"cmp"
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/logplane/logplane/api/v1alpha1"
	"github.com/logplane/logplane/internal/conditions"
	"github.com/logplane/logplane/internal/retention"
)

// maxMessage is the API's limit on status.outputs[].message.
const maxMessage = 1024

// outcome is what happened at one output in this reconcile.
type outcome struct {
	entry   v1.OutputRetention
	reason  string
	applied bool // the destination was written to
}

// result turns one output's decision (or error) into its status entry and the reason
// of its RetentionEnforced condition. The message is the catalogue's, shared by both.
func result(t retention.Target, policy, requested string, d retention.Decision, err error) outcome {
	o := outcome{entry: v1.OutputRetention{Output: t.Output, State: d.State}}
	switch {
	case d.State == v1.RetentionUnsupported:
		o.reason = conditions.ReasonRetentionUnsupported
		o.entry.Message = conditions.Message(o.reason, policy, err.Error())
	case d.State == v1.RetentionPending:
		o.reason = conditions.ReasonRetentionPending
		o.entry.Message = conditions.Message(o.reason, policy, err.Error())
	case err != nil:
		o.entry.State = v1.RetentionFailed
		o.reason = conditions.ReasonRetentionFailed
		o.entry.Message = conditions.Message(o.reason, requested, policy, err.Error())
	case d.State == v1.RetentionConflict:
		o.reason = conditions.ReasonRetentionConflict
		o.entry.Message = conditions.Message(o.reason, policy, d.Conflict)
	case d.State == v1.RetentionShorteningBlocked:
		o.reason = conditions.ReasonShorteningBlocked
		o.entry.Message = conditions.Message(o.reason, keeps(d.Current), policy, requestedText(requested, d.Effective))
	default:
		o.reason = conditions.ReasonRetentionEnforced
		o.entry.EffectiveRetention = d.Effective.String()
		o.entry.Message = conditions.Message(o.reason, keeps(d.Effective), policy, requestedText(requested, d.Effective))
		o.applied = d.Apply
	}
	if len(o.entry.Message) > maxMessage {
		o.entry.Message = o.entry.Message[:maxMessage-3] + "..."
	}
	return o
}

// keeps words a period for "The destination keeps logs ...".
func keeps(d retention.Days) string {
	if d == retention.Forever {
		return "forever (it has no retention of its own)"
	}
	return "for " + d.String()
}

// requestedText names the policy's value, and the rounding when the destination
// cannot hold it exactly.
func requestedText(requested string, effective retention.Days) string {
	days, err := retention.Parse(requested)
	switch {
	case err != nil || days == effective:
		return requested
	case effective == retention.Forever:
		return requested + ", longer than the longest value the destination accepts, so it never expires"
	}
	return requested + ", rounded up to " + effective.String() + ", the next value the destination accepts"
}

// outputCondition is the RetentionEnforced condition an output shows.
func outputCondition(o outcome, generation int64) metav1.Condition {
	status := metav1.ConditionFalse
	if o.entry.State == v1.RetentionEnforced {
		status = metav1.ConditionTrue
	}
	return metav1.Condition{Type: conditions.TypeRetentionEnforced, Status: status, Reason: o.reason,
		Message: o.entry.Message, ObservedGeneration: generation}
}

// lastApplied keeps the previous time while an output stays enforced at the same value
// and nothing was written, so that the hourly drift check does not rewrite status.
func lastApplied(prev []v1.OutputRetention, o outcome, now metav1.Time) *metav1.Time {
	if o.entry.State != v1.RetentionEnforced {
		return nil
	}
	for _, p := range prev {
		if p.Output == o.entry.Output && !o.applied && p.State == v1.RetentionEnforced &&
			p.EffectiveRetention == o.entry.EffectiveRetention && p.LastApplied != nil {
			return p.LastApplied
		}
	}
	return &now
}

// summary is the policy's RetentionEnforced condition: True when every output that can
// enforce the policy does; unsupported outputs are reported but do not make it False,
// since nothing can change them.
func summary(outcomes []outcome, generation int64) metav1.Condition {
	if len(outcomes) == 0 {
		return conditions.New(conditions.TypeRetentionEnforced, metav1.ConditionTrue, conditions.ReasonNoOutputs, generation)
	}
	var enforced, unsupported int
	var not []string
	for _, o := range outcomes {
		switch o.entry.State {
		case v1.RetentionEnforced:
			enforced++
		case v1.RetentionUnsupported:
			unsupported++
		default:
			not = append(not, fmt.Sprintf("%s %s", refString(o.entry.Output), o.entry.State))
		}
	}
	if len(not) == 0 {
		return conditions.New(conditions.TypeRetentionEnforced, metav1.ConditionTrue, conditions.ReasonAllOutputsEnforced, generation, enforced, unsupported)
	}
	c := conditions.New(conditions.TypeRetentionEnforced, metav1.ConditionFalse, conditions.ReasonOutputsNotEnforced, generation,
		len(not), len(outcomes), strings.Join(not, ", "))
	if len(c.Message) > 32*1024 {
		c.Message = c.Message[:32*1024-3] + "..."
	}
	return c
}

// ready mirrors the summary: enforcement is all a policy does.
func ready(summary metav1.Condition) metav1.Condition {
	r := summary
	r.Type = conditions.TypeReady
	return r
}

func refString(r v1.ObjectReference) string {
	if r.Namespace == "" {
		return r.Kind + " " + r.Name
	}
	return r.Kind + " " + r.Namespace + "/" + r.Name
}

func compareRefs(a, b v1.ObjectReference) int {
	return cmp.Or(cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Name, b.Name))
}

// setCondition applies c and reports whether anything but transition times changed.
func setCondition(list *[]metav1.Condition, c metav1.Condition) bool {
	old := meta.FindStatusCondition(*list, c.Type)
	changed := old == nil || old.Status != c.Status || old.Reason != c.Reason || old.Message != c.Message ||
		old.ObservedGeneration != c.ObservedGeneration
	meta.SetStatusCondition(list, c)
	return changed
}
