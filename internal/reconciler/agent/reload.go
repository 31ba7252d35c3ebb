package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"

	agentobjects "github.com/logplane/logplane/internal/agent"
	"github.com/logplane/logplane/internal/canary"
	"github.com/logplane/logplane/internal/conditions"
	"github.com/logplane/logplane/internal/reloader"
)

// In HotReload mode the reloader in each agent pod restores the previous
// configuration when Fluent Bit refuses a new one, and holds the refused version back;
// its readiness fails meanwhile. The operator learns of it from the pod (the reloader
// container not ready), asks that reloader for its status, and takes Fluent Bit's own
// error from the fluent-bit container's last termination message: Fluent Bit exits
// after a failed reload, and the kubelet keeps the end of its log there
// (FallbackToLogsOnError). Asking the reloader, not reading logs, keeps the operator
// free of pods/log rights.

// ReloadStatusFunc reads the status of the reloader in one agent pod.
type ReloadStatusFunc func(ctx context.Context, pod *corev1.Pod) (reloader.Status, error)

// maxReloadQueries bounds the reloaders asked per reconcile: the message names three
// pods at most, and a configuration refused on every node of a large cluster must not
// cost a request per node on every reconcile.
const maxReloadQueries = 3

// maxRefusalMessage keeps three refusals well inside a condition message.
const maxRefusalMessage = 400

// reloadRefusal is one pod whose reloader holds a refused configuration back.
type reloadRefusal struct {
	pod, node string
	// message says how Fluent Bit refused: its error line when the kubelet kept one,
	// the reloader's account otherwise.
	message string
}

// withReloadRefusals makes the refusals the verdict when nothing more fundamental
// (a DaemonSet not there, pods crash-looping or unschedulable) is the cause: a pod
// whose reloader holds a refused configuration back is not ready, and "pods are
// starting" would hide why.
func withReloadRefusals(s agentState, refusals []reloadRefusal) agentState {
	if len(refusals) == 0 || !(s.healthy() || s.settling) {
		return s
	}
	parts := make([]string, 0, len(refusals))
	for _, f := range refusals {
		parts = append(parts, fmt.Sprintf("pod %s on node %s: %s", f.pod, cmpOr(f.node, "(none)"), f.message))
	}
	slices.Sort(parts)
	s.reason = conditions.ReasonReloadRefused
	s.why = "Fluent Bit refused the new configuration and keeps running the previous one on these nodes; " + strings.Join(parts, "; ")
	s.cause = s.why
	return s
}

// reloadRefusals asks the reloaders of pods that report not ready.
func (r *Reconciler) reloadRefusals(ctx context.Context, pods []corev1.Pod) []reloadRefusal {
	get := r.ReloadStatus
	if get == nil {
		get = HTTPReloadStatus
	}
	var out []reloadRefusal
	asked := 0
	for i := range pods {
		p := &pods[i]
		if !reloaderHoldsBack(p) {
			continue
		}
		if asked == maxReloadQueries {
			break
		}
		asked++
		st, err := get(ctx, p)
		if err != nil || st.Refused == "" {
			// Unreachable or no refusal: the pod is judged like any other.
			continue
		}
		msg := st.Message
		if line := fluentBitError(p, st.AttemptedAt); line != "" {
			msg = "Fluent Bit: " + line
		}
		out = append(out, reloadRefusal{pod: p.Name, node: p.Spec.NodeName, message: fmt.Sprintf("configuration %s refused (%s)", st.Refused, bounded(msg, maxRefusalMessage))})
	}
	return out
}

// reloaderHoldsBack says the pod's reloader runs, has staged its configuration, and
// is not ready: it may hold a refused configuration back.
func reloaderHoldsBack(p *corev1.Pod) bool {
	for _, cs := range p.Status.InitContainerStatuses {
		if cs.Name == agentobjects.ReloaderContainer {
			return cs.State.Running != nil && cs.Started != nil && *cs.Started && !cs.Ready
		}
	}
	return false
}

// fluentBitError is Fluent Bit's error line from its container's last exit, when
// that exit came with the refused attempt (at or after since) and not from an older
// crash.
func fluentBitError(p *corev1.Pod, since *time.Time) string {
	cs := agentContainer(p)
	if cs == nil || cs.LastTerminationState.Terminated == nil {
		return ""
	}
	term := cs.LastTerminationState.Terminated
	// FinishedAt has whole seconds.
	if since != nil && term.FinishedAt.Time.Before(since.Truncate(time.Second)) {
		return ""
	}
	return canary.ErrorLine(term.Message)
}

// reloadStatusLimit caps what is read from a reloader: its status is a few hundred
// bytes.
const reloadStatusLimit = 64 << 10

var reloadClient = &http.Client{Timeout: 2 * time.Second}

// HTTPReloadStatus asks the reloader on its named port at the pod's IP.
func HTTPReloadStatus(ctx context.Context, pod *corev1.Pod) (reloader.Status, error) {
	var port int32
	for _, c := range pod.Spec.InitContainers {
		for _, cp := range c.Ports {
			if c.Name == agentobjects.ReloaderContainer && cp.Name == agentobjects.ReloaderPortName {
				port = cp.ContainerPort
			}
		}
	}
	if port == 0 || pod.Status.PodIP == "" {
		return reloader.Status{}, fmt.Errorf("pod %s has no reloader port or IP", pod.Name)
	}
	url := "http://" + net.JoinHostPort(pod.Status.PodIP, strconv.Itoa(int(port))) + reloader.StatusPath
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return reloader.Status{}, err
	}
	resp, err := reloadClient.Do(req)
	if err != nil {
		return reloader.Status{}, fmt.Errorf("failed to ask the reloader of pod %s: %w", pod.Name, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return reloader.Status{}, fmt.Errorf("the reloader of pod %s answered %s", pod.Name, resp.Status)
	}
	var st reloader.Status
	if err := json.NewDecoder(io.LimitReader(resp.Body, reloadStatusLimit)).Decode(&st); err != nil {
		return reloader.Status{}, fmt.Errorf("failed to read the reloader status of pod %s: %w", pod.Name, err)
	}
	return st, nil
}
