package agent

import (
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Labels of canary objects, and how long a canary may live.
const (
	componentCanary = "canary"
	// CanaryDeadlineSeconds ends a canary pod the kubelet could not judge (a
	// configuration that hangs at start) so that it never lingers.
	CanaryDeadlineSeconds = 120
)

// CanaryObjects prove one candidate configuration of an agent before its DaemonSet
// gets it: a pod that runs the agent's own container on the candidate, in a sandbox.
type CanaryObjects struct {
	// ConfigSecrets and CredentialsSecrets are the canary's own: their names carry
	// the candidate's hash, so that no Secret a running pod (agent or canary) mounts
	// is ever rewritten under it.
	ConfigSecrets      []*corev1.Secret
	CredentialsSecrets []*corev1.Secret
	Pod                *corev1.Pod
	// NetworkPolicy denies the canaries of the agent all traffic, which holds only
	// with a CNI that enforces NetworkPolicy; the canary reads empty volumes, so it
	// has nothing to send either way.
	NetworkPolicy *networkingv1.NetworkPolicy
}

// All returns the objects in apply order; the pod last, once what it mounts exists.
func (o *CanaryObjects) All() []client.Object {
	out := []client.Object{o.NetworkPolicy}
	for _, s := range append(append([]*corev1.Secret{}, o.ConfigSecrets...), o.CredentialsSecrets...) {
		out = append(out, s)
	}
	return append(out, o.Pod)
}

// CanaryLabels select every canary object of an agent.
func CanaryLabels(agent string) map[string]string {
	return map[string]string{LabelAgent: agent, LabelComponent: componentCanary, LabelManagedBy: managedBy}
}

// CanaryName is the name of the canary pod (and the prefix of its Secrets) for the
// candidate with the given configuration hash.
func CanaryName(agent, hash string) string {
	if len(hash) > 12 {
		hash = hash[:12]
	}
	return ResourceName(agent) + "-canary-" + hash
}

// BuildCanary builds the canary of in.Config: the pod the DaemonSet would run, with
// these differences, each so that the canary proves the configuration and nothing
// else:
//   - every hostPath is an emptyDir: the canary reads no node logs and touches no
//     node's positions or buffers, yet every path the configuration opens exists;
//   - no service account token: the kubernetes filter starts without one (Fluent Bit
//     5.1.1 logs that it is "not running in a POD" and goes on), and the canary then
//     cannot read the cluster;
//   - restartPolicy Never and terminationMessagePolicy FallbackToLogsOnError: a
//     refused configuration ends the container, and Fluent Bit's last log lines come
//     back in the pod's status, so the operator needs no log access to read why;
//   - a readiness probe on the health endpoint, which Fluent Bit serves only after
//     every input, filter, processor and output initialised; no liveness probe;
//   - a deadline, after which the kubelet ends it.
func BuildCanary(in Input) *CanaryObjects {
	name := CanaryName(in.Name, in.Config.Hash)
	labels := CanaryLabels(in.Name)
	meta := func(n string) metav1.ObjectMeta {
		return metav1.ObjectMeta{Name: n, Namespace: in.Namespace, Labels: labels}
	}
	o := &Objects{ConfigSecrets: configSecrets(in.Config.Files, name, meta)}
	o.CredentialsSecrets, _ = credentialsSecrets(in, name, meta)
	tmpl := podTemplate(in, name, labels, o, true)
	spec := tmpl.Spec
	spec.ServiceAccountName = ""
	spec.AutomountServiceAccountToken = ptr(false)
	spec.RestartPolicy = corev1.RestartPolicyNever
	spec.ActiveDeadlineSeconds = ptr(int64(CanaryDeadlineSeconds))
	spec.TerminationGracePeriodSeconds = ptr(int64(5))
	spec.PriorityClassName = ""
	for i := range spec.Volumes {
		if spec.Volumes[i].HostPath != nil {
			spec.Volumes[i].VolumeSource = corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}
		}
	}
	c := &spec.Containers[0]
	// Not "metrics": the throughput monitor reads every logplane pod's metrics port,
	// and a canary carries no one's records.
	for i := range c.Ports {
		c.Ports[i].Name = "health"
	}
	c.ReadinessProbe.HTTPGet.Port = intstr.FromString("health")
	c.LivenessProbe = nil
	c.ReadinessProbe.PeriodSeconds = 1
	c.ReadinessProbe.FailureThreshold = 1
	c.TerminationMessagePolicy = corev1.TerminationMessageFallbackToLogsOnError
	pod := &corev1.Pod{TypeMeta: typeMeta("v1", "Pod"),
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: in.Namespace, Labels: labels,
			Annotations: map[string]string{AnnotationConfig: in.Config.Hash}},
		Spec: spec}
	np := &networkingv1.NetworkPolicy{TypeMeta: typeMeta("networking.k8s.io/v1", "NetworkPolicy"),
		ObjectMeta: meta(ResourceName(in.Name) + "-canary"),
		Spec: networkingv1.NetworkPolicySpec{
			PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{LabelAgent: in.Name, LabelComponent: componentCanary}},
			PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress},
		}}
	return &CanaryObjects{ConfigSecrets: o.ConfigSecrets, CredentialsSecrets: o.CredentialsSecrets, Pod: pod, NetworkPolicy: np}
}
