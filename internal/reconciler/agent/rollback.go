package agent

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	v1 "github.com/logplane/logplane/api/v1alpha1"
	agentobjects "github.com/logplane/logplane/internal/agent"
	"github.com/logplane/logplane/internal/canary"
	"github.com/logplane/logplane/internal/conditions"
	"github.com/logplane/logplane/internal/render"
)

// Rollback (Restart mode). The canary proves that Fluent Bit starts a configuration,
// not that it starts on every node: a file, a journal, a disk or a kernel that one
// node lacks fails there only. When agent pods fail after a rollout, the agent goes
// back to the last configuration that ran healthy on it, which is saved for that in
// Secrets of its own, and the failed one is not tried again until something that
// renders into it changes.
//
// Configurations are told apart by the pod template's config-hash annotation
// (configuration and credentials), which the agent's pods carry: it says which pods
// run what.

const (
	// DefaultRolloutDeadline is how long an agent pod may run a new configuration
	// without becoming ready before the rollout counts as failed.
	DefaultRolloutDeadline = 3 * time.Minute
	// AnnotationFailedRollouts on the agent's first last-healthy Secret lists the
	// configurations that failed on nodes, so that a restarted operator does not
	// roll them out again.
	AnnotationFailedRollouts = "logging.logplane.dev/failed-rollouts"
	// maxCauseLen bounds Fluent Bit's error in statuses and annotations.
	maxCauseLen = 400
	// maxFailed bounds the failed configurations remembered; the oldest goes first.
	maxFailed = 8
	// maxWritten bounds the configurations written recently that this process can
	// still save as healthy when their rollout completes.
	maxWritten = 4
	// lastHealthyBudget is the data one last-healthy Secret holds, under the API's
	// 1 MiB with room for metadata.
	lastHealthyBudget = 900 << 10
	metaKey           = "config.json.gz"
)

// rolloutOutcome is what an agent's pods say about the configuration on its pod
// template.
type rolloutOutcome int

const (
	rolloutProgressing rolloutOutcome = iota
	rolloutHealthy
	rolloutFailed
)

// rolloutVerdict judges the configuration on the pod template (hash).
type rolloutVerdict struct {
	outcome rolloutOutcome
	hash    string
	// nodes where pods failed with hash, sorted, and Fluent Bit's error on the first.
	nodes []string
	cause string
	// recheck is when a pod that runs without being ready reaches the deadline.
	recheck time.Duration
}

// judgeRollout judges the configuration on the DaemonSet's pod template from its
// pods. Only pods that run it count: an older pod that fails says nothing about it.
// A pod failed when Fluent Bit keeps exiting (CrashLoopBackOff, or an error exit
// after two restarts) or runs without becoming ready for deadline; pods that wait for
// a node, an image or a volume are not the configuration's fault. Healthy needs the
// DaemonSet rolled out and every pod ready with the hash.
func judgeRollout(ds *appsv1.DaemonSet, pods []corev1.Pod, now time.Time, deadline time.Duration) rolloutVerdict {
	if ds == nil || ds.Spec.Template.Annotations[agentobjects.AnnotationConfig] == "" {
		return rolloutVerdict{}
	}
	v := rolloutVerdict{hash: ds.Spec.Template.Annotations[agentobjects.AnnotationConfig]}
	var ready int32
	others := false
	causes := map[string]string{}
	for i := range pods {
		p := &pods[i]
		if p.DeletionTimestamp != nil {
			continue
		}
		if p.Annotations[agentobjects.AnnotationConfig] != v.hash {
			others = true
			continue
		}
		cs := agentContainer(p)
		if cs == nil {
			continue
		}
		if cs.Ready {
			ready++
			continue
		}
		if cause, failed := containerFailure(cs, now, deadline); failed {
			causes[cmpOr(p.Spec.NodeName, "(pod "+p.Name+")")] = cause
		} else if r := cs.State.Running; r != nil {
			if left := r.StartedAt.Add(deadline).Sub(now); v.recheck == 0 || left < v.recheck {
				v.recheck = left
			}
		}
	}
	if len(causes) > 0 {
		for node := range causes {
			v.nodes = append(v.nodes, node)
		}
		slices.Sort(v.nodes)
		v.outcome, v.cause, v.recheck = rolloutFailed, causes[v.nodes[0]], 0
		return v
	}
	st := ds.Status
	if st.ObservedGeneration >= ds.Generation && st.DesiredNumberScheduled > 0 && !others &&
		st.UpdatedNumberScheduled >= st.DesiredNumberScheduled && st.NumberReady >= st.DesiredNumberScheduled &&
		ready >= st.DesiredNumberScheduled {
		v.outcome = rolloutHealthy
	}
	return v
}

// agentContainer is the status of the pod's Fluent Bit container.
func agentContainer(p *corev1.Pod) *corev1.ContainerStatus {
	for i := range p.Status.ContainerStatuses {
		if p.Status.ContainerStatuses[i].Name == render.AgentContainerName {
			return &p.Status.ContainerStatuses[i]
		}
	}
	return nil
}

// containerFailure says whether Fluent Bit failed in this container, and why.
func containerFailure(cs *corev1.ContainerStatus, now time.Time, deadline time.Duration) (string, bool) {
	term := cs.State.Terminated
	if term == nil {
		term = cs.LastTerminationState.Terminated
	}
	crashLoop := cs.State.Waiting != nil && cs.State.Waiting.Reason == "CrashLoopBackOff"
	if crashLoop || term != nil && term.ExitCode != 0 && cs.RestartCount >= 2 {
		return exitCause(term), true
	}
	if r := cs.State.Running; r != nil && now.Sub(r.StartedAt.Time) >= deadline {
		return fmt.Sprintf("Fluent Bit did not report healthy within %s of starting", deadline), true
	}
	return "", false
}

// exitCause is Fluent Bit's error from its log tail (the termination message), with
// how it ended.
func exitCause(term *corev1.ContainerStateTerminated) string {
	if term == nil {
		return "Fluent Bit keeps exiting (CrashLoopBackOff)"
	}
	how := fmt.Sprintf("exit code %d", term.ExitCode)
	if term.Reason != "" && term.Reason != "Error" {
		how += ", " + term.Reason
	}
	if line := canary.ErrorLine(term.Message); line != "" {
		return bounded(line, maxCauseLen) + " (" + how + ")"
	}
	return "Fluent Bit exited (" + how + ")"
}

func bounded(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8Start(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

func utf8Start(b byte) bool { return b&0xC0 != 0x80 }

// savedConfig is a configuration as the agent's objects are built from it: with the
// secret values it ran with, so that a rollback does not depend on Secrets that have
// changed or gone since.
type savedConfig struct {
	// Hash is the pod template's config-hash annotation for it.
	Hash   string
	Config render.Config
	Values map[render.SecretSource][]byte
}

// failedRollout is a configuration that failed on nodes after its rollout.
type failedRollout struct {
	Hash  string   `json:"hash"`
	Nodes []string `json:"nodes"`
	Cause string   `json:"cause"`
}

// rollbackState is what the operator knows about one agent's rollouts.
type rollbackState struct {
	loaded  bool
	healthy *savedConfig
	failed  []failedRollout
	written []savedConfig
	// held is the failed rollout whose configuration is held back now; nil when none.
	held *failedRollout
}

func (s *rollbackState) failedHash(hash string) *failedRollout {
	for i := range s.failed {
		if s.failed[i].Hash == hash {
			return &s.failed[i]
		}
	}
	return nil
}

func (s *rollbackState) remember(c savedConfig) {
	s.written = slices.DeleteFunc(s.written, func(w savedConfig) bool { return w.Hash == c.Hash })
	s.written = append(s.written, c)
	if len(s.written) > maxWritten {
		s.written = s.written[len(s.written)-maxWritten:]
	}
}

// rollbackFields are the Reconciler's rollback state, embedded to keep reconciler.go
// about wiring.
type rollbackFields struct {
	rollbackMu sync.Mutex
	rollbacks  map[string]*rollbackState
}

func (r *Reconciler) rollbackState(agent string) *rollbackState {
	r.rollbackMu.Lock()
	defer r.rollbackMu.Unlock()
	if r.rollbacks == nil {
		r.rollbacks = map[string]*rollbackState{}
	}
	if r.rollbacks[agent] == nil {
		r.rollbacks[agent] = &rollbackState{}
	}
	return r.rollbacks[agent]
}

// rollbackPlan is what rollback decided for one reconcile.
type rollbackPlan struct {
	// objs are to be applied: as built, or the last healthy configuration's.
	objs *agentobjects.Objects
	// cfg is the configuration objs carry.
	cfg render.Config
	// bypassPacing puts objs' hash on the template at once: a rollback, or a move
	// away from a configuration that fails.
	bypassPacing bool
	recheck      time.Duration
}

// rollback judges the running rollout and decides what the nodes get: objs, built
// from cfg, unless its configuration failed on nodes before and a healthy one is
// saved. Only Restart mode rolls back here: in HotReload mode the template does not
// carry the configuration's hash (the reloader restores files itself).
func (r *Reconciler) rollback(ctx context.Context, agent string, owner *v1.LogAgent, in agentobjects.Input,
	objs *agentobjects.Objects, live *appsv1.DaemonSet, liveFound bool, existing []metav1.PartialObjectMetadata) (rollbackPlan, error) {
	plan := rollbackPlan{objs: objs, cfg: in.Config}
	st := r.rollbackState(agent)
	if in.Spec.ConfigReload == v1.ConfigReloadHotReload {
		st.held = nil
		return plan, nil
	}
	logger := log.FromContext(ctx)
	if !st.loaded {
		healthy, failed, err := r.readLastHealthy(ctx, agent)
		if err != nil {
			return plan, err
		}
		st.healthy, st.failed, st.loaded = healthy, failed, true
	}
	if len(st.failed) > 0 {
		// Someone removed the failed rollouts from the Secret (the key is always
		// written): the node was fixed, and they are to be tried again.
		for _, s := range existing {
			if _, ok := s.Annotations[AnnotationFailedRollouts]; s.Name == LastHealthySecretName(agent, 0) && !ok {
				logger.Info("failed rollouts were cleared on the last-healthy Secret; they will be tried again", "secret", s.Name)
				st.failed = nil
			}
		}
	}
	desired := savedConfig{Hash: objs.DaemonSet.Spec.Template.Annotations[agentobjects.AnnotationConfig],
		Config: in.Config, Values: in.SecretValues}

	var pods []corev1.Pod
	var ds *appsv1.DaemonSet
	if liveFound {
		ds = live
		var list corev1.PodList
		if err := r.Client.List(ctx, &list, client.InNamespace(r.Namespace),
			client.MatchingLabels{agentobjects.LabelAgent: agent, agentobjects.LabelComponent: agentobjects.ComponentAgent}); err != nil {
			return plan, fmt.Errorf("failed to list agent pods: %w", err)
		}
		pods = list.Items
	}
	deadline := cmpOrDuration(r.RolloutDeadline, DefaultRolloutDeadline)
	v := judgeRollout(ds, pods, r.now(), deadline)
	plan.recheck = v.recheck
	dirty := false
	switch v.outcome {
	case rolloutHealthy:
		if st.healthy != nil && st.healthy.Hash == v.hash {
			break
		}
		for _, c := range append(slices.Clone(st.written), desired) {
			if c.Hash == v.hash {
				st.healthy, dirty = &c, true
			}
		}
	case rolloutFailed:
		if st.healthy == nil || st.healthy.Hash == v.hash || st.failedHash(v.hash) != nil {
			// Nothing to go back to, or known already: the agent's health names
			// the pods and Fluent Bit's error.
			break
		}
		st.failed = append(st.failed, failedRollout{Hash: v.hash, Nodes: v.nodes, Cause: v.cause})
		if len(st.failed) > maxFailed {
			st.failed = st.failed[len(st.failed)-maxFailed:]
		}
		dirty = true
		logger.Info("agent pods failed after a rollout; rolling back to the last healthy configuration",
			"configHash", v.hash, "nodes", v.nodes, "cause", v.cause, "healthyHash", st.healthy.Hash)
		if r.Events != nil && owner != nil {
			r.Events.Eventf(owner, nil, corev1.EventTypeWarning, conditions.ReasonRolledBack, "Rollback",
				"pods failed on node %s with configuration %s: %s; rolling back to %s", strings.Join(v.nodes, ", "), v.hash, v.cause, st.healthy.Hash)
		}
	}
	if dirty {
		if err := r.saveLastHealthy(ctx, agent, owner, st, existing); err != nil {
			return plan, err
		}
	}

	st.held = nil
	if f := st.failedHash(desired.Hash); f != nil && st.healthy != nil && st.healthy.Hash != desired.Hash {
		h := st.healthy
		in.Config, in.SecretValues = h.Config, h.Values
		plan.objs, plan.cfg, plan.bypassPacing = agentobjects.Build(in), h.Config, true
		st.held = f
		desired = *h
	}
	if liveFound && st.failedHash(live.Spec.Template.Annotations[agentobjects.AnnotationConfig]) != nil {
		plan.bypassPacing = true
	}
	st.remember(desired)
	return plan, nil
}

func (r *Reconciler) now() time.Time {
	if r.Clock != nil {
		return r.Clock.Now()
	}
	return time.Now()
}

func cmpOrDuration(d, fallback time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return fallback
}

// heldRollout is the failed rollout the agent is held back from, with the hash it
// runs instead; nil when none.
func (r *Reconciler) heldRollout(agent string) (*failedRollout, string) {
	st := r.rollbackState(agent)
	if st.held == nil || st.healthy == nil {
		return nil, ""
	}
	return st.held, st.healthy.Hash
}

// rolledBackMessage is the RolledBack message; podsWhy says what the pods show when
// they are not all ready with the configuration restored.
func rolledBackMessage(f *failedRollout, healthyHash, podsWhy string) string {
	nodes := f.Nodes
	more := ""
	if len(nodes) > 3 {
		more = fmt.Sprintf(" (and %d more)", len(nodes)-3)
		nodes = nodes[:3]
	}
	tail := ""
	if podsWhy != "" {
		tail = " Its pods: " + podsWhy + "."
	}
	return conditions.Message(conditions.ReasonRolledBack, strings.Join(nodes, ", ")+more, f.Hash, f.Cause, healthyHash, tail)
}
