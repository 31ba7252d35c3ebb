package flow

import (
	"net"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/logplane/logplane/internal/fluentbit"
)

// MetricsPath is Fluent Bit's Prometheus exposition.
const MetricsPath = "/api/v2/metrics/prometheus"

// MetricsPortName names the container port the agents serve their metrics on.
const MetricsPortName = fluentbit.MetricsPortName

// PodRole says which Fluent Bit processes a list of pods runs, and so which port
// to read and what the processes may report.
type PodRole int

const (
	// AgentPods are the operator's own (agents, events collector): port "metrics",
	// every namespace's pipelines.
	AgentPods PodRole = iota
	// InjectedPods are tenants' pods with the sidecar: port "lp-metrics", their own
	// namespace's LogPipelines only. Their applications' ports, whatever their
	// names, are never read.
	InjectedPods
)

// Targets lists the Fluent Bit processes to read in pods of one role: every
// container (or native sidecar) with the role's metrics port, in a running pod with
// an IP. A pod that is not running is not a target: it has no counters (a finished
// Job's sidecar is gone), and its pipelines' agent health already says why.
func Targets(pods []corev1.Pod, role PodRole) []Target {
	portName := fluentbit.MetricsPortName
	if role == InjectedPods {
		portName = fluentbit.SidecarMetricsPortName
	}
	var out []Target
	for i := range pods {
		p := &pods[i]
		if p.Status.Phase != corev1.PodRunning || p.Status.PodIP == "" || p.DeletionTimestamp != nil {
			continue
		}
		for _, list := range [][]corev1.Container{p.Spec.InitContainers, p.Spec.Containers} {
			for _, c := range list {
				for _, port := range c.Ports {
					if port.Name != portName {
						continue
					}
					t := Target{
						Key: p.Namespace + "/" + p.Name + "/" + c.Name + "/" + string(p.UID),
						URL: "http://" + net.JoinHostPort(p.Status.PodIP, strconv.Itoa(int(port.ContainerPort))) + MetricsPath,
					}
					if role == InjectedPods {
						t.Namespace = p.Namespace
					}
					out = append(out, t)
				}
			}
		}
	}
	return out
}

// TrimPod keeps of a pod only what Targets reads, as a cache transform: a cache of
// every injected pod of a large cluster then holds names, ports and addresses, not
// whole pod specs.
func TrimPod(obj any) (any, error) {
	p, ok := obj.(*corev1.Pod)
	if !ok {
		return obj, nil
	}
	trimmed := &corev1.Pod{
		TypeMeta: p.TypeMeta,
		ObjectMeta: metav1.ObjectMeta{Name: p.Name, Namespace: p.Namespace, UID: p.UID,
			ResourceVersion: p.ResourceVersion, DeletionTimestamp: p.DeletionTimestamp},
		Spec:   corev1.PodSpec{InitContainers: trimContainers(p.Spec.InitContainers), Containers: trimContainers(p.Spec.Containers)},
		Status: corev1.PodStatus{Phase: p.Status.Phase, PodIP: p.Status.PodIP},
	}
	return trimmed, nil
}

// trimContainers keeps the containers that have ports, with their names and ports.
func trimContainers(cs []corev1.Container) []corev1.Container {
	var out []corev1.Container
	for _, c := range cs {
		if len(c.Ports) > 0 {
			out = append(out, corev1.Container{Name: c.Name, Ports: c.Ports})
		}
	}
	return out
}
