package localnode

import (
	"context"
	"errors"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/logplane/logplane/test/fbrun"
)

// How the kubelet reports a container that ended with terminationMessagePolicy
// FallbackToLogsOnError: the tail of its log, at most this many lines and bytes.
const (
	fallbackLines = 80
	fallbackBytes = 2048
)

// BarePod is a pod without a controller and with restartPolicy Never (the operator's
// canaries) that the node runs to its end, writing its status as the kubelet would:
// running, ready once its readiness probe answers, terminated with its exit code and
// (FallbackToLogsOnError) the tail of its log.
type BarePod struct {
	Pod  *corev1.Pod
	Proc *fbrun.Process
	// Probes counts the readiness probes sent.
	Probes int
	stop   chan struct{}
	once   sync.Once
	done   chan struct{}
}

// RunPod runs the init containers of pod, then starts its first container, which exists in the API server, in a
// network of its own (a pod's network; it reaches nothing, as a canary with its
// NetworkPolicy enforced), and keeps its status until it ends, its
// activeDeadlineSeconds pass, ctx ends or Stop is called.
func (n *Node) RunPod(ctx context.Context, pod *corev1.Pod) (*BarePod, error) {
	c := pod.Spec.Containers[0]
	if err := n.RunInit(ctx, pod, n.IP); err != nil {
		return nil, err
	}
	spec, err := n.Container(ctx, pod, c, n.IP)
	if err != nil {
		return nil, err
	}
	spec.PrivateNetwork = true
	proc, err := spec.Start()
	if err != nil {
		return nil, err
	}
	started := metav1.NewTime(time.Now())
	b := &BarePod{Pod: pod, Proc: proc, stop: make(chan struct{}), done: make(chan struct{})}
	if err := n.podStatus(ctx, pod, func(s *corev1.PodStatus) {
		*s = corev1.PodStatus{Phase: corev1.PodRunning, HostIP: n.IP, StartTime: &started,
			Conditions: []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionTrue, LastTransitionTime: started}},
			ContainerStatuses: []corev1.ContainerStatus{{Name: c.Name, Image: c.Image, Started: ptr(true),
				State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: started}}}}}
	}); err != nil {
		proc.Kill()
		return nil, err
	}
	go b.watch(ctx, n, c, started)
	return b, nil
}

// Stop ends the pod's process (the pod was deleted) and waits for the watch to end.
func (b *BarePod) Stop() {
	b.once.Do(func() { close(b.stop) })
	<-b.done
}

// Done is closed once the pod has ended and its status says so.
func (b *BarePod) Done() <-chan struct{} { return b.done }

func (b *BarePod) watch(ctx context.Context, n *Node, c corev1.Container, started metav1.Time) {
	defer close(b.done)
	var deadline <-chan time.Time
	if d := b.Pod.Spec.ActiveDeadlineSeconds; d != nil {
		deadline = time.After(time.Duration(*d) * time.Second)
	}
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	ready := false
	for {
		select {
		case <-ctx.Done():
			b.Proc.Kill()
			return
		case <-b.stop:
			b.Proc.Kill()
			return
		case <-deadline:
			b.Proc.Kill()
			_ = n.podStatus(context.WithoutCancel(ctx), b.Pod, func(s *corev1.PodStatus) {
				s.Phase, s.Reason, s.Message = corev1.PodFailed, "DeadlineExceeded", "Pod was active on the node longer than the specified deadline"
				b.terminate(s, c, 137, "Error")
			})
			return
		case <-tick.C:
		}
		if exited, err := b.Proc.Exited(); exited {
			code := 0
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				code = ee.ExitCode()
			}
			_ = n.podStatus(ctx, b.Pod, func(s *corev1.PodStatus) {
				s.Phase, s.Reason = corev1.PodFailed, "Error"
				reason := "Error"
				if code == 0 {
					s.Phase, reason = corev1.PodSucceeded, "Completed"
				}
				b.terminate(s, c, int32(code), reason)
			})
			return
		}
		if ready || c.ReadinessProbe == nil || c.ReadinessProbe.HTTPGet == nil {
			continue
		}
		b.Probes++
		if b.probe(c) {
			ready = true
			now := metav1.NewTime(time.Now())
			_ = n.podStatus(ctx, b.Pod, func(s *corev1.PodStatus) {
				s.Conditions = append(s.Conditions,
					corev1.PodCondition{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: now},
					corev1.PodCondition{Type: corev1.ContainersReady, Status: corev1.ConditionTrue, LastTransitionTime: now})
				s.ContainerStatuses[0].Ready = true
			})
		}
	}
}

// terminate records the container's end, with the tail of its log as the message
// when it failed (FallbackToLogsOnError).
func (b *BarePod) terminate(s *corev1.PodStatus, c corev1.Container, code int32, reason string) {
	now := metav1.NewTime(time.Now())
	term := &corev1.ContainerStateTerminated{ExitCode: code, Reason: reason, FinishedAt: now}
	if len(s.ContainerStatuses) > 0 && s.ContainerStatuses[0].State.Running != nil {
		term.StartedAt = s.ContainerStatuses[0].State.Running.StartedAt
	}
	if code != 0 && c.TerminationMessagePolicy == corev1.TerminationMessageFallbackToLogsOnError {
		term.Message = logTail(b.Proc.Log(), fallbackLines, fallbackBytes)
	}
	s.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionFalse, LastTransitionTime: now, Reason: "PodCompleted"}}
	s.ContainerStatuses = []corev1.ContainerStatus{{Name: c.Name, Image: c.Image, Started: ptr(false),
		State: corev1.ContainerState{Terminated: term}}}
}

// probe sends the readiness probe from inside the pod's network, where Fluent Bit
// listens (the kubelet reaches the pod's address; here the pod has only loopback).
func (b *BarePod) probe(c corev1.Container) bool {
	get := c.ReadinessProbe.HTTPGet
	port := get.Port.IntValue()
	if get.Port.Type == intstr.String {
		for _, p := range c.Ports {
			if p.Name == get.Port.StrVal {
				port = int(p.ContainerPort)
			}
		}
	}
	url := "http://127.0.0.1:" + strconv.Itoa(port) + get.Path
	out, err := exec.Command("nsenter", "-t", strconv.Itoa(b.Proc.Pid()), "-n",
		"curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "1", url).Output()
	if err != nil {
		return false
	}
	code, _ := strconv.Atoi(strings.TrimSpace(string(out)))
	return code >= 200 && code < 400
}

// podStatus sets the pod's status as the kubelet would.
func (n *Node) podStatus(ctx context.Context, pod *corev1.Pod, set func(*corev1.PodStatus)) error {
	return n.writeStatus(ctx, &corev1.Pod{}, pod, func(o client.Object) { set(&o.(*corev1.Pod).Status) })
}

// logTail is the end of log: at most lines lines and max bytes.
func logTail(log string, lines, max int) string {
	log = strings.TrimRight(log, "\n")
	for i, n := len(log)-1, 0; i >= 0; i-- {
		if log[i] == '\n' {
			if n++; n == lines {
				log = log[i+1:]
				break
			}
		}
	}
	if len(log) > max {
		log = log[len(log)-max:]
	}
	return log
}

func ptr[T any](v T) *T { return &v }
