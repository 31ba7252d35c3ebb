package localnode

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/logplane/logplane/test/fbrun"
)

// Node is a node named Name whose file system is Kubelet.Root.
type Node struct {
	Name string
	Kubelet
	// IP is the address of the pods it runs: a loopback address, where their Fluent
	// Bit listens (http_listen 0.0.0.0) for the operator to read its metrics.
	IP string
}

// New makes a node under root with the directories a node has.
func New(name string, k Kubelet, ip string) (*Node, error) {
	for _, d := range []string{"var/log/pods", "var/log/containers"} {
		if err := os.MkdirAll(filepath.Join(k.Root, d), 0o755); err != nil {
			return nil, err
		}
	}
	return &Node{Name: name, Kubelet: k, IP: ip}, nil
}

// AgentPod is a running pod of a DaemonSet or Deployment: its object and its process.
type AgentPod struct {
	Pod  *corev1.Pod
	Proc *fbrun.Process
	spec fbrun.Pod
}

// RunDaemonSet creates the pod the DaemonSet controller would create on this node,
// marks it running as the kubelet would, and runs its init containers and then its
// first container.
// The DaemonSet's status then says what its controller would: one node, one ready
// pod, up to date.
func (n *Node) RunDaemonSet(ctx context.Context, ds *appsv1.DaemonSet) (*AgentPod, error) {
	a, err := n.run(ctx, ds.Namespace, ds.Name+"-"+n.Name, ds.Spec.Template, metav1.OwnerReference{
		APIVersion: "apps/v1", Kind: "DaemonSet", Name: ds.Name, UID: ds.UID})
	if err != nil {
		return nil, err
	}
	err = n.writeStatus(ctx, &appsv1.DaemonSet{}, ds, func(o client.Object) {
		d := o.(*appsv1.DaemonSet)
		d.Status = appsv1.DaemonSetStatus{ObservedGeneration: d.Generation, DesiredNumberScheduled: 1, CurrentNumberScheduled: 1,
			UpdatedNumberScheduled: 1, NumberReady: 1, NumberAvailable: 1}
	})
	if err != nil {
		a.Proc.Kill()
		return nil, err
	}
	return a, nil
}

// RunDeployment does the same for a one-replica Deployment (the events collector).
func (n *Node) RunDeployment(ctx context.Context, d *appsv1.Deployment) (*AgentPod, error) {
	a, err := n.run(ctx, d.Namespace, d.Name+"-"+n.Name, d.Spec.Template, metav1.OwnerReference{
		APIVersion: "apps/v1", Kind: "Deployment", Name: d.Name, UID: d.UID})
	if err != nil {
		return nil, err
	}
	err = n.writeStatus(ctx, &appsv1.Deployment{}, d, func(o client.Object) {
		cur := o.(*appsv1.Deployment)
		cur.Status = appsv1.DeploymentStatus{ObservedGeneration: cur.Generation, Replicas: 1, UpdatedReplicas: 1, ReadyReplicas: 1, AvailableReplicas: 1}
	})
	if err != nil {
		a.Proc.Kill()
		return nil, err
	}
	return a, nil
}

// writeStatus sets the status of the workload named as of (read into cur) as its
// controller would, retrying when the operator updated it meanwhile.
func (n *Node) writeStatus(ctx context.Context, cur, of client.Object, set func(client.Object)) error {
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		if err := n.Client.Get(ctx, client.ObjectKeyFromObject(of), cur); err != nil {
			return err
		}
		set(cur)
		return n.Client.Status().Update(ctx, cur)
	})
	if err != nil {
		return fmt.Errorf("failed to write the status of %T %s: %w", cur, of.GetName(), err)
	}
	return nil
}

func (n *Node) run(ctx context.Context, ns, name string, tmpl corev1.PodTemplateSpec, owner metav1.OwnerReference) (*AgentPod, error) {
	return n.start(ctx, ns, name, tmpl, owner, true)
}

// start creates the pod, starts its first container and marks it running, and ready
// too when ready is set.
func (n *Node) start(ctx context.Context, ns, name string, tmpl corev1.PodTemplateSpec, owner metav1.OwnerReference, ready bool) (*AgentPod, error) {
	pod, err := n.createPod(ctx, ns, name, tmpl, owner)
	if err != nil {
		return nil, err
	}
	if err := n.RunInit(ctx, pod, n.IP); err != nil {
		return nil, err
	}
	spec, err := n.Container(ctx, pod, pod.Spec.Containers[0], n.IP)
	if err != nil {
		return nil, err
	}
	a := &AgentPod{Pod: pod, spec: spec}
	if err := a.start(); err != nil {
		return nil, err
	}
	if err := n.setRunning(ctx, pod, ready); err != nil {
		a.Proc.Kill()
		return nil, err
	}
	return a, nil
}

// createPod creates the pod of a workload on this node, replacing one of the same name.
func (n *Node) createPod(ctx context.Context, ns, name string, tmpl corev1.PodTemplateSpec, owner metav1.OwnerReference) (*corev1.Pod, error) {
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: tmpl.Labels,
		Annotations: tmpl.Annotations, OwnerReferences: []metav1.OwnerReference{owner}}, Spec: *tmpl.Spec.DeepCopy()}
	pod.Spec.NodeName = n.Name
	old := &corev1.Pod{}
	if err := n.Client.Get(ctx, client.ObjectKeyFromObject(pod), old); err == nil {
		if err := n.Client.Delete(ctx, old, client.GracePeriodSeconds(0)); err != nil && !apierrors.IsNotFound(err) {
			return nil, err
		}
	}
	if err := n.Client.Create(ctx, pod); err != nil {
		return nil, fmt.Errorf("failed to create pod %s: %w", name, err)
	}
	return pod, nil
}

func (a *AgentPod) start() error {
	proc, err := a.spec.Start()
	if err != nil {
		return err
	}
	a.Proc = proc
	return nil
}

// Restart starts the pod's container again on the same volumes, as the kubelet does
// after the container exited (hostPath data is kept; emptyDirs are not, since fbrun's
// emptyDirs live with the process).
func (a *AgentPod) Restart() error { return a.start() }

// setRunning writes the status the kubelet would once every container runs, and is
// ready if ready is set.
func (n *Node) setRunning(ctx context.Context, pod *corev1.Pod, ready bool) error {
	now := metav1.NewTime(time.Now())
	status := corev1.ConditionFalse
	if ready {
		status = corev1.ConditionTrue
	}
	pod.Status = corev1.PodStatus{Phase: corev1.PodRunning, PodIP: n.IP, PodIPs: []corev1.PodIP{{IP: n.IP}}, HostIP: n.IP,
		StartTime: &now,
		Conditions: []corev1.PodCondition{
			{Type: corev1.PodReady, Status: status, LastTransitionTime: now},
			{Type: corev1.ContainersReady, Status: status, LastTransitionTime: now},
			{Type: corev1.PodScheduled, Status: corev1.ConditionTrue, LastTransitionTime: now},
		}}
	for _, c := range pod.Spec.Containers {
		yes := true
		pod.Status.ContainerStatuses = append(pod.Status.ContainerStatuses, corev1.ContainerStatus{
			Name: c.Name, Image: c.Image, Ready: ready, Started: &yes,
			State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: now}}})
	}
	if err := n.Client.Status().Update(ctx, pod); err != nil {
		return fmt.Errorf("failed to mark pod %s running: %w", pod.Name, err)
	}
	return nil
}

// StartDaemonSet is RunDaemonSet as a kubelet reports it while the pod starts: the
// pod is running but not ready until Fluent Bit's health endpoint answers (then the
// pod and the DaemonSet say ready); when Fluent Bit exits first, the pod shows what
// a kubelet shows of a container that keeps exiting — CrashLoopBackOff, its exit as
// the last termination state, with the tail of its log as the message under
// terminationMessagePolicy FallbackToLogsOnError — and the DaemonSet counts it
// unready. It returns once either is written.
func (n *Node) StartDaemonSet(ctx context.Context, ds *appsv1.DaemonSet) (*AgentPod, error) {
	a, err := n.start(ctx, ds.Namespace, ds.Name+"-"+n.Name, ds.Spec.Template, metav1.OwnerReference{
		APIVersion: "apps/v1", Kind: "DaemonSet", Name: ds.Name, UID: ds.UID}, false)
	if err != nil {
		return nil, err
	}
	dsStatus := func(ready int32) error {
		return n.writeStatus(ctx, &appsv1.DaemonSet{}, ds, func(o client.Object) {
			d := o.(*appsv1.DaemonSet)
			d.Status = appsv1.DaemonSetStatus{ObservedGeneration: d.Generation, DesiredNumberScheduled: 1, CurrentNumberScheduled: 1,
				UpdatedNumberScheduled: 1, NumberReady: ready, NumberAvailable: ready, NumberUnavailable: 1 - ready}
		})
	}
	if err := dsStatus(0); err != nil {
		a.Proc.Kill()
		return nil, err
	}
	c := a.Pod.Spec.Containers[0]
	url := ""
	if p := c.ReadinessProbe; p != nil && p.HTTPGet != nil {
		port := p.HTTPGet.Port.IntValue()
		for _, cp := range c.Ports {
			if cp.Name == p.HTTPGet.Port.StrVal {
				port = int(cp.ContainerPort)
			}
		}
		url = fmt.Sprintf("http://%s:%d%s", n.IP, port, p.HTTPGet.Path)
	}
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			a.Proc.Kill()
			return nil, ctx.Err()
		case <-tick.C:
		}
		if exited, err := a.Proc.Exited(); exited {
			code := int32(0)
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				code = int32(ee.ExitCode())
			}
			now := metav1.NewTime(time.Now())
			term := &corev1.ContainerStateTerminated{ExitCode: code, Reason: "Error", FinishedAt: now}
			if code != 0 && c.TerminationMessagePolicy == corev1.TerminationMessageFallbackToLogsOnError {
				term.Message = logTail(a.Proc.Log(), fallbackLines, fallbackBytes)
			}
			err := n.podStatus(ctx, a.Pod, func(s *corev1.PodStatus) {
				s.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionFalse, LastTransitionTime: now, Reason: "ContainersNotReady"}}
				s.ContainerStatuses = []corev1.ContainerStatus{{Name: c.Name, Image: c.Image, Started: ptr(false), RestartCount: 1,
					State:                corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}},
					LastTerminationState: corev1.ContainerState{Terminated: term}}}
			})
			return a, err
		}
		if resp, err := http.Get(url); err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode >= 200 && resp.StatusCode < 400 {
				if err := n.setRunning(ctx, a.Pod, true); err != nil {
					return a, err
				}
				return a, dsStatus(1)
			}
		}
	}
}
