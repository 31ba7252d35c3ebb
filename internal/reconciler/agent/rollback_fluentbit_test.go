package agent

import (
	"context"
	"crypto/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/logplane/logplane/test/fbrun"
)

// kubeletTail is what the kubelet keeps of a failed container's log as its
// termination message under FallbackToLogsOnError: the last 80 lines, at most
// 2048 bytes.
func kubeletTail(log string) string {
	lines := strings.Split(strings.TrimRight(log, "\n"), "\n")
	if len(lines) > 80 {
		lines = lines[len(lines)-80:]
	}
	out := strings.Join(lines, "\n")
	if len(out) > 2048 {
		out = out[len(out)-2048:]
	}
	return out
}

// The real Fluent Bit, started on a node whose positions database for a tail input is
// not a database (what the canary, on an empty directory, cannot see), exits; the
// tail of its log, as the kubelet keeps it for the agent container, carries the error
// that judgeRollout reports for the node.
func TestRollbackCauseFromTheRealFluentBit(t *testing.T) {
	bin := fbrun.Binary(t)
	dir := t.TempDir()
	junk := make([]byte, 8192)
	_, _ = rand.Read(junk)
	if err := os.WriteFile(filepath.Join(dir, "hostfiles.db"), junk, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := "pipeline:\n  inputs:\n    - name: tail\n      path: " + filepath.Join(dir, "*.log") + "\n      db: " + filepath.Join(dir, "hostfiles.db") +
		"\n  outputs:\n    - name: null\n      match: '*'\n"
	if err := os.WriteFile(filepath.Join(dir, "fluent-bit.yaml"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, "-c", filepath.Join(dir, "fluent-bit.yaml")).CombinedOutput()
	exit, ok := err.(*exec.ExitError)
	if !ok {
		t.Fatalf("Fluent Bit did not exit with an error (%v); log:\n%s", err, out)
	}
	now := time.Now()
	cs := func(s *corev1.ContainerStatus) {
		s.RestartCount = 2
		s.State.Waiting = &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}
		s.LastTerminationState.Terminated = &corev1.ContainerStateTerminated{ExitCode: int32(exit.ExitCode()), Reason: "Error",
			Message: kubeletTail(string(out))}
	}
	v := judgeRollout(rolloutDS("N", 1, 1, 0), []corev1.Pod{agentPod("a", "node-7", "N", cs)}, now, DefaultRolloutDeadline)
	t.Logf("cause: %s", v.cause)
	if v.outcome != rolloutFailed || v.nodes[0] != "node-7" || !strings.Contains(v.cause, "could not open/create database") {
		t.Errorf("verdict %d on %v: %q", v.outcome, v.nodes, v.cause)
	}
}
