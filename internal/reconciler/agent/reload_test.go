package agent

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	agentobjects "github.com/logplane/logplane/internal/agent"
	"github.com/logplane/logplane/internal/conditions"
	"github.com/logplane/logplane/internal/reloader"
	"github.com/logplane/logplane/internal/render"
)

// attempted is when the refused attempts of these tests began; Fluent Bit's exits in
// hotReloadPod come a second later.
var attempted = time.Date(2026, 12, 5, 0, 14, 37, 500e6, time.UTC)

// hotReloadPod is an agent pod in HotReload mode; holding says its reloader is not
// ready, and lastLog is the kubelet's termination message of Fluent Bit's last exit.
func hotReloadPod(name, node string, holding bool, lastLog string) corev1.Pod {
	p := pod(name, node, nil)
	p.Status.PodIP = "10.0.0.1"
	p.Spec.InitContainers = []corev1.Container{{Name: agentobjects.ReloaderContainer,
		Ports: []corev1.ContainerPort{{Name: agentobjects.ReloaderPortName, ContainerPort: 2021}}}}
	p.Status.InitContainerStatuses = []corev1.ContainerStatus{{Name: agentobjects.ReloaderContainer, Ready: !holding,
		Started: ptr(true), State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}}
	fb := corev1.ContainerStatus{Name: render.AgentContainerName, Ready: true, State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}
	if lastLog != "" {
		fb.LastTerminationState.Terminated = &corev1.ContainerStateTerminated{ExitCode: 255, Reason: "Error", Message: lastLog,
			FinishedAt: metav1.NewTime(attempted.Add(time.Second).Truncate(time.Second))}
	}
	p.Status.ContainerStatuses = []corev1.ContainerStatus{fb}
	return p
}

func ptr[T any](v T) *T { return &v }

// The kubelet's tail of Fluent Bit 5.1.1's log after a refused hot reload (measured
// in internal/reloader's test against the real binary).
const refusedReloadLog = `[2026/12/05 00:14:38.598] [ info] [reload] stop everything of the old context
[2026/12/05 00:14:38.730] [ info] [reload] start everything
[2026/12/05 00:14:38.731] [error] [output:http:lp_lpl_shop_errors_lout_collector] invalid compress option 'bogus'
[2026/12/05 00:14:38.731] [error] [output] failed to initialize 'http' plugin
[2026/12/05 00:14:38.731] [error] [engine] output initialization failed
[2026/12/05 00:14:39.731] [error] [reload] loaded configuration contains error(s). Reloading is aborted
reloading is aborted and exit
`

func TestReloadRefusedIsReportedWithFluentBitsError(t *testing.T) {
	refused := reloader.Status{Running: "aaaa", Refused: "bbbb", Reason: reloader.ReasonExited, Message: "Fluent Bit exited while reloading it",
		AttemptedAt: &attempted}
	asked := map[string]int{}
	r := &Reconciler{ReloadStatus: func(_ context.Context, p *corev1.Pod) (reloader.Status, error) {
		asked[p.Name]++
		switch p.Name {
		case "crashed-before":
			// The last exit is older than the attempt: its log says nothing about it.
			return reloader.Status{Running: "aaaa", Refused: "bbbb", Reason: reloader.ReasonExited, Message: "Fluent Bit exited while reloading it",
				AttemptedAt: ptr(attempted.Add(time.Hour))}, nil
		case "halted":
			return reloader.Status{Running: "aaaa", Refused: "bbbb", Reason: reloader.ReasonHalted, Message: "Fluent Bit did not load it"}, nil
		}
		return refused, nil
	}}
	pods := []corev1.Pod{
		hotReloadPod("ready", "node-0", false, ""),
		hotReloadPod("exited", "node-1", true, refusedReloadLog),
		hotReloadPod("halted", "node-2", true, ""),
		hotReloadPod("crashed-before", "node-3", true, "[2026/12/05 00:00:00] [error] [engine] an older crash"),
		pod("restart-mode", "node-4", nil),
	}
	state := withReloadRefusals(judgeAgent(ds(1, 1, 5, 2, 5), pods), r.reloadRefusals(context.Background(), pods))
	if asked["ready"] != 0 || asked["restart-mode"] != 0 {
		t.Errorf("asked reloaders of ready pods: %v", asked)
	}
	c := agentHealth(state, 4)
	if c.Status != metav1.ConditionFalse || c.Reason != conditions.ReasonReloadRefused {
		t.Fatalf("condition %+v", c)
	}
	for _, want := range []string{
		"pod exited on node node-1: configuration bbbb refused (Fluent Bit: [output:http:lp_lpl_shop_errors_lout_collector] invalid compress option 'bogus'; [output] failed to initialize 'http' plugin)",
		"pod halted on node node-2: configuration bbbb refused (Fluent Bit did not load it)",
		"pod crashed-before on node node-3: configuration bbbb refused (Fluent Bit exited while reloading it)",
		"keep running the previous configuration",
	} {
		if !strings.Contains(c.Message, want) {
			t.Errorf("message %q\nlacks %q", c.Message, want)
		}
	}
	if pc := pipelineHealth(state); pc.Reason != conditions.ReasonReloadRefused || !strings.Contains(pc.Message, "invalid compress option 'bogus'") {
		t.Errorf("pipelines' condition %+v", pc)
	}
}

// A more fundamental fault keeps its place ahead of a refusal in the chain; a pod
// whose reloader is not ready but holds nothing back, or does not answer, is judged
// like any other.
func TestReloadRefusalsYieldToCrashLoops(t *testing.T) {
	refusals := []reloadRefusal{{pod: "a", node: "n", message: "m"}}
	crashing := pod("b", "node-2", func(s *corev1.PodStatus) {
		s.ContainerStatuses = []corev1.ContainerStatus{{State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}}}}
	})
	if s := withReloadRefusals(judgeAgent(ds(1, 1, 2, 1, 2), []corev1.Pod{crashing}), refusals); s.reason != "" || !strings.Contains(s.why, "CrashLoopBackOff") {
		t.Errorf("state %+v", s)
	}
	if s := withReloadRefusals(judgeAgent(ds(1, 1, 2, 1, 2), nil), nil); s.reason != "" || s.why != "pods are starting" {
		t.Errorf("state %+v", s)
	}
	r := &Reconciler{ReloadStatus: func(_ context.Context, p *corev1.Pod) (reloader.Status, error) {
		if p.Name == "unreachable" {
			return reloader.Status{}, errors.New("connection refused")
		}
		return reloader.Status{Running: "aaaa"}, nil
	}}
	if got := r.reloadRefusals(context.Background(), []corev1.Pod{hotReloadPod("a", "n", true, ""), hotReloadPod("unreachable", "n", true, "")}); len(got) != 0 {
		t.Errorf("refusals %v from reloaders that hold nothing back or do not answer", got)
	}
}

func TestReloadQueriesAreBounded(t *testing.T) {
	n := 0
	r := &Reconciler{ReloadStatus: func(context.Context, *corev1.Pod) (reloader.Status, error) {
		n++
		return reloader.Status{Refused: "bbbb", Message: "m"}, nil
	}}
	var pods []corev1.Pod
	for i := range 50 {
		pods = append(pods, hotReloadPod("p"+strconv.Itoa(i), "n", true, ""))
	}
	if got := r.reloadRefusals(context.Background(), pods); len(got) != maxReloadQueries || n != maxReloadQueries {
		t.Errorf("%d refusals after %d queries; want %d", len(got), n, maxReloadQueries)
	}
}

// The real client asks the pod IP on the reloader's named port, and reads at most
// reloadStatusLimit bytes.
func TestHTTPReloadStatus(t *testing.T) {
	want := reloader.Status{Running: "aaaa", Refused: "bbbb", Reason: reloader.ReasonExited, Message: "m"}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != reloader.StatusPath {
			http.NotFound(w, r)
			return
		}
		_ = json.NewEncoder(w).Encode(want)
	}))
	defer srv.Close()
	host, port, _ := net.SplitHostPort(strings.TrimPrefix(srv.URL, "http://"))
	p := hotReloadPod("a", "n", true, "")
	p.Status.PodIP = host
	portNum, _ := strconv.Atoi(port)
	p.Spec.InitContainers[0].Ports[0].ContainerPort = int32(portNum)
	got, err := HTTPReloadStatus(context.Background(), &p)
	if err != nil || got != want {
		t.Fatalf("got %+v, %v", got, err)
	}

	huge := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte(`{"running":"` + strings.Repeat("x", 2*reloadStatusLimit) + `"}`))
	}))
	defer huge.Close()
	_, port, _ = net.SplitHostPort(strings.TrimPrefix(huge.URL, "http://"))
	portNum, _ = strconv.Atoi(port)
	p.Spec.InitContainers[0].Ports[0].ContainerPort = int32(portNum)
	if _, err := HTTPReloadStatus(context.Background(), &p); err == nil {
		t.Error("read a status beyond the size cap")
	}
	p.Spec.InitContainers = nil
	if _, err := HTTPReloadStatus(context.Background(), &p); err == nil {
		t.Error("asked a pod without a reloader port")
	}
}
