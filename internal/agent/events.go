package agent

import (
	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// EventsName names the events collector's objects. It cannot collide with an agent's:
// those are logplane-agent-<name>.
const (
	EventsName     = "logplane-events"
	componentEvent = "events"
)

// BuildEvents builds the cluster's single events collector: Kubernetes events are read
// from the API server, so one replica ships each event once. Its state (the events
// position) lives in the pod; after a restart it ships at most the last hour again.
func BuildEvents(in Input) *Objects {
	in.Name = componentEvent
	labels := map[string]string{LabelAgent: componentEvent, LabelComponent: componentEvent, LabelManagedBy: managedBy}
	// The kubernetes_events input lists and watches events; nothing else.
	o := withIdentity(in, EventsName, labels, EventsClusterRBACName, "events")
	o.Deployment = &appsv1.Deployment{
		TypeMeta:   typeMeta("apps/v1", "Deployment"),
		ObjectMeta: metav1.ObjectMeta{Name: EventsName, Namespace: in.Namespace, Labels: labels},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr(int32(1)),
			Selector: &metav1.LabelSelector{MatchLabels: selectorOf(labels)},
			// Never two collectors at once: each would ship every event.
			Strategy: appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType},
			Template: podTemplate(in, EventsName, labels, o, false),
		},
	}
	return o
}
