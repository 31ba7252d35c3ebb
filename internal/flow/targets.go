package flow

import (
	"net"
	"strconv"

	corev1 "k8s.io/api/core/v1"
)

// MetricsPath is Fluent Bit's Prometheus exposition.
const MetricsPath = "/api/v2/metrics/prometheus"

// MetricsPortName names the container port Fluent Bit serves its metrics on, in the
// agents' pods and in injected sidecars alike.
const MetricsPortName = "metrics"

// Targets lists the Fluent Bit processes to read in pods: every container (or native
// sidecar) with a port named MetricsPortName, in a running pod with an IP. A pod that
// is not running is not a target: it has no counters, and its pipelines' agent
// health already says why.
func Targets(pods []corev1.Pod) []Target {
	var out []Target
	for i := range pods {
		p := &pods[i]
		if p.Status.Phase != corev1.PodRunning || p.Status.PodIP == "" || p.DeletionTimestamp != nil {
			continue
		}
		for _, c := range append(append([]corev1.Container{}, p.Spec.InitContainers...), p.Spec.Containers...) {
			for _, port := range c.Ports {
				if port.Name != MetricsPortName {
					continue
				}
				out = append(out, Target{
					Key: p.Namespace + "/" + p.Name + "/" + c.Name + "/" + string(p.UID),
					URL: "http://" + net.JoinHostPort(p.Status.PodIP, strconv.Itoa(int(port.ContainerPort))) + MetricsPath,
				})
			}
		}
	}
	return out
}
