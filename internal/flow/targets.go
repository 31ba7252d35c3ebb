package flow

import (
	"net"
	"strconv"

	corev1 "k8s.io/api/core/v1"

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
	// InjectedPods are tenants' pods with the sidecar: port "lp-metrics" of the
	// sidecar container only, their own namespace's LogPipelines only. Their
	// applications' ports, whatever their names, are never read.
	InjectedPods
)

// Injection tells a pod the webhook injected, with a configuration the operator
// generated, from a tenant's pod that only looks like one. Every field of a pod is
// its owner's to write, so the check lives with the webhook's own mutation
// (sidecar.Verifier), which knows what the webhook writes and what the operator
// generated.
type Injection interface {
	// Sidecar names the pod's injected sidecar container, or says why the pod is
	// not read.
	Sidecar(pod *corev1.Pod) (container, why string)
}

// Rejected is a pod of the injected role that is not read, and why.
type Rejected struct {
	Pod string
	Why string
}

// Targets lists the Fluent Bit processes to read in pods of one role: every
// container (or native sidecar) with the role's metrics port, in a running pod with
// an IP. A pod that is not running is not a target: it has no counters (a finished
// Job's sidecar is gone), and its pipelines' agent health already says why.
// Injected pods are read only when injection vouches for them, and then only their
// sidecar container; without injection none is read.
func Targets(pods []corev1.Pod, role PodRole, injection Injection) ([]Target, []Rejected) {
	portName, maxBytes := fluentbit.MetricsPortName, int64(MaxExposition)
	if role == InjectedPods {
		portName, maxBytes = fluentbit.SidecarMetricsPortName, SidecarMaxExposition
	}
	var out []Target
	var rejected []Rejected
	for i := range pods {
		p := &pods[i]
		if p.Status.Phase != corev1.PodRunning || p.Status.PodIP == "" || p.DeletionTimestamp != nil {
			continue
		}
		only := ""
		if role == InjectedPods {
			why := "nothing vouches for injected pods"
			if injection != nil {
				only, why = injection.Sidecar(p)
			}
			if why != "" {
				rejected = append(rejected, Rejected{Pod: p.Namespace + "/" + p.Name, Why: why})
				continue
			}
		}
		for _, list := range [][]corev1.Container{p.Spec.InitContainers, p.Spec.Containers} {
			for _, c := range list {
				if only != "" && c.Name != only {
					continue
				}
				for _, port := range c.Ports {
					if port.Name != portName {
						continue
					}
					t := Target{
						Key:      p.Namespace + "/" + p.Name + "/" + c.Name + "/" + string(p.UID),
						URL:      "http://" + net.JoinHostPort(p.Status.PodIP, strconv.Itoa(int(port.ContainerPort))) + MetricsPath,
						MaxBytes: maxBytes,
					}
					if role == InjectedPods {
						t.Namespace = p.Namespace
					}
					out = append(out, t)
				}
			}
		}
	}
	return out, rejected
}
