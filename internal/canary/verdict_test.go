package canary

import (
	"os"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestErrorLine(t *testing.T) {
	// A real log of Fluent Bit 5.1.1 refusing an http output's compress option,
	// started without a service account (as the canary is).
	refused, err := os.ReadFile("testdata/refused-compress.log")
	if err != nil {
		t.Fatal(err)
	}
	// And refusing a tail input's positions database that is not one (a node-local
	// cause: the canary starts with an empty directory).
	corrupt, err := os.ReadFile("testdata/corrupt-tail-db.log")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, log, want string }{
		{"input refusal, worded without \"to\"", string(corrupt),
			"[input:tail:tail.0] could not open/create database; failed initialize input tail.0"},
		{"plugin refusal, after the service account noise", string(refused),
			"[output:http:http.0] invalid compress option 'bogus'; [output] failed to initialize 'http' plugin"},
		{"no plugin line before the failure",
			"[2026/12/04 22:02:36.444] [error] [engine] output initialization failed\n", "[engine] output initialization failed"},
		{"an error without an initialisation failure",
			"[2026/12/04 22:02:36.443] [error] [tls] could not create TLS backend\n[2026/12/04 22:02:36.444] [error] [config] section 'x' tried to instance a plugin name that does not exist\n",
			"[config] section 'x' tried to instance a plugin name that does not exist"},
		{"only warnings", "[2026/12/04 22:02:36.444] [ warn] [engine] something\n", ""},
		{"not a log", "panic: runtime error", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := ErrorLine(tc.log); got != tc.want {
				t.Errorf("ErrorLine = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestJudge(t *testing.T) {
	now := time.Date(2026, 12, 4, 22, 0, 0, 0, time.UTC)
	ago := func(d time.Duration) metav1.Time { return metav1.NewTime(now.Add(-d)) }
	timing := Timing{Settle: 3 * time.Second, Ready: 30 * time.Second, Start: 90 * time.Second}
	pod := func(created time.Duration, phase corev1.PodPhase, cs ...corev1.ContainerStatus) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{CreationTimestamp: ago(created)},
			Status: corev1.PodStatus{Phase: phase, ContainerStatuses: cs}}
	}
	running := func(started time.Duration, ready bool) corev1.ContainerStatus {
		return corev1.ContainerStatus{Name: "fluent-bit", Ready: ready,
			State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: ago(started)}}}
	}
	exited := func(code int32, msg string) corev1.ContainerStatus {
		return corev1.ContainerStatus{Name: "fluent-bit",
			State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: code, Reason: "Error", Message: msg}}}
	}
	waiting := func(reason string) corev1.ContainerStatus {
		return corev1.ContainerStatus{Name: "fluent-bit", State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason, Message: "m"}}}
	}
	readyFor := func(p *corev1.Pod, d time.Duration) *corev1.Pod {
		p.Status.Conditions = []corev1.PodCondition{{Type: corev1.ContainersReady, Status: corev1.ConditionTrue, LastTransitionTime: ago(d)}}
		return p
	}
	errLog := "[2026/12/04 22:02:36.444] [error] [output:http:lp_x] invalid http_method option 'BOGUS'. Supported methods are POST and PUT\n" +
		"[2026/12/04 22:02:36.444] [error] [output] failed to initialize 'http' plugin\n"
	for _, tc := range []struct {
		name    string
		pod     *corev1.Pod
		want    Outcome
		message string
	}{
		{"no pod yet", nil, Pending, ""},
		{"created, not started", pod(time.Second, corev1.PodPending), Pending, ""},
		{"never started", pod(91*time.Second, corev1.PodPending), Inconclusive, "canary pod did not start within 1m30s"},
		{"image cannot be pulled", pod(5*time.Second, corev1.PodPending, waiting("ImagePullBackOff")), Inconclusive,
			"canary container cannot start: ImagePullBackOff: m"},
		{"still initialising", pod(2*time.Second, corev1.PodRunning, running(time.Second, false)), Pending, ""},
		{"ready, not settled", readyFor(pod(2*time.Second, corev1.PodRunning, running(2*time.Second, true)), time.Second), Pending, ""},
		{"ready and settled", readyFor(pod(5*time.Second, corev1.PodRunning, running(5*time.Second, true)), 3*time.Second), Passed, ""},
		{"ready, no condition: since the start", pod(5*time.Second, corev1.PodRunning, running(4*time.Second, true)), Passed, ""},
		{"never ready", pod(40*time.Second, corev1.PodRunning, running(31*time.Second, false)), Refused,
			"Fluent Bit did not report healthy within 30s of starting"},
		{"exited with its error", pod(3*time.Second, corev1.PodFailed, exited(255, errLog)), Refused,
			"[output:http:lp_x] invalid http_method option 'BOGUS'. Supported methods are POST and PUT; [output] failed to initialize 'http' plugin"},
		{"exited without a log", pod(3*time.Second, corev1.PodFailed, exited(139, "")), Refused, "Fluent Bit exited with code 139 (Error)"},
		{"exited after being ready", readyFor(pod(9*time.Second, corev1.PodFailed, exited(1, "")), 8*time.Second), Refused,
			"Fluent Bit exited with code 1 (Error)"},
		{"evicted before it ran", &corev1.Pod{Status: corev1.PodStatus{Phase: corev1.PodFailed, Reason: "Evicted", Message: "low memory"}},
			Inconclusive, "canary pod Failed: Evicted low memory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Judge(tc.pod, "fluent-bit", now, timing)
			if got.Outcome != tc.want || got.Message != tc.message {
				t.Errorf("Judge = %v %q, want %v %q", got.Outcome, got.Message, tc.want, tc.message)
			}
		})
	}
}
