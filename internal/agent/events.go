package agent

import (
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
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
	meta := func(n string) metav1.ObjectMeta {
		return metav1.ObjectMeta{Name: n, Namespace: in.Namespace, Labels: labels}
	}
	clusterMeta := metav1.ObjectMeta{Name: EventsName, Labels: labels}
	o := &Objects{
		ServiceAccount: &corev1.ServiceAccount{TypeMeta: typeMeta("v1", "ServiceAccount"), ObjectMeta: meta(EventsName)},
		// The kubernetes_events input lists and watches events; nothing else.
		ClusterRole: &rbacv1.ClusterRole{TypeMeta: typeMeta("rbac.authorization.k8s.io/v1", "ClusterRole"), ObjectMeta: clusterMeta,
			Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"events"}, Verbs: []string{"get", "list", "watch"}}}},
		ClusterRoleBinding: &rbacv1.ClusterRoleBinding{TypeMeta: typeMeta("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"), ObjectMeta: clusterMeta,
			RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: EventsName},
			Subjects: []rbacv1.Subject{{Kind: "ServiceAccount", Name: EventsName, Namespace: in.Namespace}}},
	}
	o.ConfigSecrets = configSecrets(in.Config.Files, EventsName, meta)
	o.CredentialsSecret, o.Missing = credentialsSecret(in, meta(EventsName+"-credentials"))
	o.Deployment = &appsv1.Deployment{
		TypeMeta:   typeMeta("apps/v1", "Deployment"),
		ObjectMeta: meta(EventsName),
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
