package localnode

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os/exec"
	"strings"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/logplane/logplane/test/fbrun"
)

// The kubelet's crash-loop back-off: a container that exits is started again at
// once the first time, then after 10 s, doubling up to 5 minutes.
const (
	firstBackoff = 10 * time.Second
	maxBackoff   = 5 * time.Minute
)

// Supervisor runs one pod as the kubelet does when the pod is more than one process:
// init containers in order, each to its end, except native sidecars (restartPolicy
// Always), which keep running and whose startup probe must pass before the next
// container starts; then every container. A container that exits is started again
// with the kubelet's back-off; its exit becomes its last termination state, with the
// tail of its log as the message under FallbackToLogsOnError. Startup and readiness
// probes run as the kubelet runs them, against the pod's address, and the pod's and
// the DaemonSet's status say what they found. With Kubelet.SecretSync, Secret volumes
// follow their Secrets. Pods share the node's network and process namespace here (a
// node runs one agent pod at a time).
type Supervisor struct {
	Pod *corev1.Pod
	n   *Node
	ds  *appsv1.DaemonSet

	mu         sync.Mutex
	containers map[string]*supervised
	// completed are the init containers that ran to their end.
	completed  map[string]bool
	started    metav1.Time
	readySince metav1.Time
	ready      bool

	dirty             chan struct{}
	stopMain, stopAll context.CancelFunc
	main, all         sync.WaitGroup
}

// supervised is one container of the pod across its restarts.
type supervised struct {
	spec     corev1.Container
	sidecar  bool
	runs     []*fbrun.Process
	restarts int32
	running  *metav1.Time
	waiting  string
	last     *corev1.ContainerStateTerminated
	// started: the startup probe passed (or there is none) since the last start.
	started, ready bool
}

// SuperviseDaemonSet creates the pod the DaemonSet controller would create on this
// node and runs it until ctx ends or Stop is called. It returns once every container
// has started, with the pod's status written (ready or not yet).
func (n *Node) SuperviseDaemonSet(ctx context.Context, ds *appsv1.DaemonSet) (*Supervisor, error) {
	pod, err := n.createPod(ctx, ds.Namespace, ds.Name+"-"+n.Name, ds.Spec.Template, metav1.OwnerReference{
		APIVersion: "apps/v1", Kind: "DaemonSet", Name: ds.Name, UID: ds.UID})
	if err != nil {
		return nil, err
	}
	s := &Supervisor{Pod: pod, n: n, ds: ds, containers: map[string]*supervised{}, completed: map[string]bool{}, started: metav1.NewTime(time.Now()),
		dirty: make(chan struct{}, 1)}
	allCtx, stopAll := context.WithCancel(ctx)
	mainCtx, stopMain := context.WithCancel(allCtx)
	s.stopAll, s.stopMain = stopAll, stopMain
	s.all.Add(1)
	go s.report(allCtx)
	if n.SecretSync > 0 {
		s.all.Add(1)
		go s.syncVolumes(allCtx)
	}
	fail := func(err error) (*Supervisor, error) {
		s.Stop()
		return nil, err
	}
	for _, c := range pod.Spec.InitContainers {
		if c.RestartPolicy == nil || *c.RestartPolicy != corev1.ContainerRestartPolicyAlways {
			if err := n.runInit(ctx, pod, c, n.IP); err != nil {
				return fail(err)
			}
			s.mu.Lock()
			s.completed[c.Name] = true
			s.mu.Unlock()
			continue
		}
		if err := s.start(allCtx, &s.all, c, true); err != nil {
			return fail(err)
		}
		if err := s.awaitStarted(ctx, c); err != nil {
			return fail(err)
		}
	}
	for _, c := range pod.Spec.Containers {
		if err := s.start(mainCtx, &s.main, c, false); err != nil {
			return fail(err)
		}
	}
	s.touch()
	return s, nil
}

// Process is the current run of container name (nil before its first).
func (s *Supervisor) Process(name string) *fbrun.Process {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.containers[name]
	if c == nil || len(c.runs) == 0 {
		return nil
	}
	return c.runs[len(c.runs)-1]
}

// Log is what container name wrote in all its runs, each run's output after a
// header line.
func (s *Supervisor) Log(name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var b strings.Builder
	if c := s.containers[name]; c != nil {
		for i, p := range c.runs {
			fmt.Fprintf(&b, "--- %s run %d ---\n%s", name, i+1, p.Log())
		}
	}
	return b.String()
}

// Restarts is how often container name was started again.
func (s *Supervisor) Restarts(name string) int32 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c := s.containers[name]; c != nil {
		return c.restarts
	}
	return 0
}

// Stop ends the pod as the kubelet does: the containers first, then the sidecars.
func (s *Supervisor) Stop() {
	s.stopMain()
	s.main.Wait()
	s.stopAll()
	s.all.Wait()
}

func (s *Supervisor) touch() {
	select {
	case s.dirty <- struct{}{}:
	default:
	}
}

// start runs container c and keeps it running until ctx ends.
func (s *Supervisor) start(ctx context.Context, wg *sync.WaitGroup, c corev1.Container, sidecar bool) error {
	sc := &supervised{spec: c, sidecar: sidecar}
	s.mu.Lock()
	s.containers[c.Name] = sc
	s.mu.Unlock()
	proc, err := s.launch(ctx, sc)
	if err != nil {
		return fmt.Errorf("container %s: %w", c.Name, err)
	}
	wg.Add(2)
	go func() {
		defer wg.Done()
		s.keep(ctx, sc, proc)
	}()
	go func() {
		defer wg.Done()
		s.probe(ctx, sc)
	}()
	return nil
}

// launch starts one run of the container, as the kubelet does each time: its
// environment and files are read again.
func (s *Supervisor) launch(ctx context.Context, sc *supervised) (*fbrun.Process, error) {
	spec, err := s.n.Container(ctx, s.Pod, sc.spec, s.n.IP)
	if err != nil {
		return nil, err
	}
	proc, err := spec.Start()
	if err != nil {
		return nil, err
	}
	now := metav1.NewTime(time.Now())
	s.mu.Lock()
	sc.runs = append(sc.runs, proc)
	sc.running, sc.waiting = &now, ""
	sc.started = sc.spec.StartupProbe == nil
	sc.ready = false
	s.mu.Unlock()
	s.touch()
	return proc, nil
}

// keep restarts the container whenever it exits, with the kubelet's back-off.
func (s *Supervisor) keep(ctx context.Context, sc *supervised, proc *fbrun.Process) {
	var delay time.Duration
	for {
		select {
		case <-ctx.Done():
			grace := 30 * time.Second
			if g := s.Pod.Spec.TerminationGracePeriodSeconds; g != nil {
				grace = time.Duration(*g) * time.Second
			}
			_ = proc.Stop(grace)
			return
		case <-waitFor(proc):
		}
		code := int32(0)
		var ee *exec.ExitError
		if err := proc.Wait(); errors.As(err, &ee) {
			code = int32(ee.ExitCode())
		}
		now := metav1.NewTime(time.Now())
		term := &corev1.ContainerStateTerminated{ExitCode: code, Reason: "Completed", FinishedAt: now}
		if code != 0 {
			term.Reason = "Error"
			if sc.spec.TerminationMessagePolicy == corev1.TerminationMessageFallbackToLogsOnError {
				term.Message = logTail(proc.Log(), fallbackLines, fallbackBytes)
			}
		}
		s.mu.Lock()
		term.StartedAt = *sc.running
		sc.last, sc.running, sc.started, sc.ready = term, nil, false, false
		sc.restarts++
		if delay > 0 {
			sc.waiting = "CrashLoopBackOff"
		}
		s.mu.Unlock()
		s.touch()
		select {
		case <-ctx.Done():
			return
		case <-time.After(delay):
		}
		delay = min(max(2*delay, firstBackoff), maxBackoff)
		next, err := s.launch(ctx, sc)
		for err != nil {
			// What the container needs is missing (a Secret being replaced): the
			// kubelet tries again.
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Second):
			}
			next, err = s.launch(ctx, sc)
		}
		proc = next
	}
}

// probe runs the container's startup probe until it passes after each start, then
// its readiness probe, as the kubelet does (no initial delay).
func (s *Supervisor) probe(ctx context.Context, sc *supervised) {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var nextReady time.Time
	failures := 0
	var run *metav1.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		s.mu.Lock()
		running, started, ready := sc.running, sc.started, sc.ready
		s.mu.Unlock()
		if running == nil {
			continue
		}
		if running != run {
			run, nextReady, failures = running, time.Time{}, 0
		}
		if !started {
			// Every tick stands for periodSeconds here; a startup probe that has not
			// passed is retried quickly, which only shortens the wait.
			if s.get(sc.spec, sc.spec.StartupProbe) {
				s.set(sc, func() { sc.started = true })
			}
			continue
		}
		p := sc.spec.ReadinessProbe
		if p == nil {
			if !ready {
				s.set(sc, func() { sc.ready = true })
			}
			continue
		}
		if time.Now().Before(nextReady) {
			continue
		}
		nextReady = time.Now().Add(period(p))
		if s.get(sc.spec, p) {
			failures = 0
			if !ready {
				s.set(sc, func() { sc.ready = true })
			}
			continue
		}
		threshold := max(int(p.FailureThreshold), 1)
		if failures++; failures >= threshold && ready {
			s.set(sc, func() { sc.ready = false })
		}
	}
}

func period(p *corev1.Probe) time.Duration {
	if p.PeriodSeconds <= 0 {
		return 10 * time.Second
	}
	return time.Duration(p.PeriodSeconds) * time.Second
}

// set changes the container's state under the lock (if the run is still current)
// and reports it.
func (s *Supervisor) set(sc *supervised, change func()) {
	s.mu.Lock()
	if sc.running != nil {
		change()
	}
	s.mu.Unlock()
	s.touch()
}

var probeClient = &http.Client{Timeout: time.Second}

// get sends an HTTP probe to the pod's address.
func (s *Supervisor) get(c corev1.Container, p *corev1.Probe) bool {
	if p == nil || p.HTTPGet == nil {
		return true
	}
	port := p.HTTPGet.Port.IntValue()
	if p.HTTPGet.Port.Type == intstr.String {
		for _, cp := range c.Ports {
			if cp.Name == p.HTTPGet.Port.StrVal {
				port = int(cp.ContainerPort)
			}
		}
	}
	resp, err := probeClient.Get(fmt.Sprintf("http://%s:%d%s", s.n.IP, port, p.HTTPGet.Path))
	if err != nil {
		return false
	}
	_ = resp.Body.Close()
	return resp.StatusCode >= 200 && resp.StatusCode < 400
}

// awaitStarted waits for a sidecar's startup probe, within its failure threshold.
func (s *Supervisor) awaitStarted(ctx context.Context, c corev1.Container) error {
	limit := 10 * time.Minute
	if p := c.StartupProbe; p != nil {
		limit = period(p) * time.Duration(max(p.FailureThreshold, 1))
	}
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		s.mu.Lock()
		sc := s.containers[c.Name]
		started := sc.started && sc.running != nil
		s.mu.Unlock()
		if started {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return fmt.Errorf("sidecar %s did not pass its startup probe within %s:\n%s", c.Name, limit, s.Log(c.Name))
}

// syncVolumes keeps the pod's Secret volumes at their Secrets' content.
func (s *Supervisor) syncVolumes(ctx context.Context) {
	defer s.all.Done()
	tick := time.NewTicker(s.n.SecretSync)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		for _, v := range s.Pod.Spec.Volumes {
			if v.Secret != nil || v.Projected != nil {
				// A Secret missing for a moment is tried again on the next tick.
				_, _ = s.n.syncVolume(ctx, s.Pod, v)
			}
		}
	}
}

// report writes the pod's and the DaemonSet's status whenever a container changes.
func (s *Supervisor) report(ctx context.Context) {
	defer s.all.Done()
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.dirty:
		}
		status, ready := s.status()
		if err := s.n.podStatus(ctx, s.Pod, func(st *corev1.PodStatus) { *st = status }); err != nil && ctx.Err() == nil {
			// The next change writes it all again.
			s.touch()
			time.Sleep(200 * time.Millisecond)
			continue
		}
		r := int32(0)
		if ready {
			r = 1
		}
		_ = s.n.writeStatus(ctx, &appsv1.DaemonSet{}, s.ds, func(o client.Object) {
			d := o.(*appsv1.DaemonSet)
			d.Status = appsv1.DaemonSetStatus{ObservedGeneration: d.Generation, DesiredNumberScheduled: 1, CurrentNumberScheduled: 1,
				UpdatedNumberScheduled: 1, NumberReady: r, NumberAvailable: r, NumberUnavailable: 1 - r}
		})
	}
}

// status is the pod's status as the kubelet reports it now, and whether it is ready.
func (s *Supervisor) status() (corev1.PodStatus, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := corev1.PodStatus{Phase: corev1.PodRunning, PodIP: s.n.IP, PodIPs: []corev1.PodIP{{IP: s.n.IP}}, HostIP: s.n.IP, StartTime: &s.started}
	ready, initialized := true, true
	for _, c := range s.Pod.Spec.InitContainers {
		sc := s.containers[c.Name]
		switch {
		case sc != nil:
			st.InitContainerStatuses = append(st.InitContainerStatuses, sc.status())
			ready = ready && sc.ready
		case s.completed[c.Name]:
			st.InitContainerStatuses = append(st.InitContainerStatuses, corev1.ContainerStatus{Name: c.Name, Image: c.Image, Ready: true,
				State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{Reason: "Completed", StartedAt: s.started, FinishedAt: s.started}}})
		default:
			initialized = false
		}
	}
	containersReady := initialized
	for _, c := range s.Pod.Spec.Containers {
		sc := s.containers[c.Name]
		if sc == nil {
			containersReady = false
			st.ContainerStatuses = append(st.ContainerStatuses, corev1.ContainerStatus{Name: c.Name, Image: c.Image,
				State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "PodInitializing"}}})
			continue
		}
		st.ContainerStatuses = append(st.ContainerStatuses, sc.status())
		containersReady = containersReady && sc.ready
	}
	ready = ready && containersReady
	if ready != s.ready || s.readySince.IsZero() {
		s.ready, s.readySince = ready, metav1.NewTime(time.Now())
	}
	cond := func(t corev1.PodConditionType, ok bool) corev1.PodCondition {
		c := corev1.PodCondition{Type: t, Status: corev1.ConditionFalse, LastTransitionTime: s.readySince}
		if ok {
			c.Status = corev1.ConditionTrue
		}
		return c
	}
	st.Conditions = []corev1.PodCondition{cond(corev1.PodInitialized, initialized), cond(corev1.ContainersReady, containersReady),
		cond(corev1.PodReady, ready), {Type: corev1.PodScheduled, Status: corev1.ConditionTrue, LastTransitionTime: s.started}}
	return st, ready
}

func (sc *supervised) status() corev1.ContainerStatus {
	cs := corev1.ContainerStatus{Name: sc.spec.Name, Image: sc.spec.Image, RestartCount: sc.restarts, Ready: sc.ready,
		Started: ptr(sc.started && sc.running != nil)}
	switch {
	case sc.running != nil:
		cs.State.Running = &corev1.ContainerStateRunning{StartedAt: *sc.running}
	case sc.waiting != "":
		cs.State.Waiting = &corev1.ContainerStateWaiting{Reason: sc.waiting}
	default:
		cs.State.Waiting = &corev1.ContainerStateWaiting{Reason: "ContainerCreating"}
	}
	if sc.last != nil {
		cs.LastTerminationState.Terminated = sc.last
	}
	return cs
}
