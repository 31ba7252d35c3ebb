package agent

import (
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/logplane/logplane/internal/conditions"
)

func ds(gen, observed int64, desired, ready, updated int32) *appsv1.DaemonSet {
	return &appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Generation: gen}, Status: appsv1.DaemonSetStatus{
		ObservedGeneration: observed, DesiredNumberScheduled: desired, NumberReady: ready, UpdatedNumberScheduled: updated}}
}

func pod(name, node string, mutate func(*corev1.PodStatus)) corev1.Pod {
	p := corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: corev1.PodSpec{NodeName: node},
		Status: corev1.PodStatus{Phase: corev1.PodRunning}}
	if mutate != nil {
		mutate(&p.Status)
	}
	return p
}

func TestAgentHealthChain(t *testing.T) {
	crashing := func(s *corev1.PodStatus) {
		s.ContainerStatuses = []corev1.ContainerStatus{{
			State:                corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}},
			LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{Reason: "OOMKilled", ExitCode: 137}},
		}}
	}
	// With nothing to roll back to, the agent's health still names Fluent Bit's error
	// (its log tail is the termination message).
	refusing := func(s *corev1.PodStatus) {
		s.ContainerStatuses = []corev1.ContainerStatus{{
			State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}},
			LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{Reason: "Error", ExitCode: 255,
				Message: "[2026/12/05 00:20:15.845] [error] [input:tail:tail.0] could not open/create database\n[2026/12/05 00:20:15.845] [error] failed initialize input tail.0\n"}},
		}}
	}
	pulling := func(s *corev1.PodStatus) {
		s.ContainerStatuses = []corev1.ContainerStatus{{State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ImagePullBackOff"}}}}
	}
	unschedulable := func(s *corev1.PodStatus) {
		s.Phase = corev1.PodPending
		s.Conditions = []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Message: "0/3 nodes are available: insufficient memory"}}
	}
	cases := []struct {
		name    string
		ds      *appsv1.DaemonSet
		pods    []corev1.Pod
		status  metav1.ConditionStatus
		message string
	}{
		{"no DaemonSet yet", nil, nil, metav1.ConditionFalse, "has not been created yet"},
		{"status not observed", ds(3, 2, 3, 3, 3), nil, metav1.ConditionFalse, "not picked up the latest change"},
		{"no nodes", ds(1, 1, 0, 0, 0), nil, metav1.ConditionFalse, "no node runs the agent"},
		{"OOM crash loop named with its node", ds(1, 1, 3, 2, 3), []corev1.Pod{pod("a", "node-1", nil), pod("b", "node-2", crashing)},
			metav1.ConditionFalse, "pod b on node node-2: CrashLoopBackOff (last exit: OOMKilled, code 137)"},
		{"Fluent Bit's error named", ds(1, 1, 1, 0, 1), []corev1.Pod{pod("a", "node-1", refusing)}, metav1.ConditionFalse,
			"pod a on node node-1: CrashLoopBackOff (last exit: Error, code 255): [input:tail:tail.0] could not open/create database; failed initialize input tail.0"},
		{"image pull", ds(1, 1, 1, 0, 1), []corev1.Pod{pod("a", "node-1", pulling)}, metav1.ConditionFalse, "ImagePullBackOff"},
		{"unschedulable", ds(1, 1, 1, 0, 1), []corev1.Pod{pod("a", "", unschedulable)}, metav1.ConditionFalse, "not scheduled: 0/3 nodes are available"},
		{"rolling out", ds(2, 2, 4, 4, 1), nil, metav1.ConditionFalse, "1 of 4 pods updated"},
		{"starting", ds(1, 1, 4, 2, 4), nil, metav1.ConditionFalse, "2 of 4 agent pods are ready: pods are starting"},
		{"healthy", ds(1, 1, 4, 4, 4), nil, metav1.ConditionTrue, "4 of 4 agent pods are ready"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			state := judgeAgent(tc.ds, tc.pods)
			c := agentHealth(state, 9)
			if c.Status != tc.status || !strings.Contains(c.Message, tc.message) || c.ObservedGeneration != 9 || c.Type != conditions.TypeAgentHealthy {
				t.Fatalf("got %s %s %q (gen %d), want %s containing %q", c.Type, c.Status, c.Message, c.ObservedGeneration, tc.status, tc.message)
			}
			if p := pipelineHealth(state); p.Type != c.Type || p.Status != c.Status || p.Reason != c.Reason {
				t.Errorf("pipelines see %s %s %s, the agent %s %s %s", p.Type, p.Status, p.Reason, c.Type, c.Status, c.Reason)
			}
		})
	}
}

// What pipelines see of their agent does not move with each pod that starts or
// updates: those figures would rewrite the status of every pipeline on the agent.
func TestPipelinesSeeTheAgentWithoutPodFigures(t *testing.T) {
	for _, tc := range []struct {
		name string
		a, b *appsv1.DaemonSet
	}{
		{"a node joins a healthy agent", ds(1, 1, 4, 4, 4), ds(1, 1, 5, 5, 5)},
		{"a rollout goes on", ds(2, 2, 4, 4, 1), ds(2, 2, 4, 3, 3)},
		{"pods start", ds(1, 1, 4, 1, 4), ds(1, 1, 4, 3, 4)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, b := judgeAgent(tc.a, nil), judgeAgent(tc.b, nil)
			if agentHealth(a, 1) == agentHealth(b, 1) {
				t.Fatal("the cases do not differ for the agent itself; the test cannot tell")
			}
			if pa, pb := pipelineHealth(a), pipelineHealth(b); pa != pb {
				t.Errorf("pipelines see %q, then %q", pa.Message, pb.Message)
			}
		})
	}
}
