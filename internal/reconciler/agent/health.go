package agent

import (
	"fmt"
	"slices"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/logplane/logplane/internal/canary"
	"github.com/logplane/logplane/internal/conditions"
)

// podTrouble names what keeps one agent pod from running: a waiting reason that will
// not resolve by itself, or the way its last run ended when that is telling (OOMKilled).
func podTrouble(p corev1.Pod) string {
	for _, cs := range p.Status.ContainerStatuses {
		if w := cs.State.Waiting; w != nil && w.Reason != "" && w.Reason != "ContainerCreating" && w.Reason != "PodInitializing" {
			msg := w.Reason
			if t := cs.LastTerminationState.Terminated; t != nil && t.Reason != "" && t.Reason != "Completed" {
				msg += fmt.Sprintf(" (last exit: %s, code %d)", t.Reason, t.ExitCode)
				// Fluent Bit's own last error (its log tail is the termination
				// message) says why, where the exit code cannot.
				if line := canary.ErrorLine(t.Message); line != "" {
					msg += ": " + bounded(line, maxCauseLen)
				}
			}
			return msg
		}
	}
	if p.Status.Phase == corev1.PodPending {
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse {
				return "not scheduled: " + c.Message
			}
		}
	}
	return ""
}

// agentState is what an agent's DaemonSet and pods show: ready and desired pods, and
// what keeps the agent from being healthy ("" when nothing does), with figures that
// may move pod by pod (why) and without them (cause).
type agentState struct {
	ready, desired int32
	why, cause     string
	// reason is the condition reason when not healthy; "" is AgentNotReady.
	reason string
	// settling: the only fault found is pods starting or updating, which a refused
	// hot reload explains better (see withReloadRefusals).
	settling bool
}

func (s agentState) healthy() bool { return s.why == "" }

// judgeAgent judges an agent from its DaemonSet and pods. The checks run in order and
// the first that fails decides, most fundamental first, so the message names the cause
// rather than a symptom.
func judgeAgent(ds *appsv1.DaemonSet, pods []corev1.Pod) agentState {
	notReady := func(ready, desired int32, why string) agentState {
		return agentState{ready: ready, desired: desired, why: why, cause: why}
	}
	// Nothing to judge before the DaemonSet exists.
	if ds == nil {
		return notReady(0, 0, "the DaemonSet has not been created yet")
	}
	st := ds.Status
	// A status older than the spec says nothing about the current configuration.
	if st.ObservedGeneration < ds.Generation {
		return notReady(st.NumberReady, st.DesiredNumberScheduled, "the DaemonSet controller has not picked up the latest change yet")
	}
	// No node at all: nodeSelector or taints exclude every node, or there are none.
	if st.DesiredNumberScheduled == 0 {
		return notReady(0, 0, "no node runs the agent: none matches its nodeSelector and tolerations, or the cluster has no nodes")
	}
	// Pods that will not recover on their own are the most useful thing to name.
	var troubles []string
	for _, p := range pods {
		if t := podTrouble(p); t != "" {
			troubles = append(troubles, fmt.Sprintf("pod %s on node %s: %s", p.Name, cmpOr(p.Spec.NodeName, "(none)"), t))
		}
	}
	if len(troubles) > 0 {
		slices.Sort(troubles)
		more := ""
		if len(troubles) > 3 {
			more = fmt.Sprintf(" (and %d more)", len(troubles)-3)
			troubles = troubles[:3]
		}
		return notReady(st.NumberReady, st.DesiredNumberScheduled, strings.Join(troubles, "; ")+more)
	}
	// A rollout in progress: old configuration still runs somewhere.
	if st.UpdatedNumberScheduled < st.DesiredNumberScheduled {
		s := notReady(st.NumberReady, st.DesiredNumberScheduled,
			fmt.Sprintf("rolling out the new configuration: %d of %d pods updated", st.UpdatedNumberScheduled, st.DesiredNumberScheduled))
		s.cause = "rolling out the new configuration"
		s.settling = true
		return s
	}
	if st.NumberReady < st.DesiredNumberScheduled {
		s := notReady(st.NumberReady, st.DesiredNumberScheduled, "pods are starting")
		s.settling = true
		return s
	}
	return agentState{ready: st.NumberReady, desired: st.DesiredNumberScheduled}
}

// agentHealth is the LogAgent's own AgentHealthy condition: RolledBack while a
// configuration that failed on nodes is held back, or else from its pods.
func (r *Reconciler) agentHealth(agent string, s agentState, generation int64) metav1.Condition {
	if f, healthy := r.heldRollout(agent); f != nil {
		return metav1.Condition{Type: conditions.TypeAgentHealthy, Status: metav1.ConditionFalse, Reason: conditions.ReasonRolledBack,
			Message: rolledBackMessage(f, healthy, s.why), ObservedGeneration: generation}
	}
	return agentHealth(s, generation)
}

// pipelineHealth is pipelineHealth(s), or RolledBack while the agent is held back
// from a configuration that failed on nodes: the pipelines' latest changes do not
// run.
func (r *Reconciler) pipelineHealth(agent string, s agentState) metav1.Condition {
	if f, healthy := r.heldRollout(agent); f != nil {
		return metav1.Condition{Type: conditions.TypeAgentHealthy, Status: metav1.ConditionFalse, Reason: conditions.ReasonRolledBack,
			Message: rolledBackMessage(f, healthy, s.cause)}
	}
	return pipelineHealth(s)
}

// agentHealth is the LogAgent's own AgentHealthy condition, with its pod figures.
func agentHealth(s agentState, generation int64) metav1.Condition {
	if !s.healthy() {
		return conditions.New(conditions.TypeAgentHealthy, metav1.ConditionFalse, cmpOr(s.reason, conditions.ReasonAgentNotReady), generation, s.ready, s.desired, s.why)
	}
	return conditions.New(conditions.TypeAgentHealthy, metav1.ConditionTrue, conditions.ReasonAgentReady, generation, s.ready, s.desired)
}

// pipelineHealth is the AgentHealthy condition of the pipelines the agent runs: the
// same verdict without pod figures. Those change with every pod that starts, stops or
// updates, and each change would rewrite the status of every pipeline on the agent.
func pipelineHealth(s agentState) metav1.Condition {
	if s.reason == conditions.ReasonReloadRefused {
		return metav1.Condition{Type: conditions.TypeAgentHealthy, Status: metav1.ConditionFalse, Reason: s.reason, Message: s.cause + "."}
	}
	if !s.healthy() {
		return metav1.Condition{Type: conditions.TypeAgentHealthy, Status: metav1.ConditionFalse, Reason: conditions.ReasonAgentNotReady,
			Message: "The agent's pods are not all ready: " + s.cause + "."}
	}
	return metav1.Condition{Type: conditions.TypeAgentHealthy, Status: metav1.ConditionTrue, Reason: conditions.ReasonAgentReady,
		Message: "The agent's pods are ready with the current configuration."}
}

func cmpOr(s, fallback string) string {
	if s == "" {
		return fallback
	}
	return s
}
