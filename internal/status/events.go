package status

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// EventRecorder is the part of client-go's events.k8s.io recorder logplane uses.
type EventRecorder interface {
	Eventf(regarding, related runtime.Object, eventtype, reason, action, note string, args ...any)
}

// RecordTransition records an event when a resource leaves or re-enters the
// configuration (old is its condition before, nil if it had none) — not on every
// reconcile, so `kubectl get events` stays readable. A nil recorder records nothing.
func RecordTransition(events EventRecorder, obj runtime.Object, old *metav1.Condition, now metav1.Condition) {
	if events == nil {
		return
	}
	switch {
	case now.Status == metav1.ConditionFalse && (old == nil || old.Status != metav1.ConditionFalse || old.Reason != now.Reason):
		events.Eventf(obj, nil, "Warning", now.Reason, "Render", "%s", now.Message)
	case now.Status == metav1.ConditionTrue && old != nil && old.Status == metav1.ConditionFalse:
		events.Eventf(obj, nil, "Normal", now.Reason, "Render", "%s", now.Message)
	}
}
