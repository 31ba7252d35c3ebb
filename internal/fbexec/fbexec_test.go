package fbexec_test

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/logplane/logplane/test/fbrun"
)

// containerd 2.x gives containers 1024 soft and 524288 hard open files; a hard limit
// above this machine's needs CAP_SYS_RESOURCE, so the tests use the lower of the two.
const containerdSoft, containerdHard = 1024, 524288

func hardLimit(t *testing.T) uint64 {
	t.Helper()
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		t.Fatal(err)
	}
	if l.Max <= containerdSoft {
		t.Skipf("the hard open-files limit here is %d: nothing to raise to", l.Max)
	}
	return min(l.Max, containerdHard)
}

// underContainerdLimits runs argv with containerd's soft limit and the hard limit.
func underContainerdLimits(t *testing.T, hard uint64, argv ...string) *exec.Cmd {
	t.Helper()
	if _, err := exec.LookPath("prlimit"); err != nil {
		t.Skip("prlimit (util-linux) not found")
	}
	return exec.Command("prlimit", append([]string{fmt.Sprintf("--nofile=%d:%d", containerdSoft, hard)}, argv...)...)
}

// softOpenFiles reads the soft "Max open files" of a /proc/<pid>/limits text.
func softOpenFiles(t *testing.T, limits string) uint64 {
	t.Helper()
	for line := range strings.Lines(limits) {
		if f := strings.Fields(strings.TrimPrefix(line, "Max open files")); len(f) >= 2 && strings.HasPrefix(line, "Max open files") {
			n, err := strconv.ParseUint(f[0], 10, 64)
			if err != nil {
				t.Fatalf("%q: %v", line, err)
			}
			return n
		}
	}
	t.Fatalf("no open files line in\n%s", limits)
	return 0
}

// The program fbexec execs has the soft limit raised to the hard one, while the same
// program started directly keeps containerd's 1024.
func TestExecRaisesSoftLimitToHard(t *testing.T) {
	hard := hardLimit(t)
	bin := fbrun.FBExec(t)
	out, err := underContainerdLimits(t, hard, bin, "--", "/bin/cat", "/proc/self/limits").Output()
	if err != nil {
		t.Fatal(err)
	}
	if got := softOpenFiles(t, string(out)); got != hard {
		t.Errorf("through fbexec: soft open files %d, want the hard limit %d", got, hard)
	}
	out, err = underContainerdLimits(t, hard, "/bin/cat", "/proc/self/limits").Output()
	if err != nil {
		t.Fatal(err)
	}
	if got := softOpenFiles(t, string(out)); got != containerdSoft {
		t.Errorf("directly: soft open files %d, want %d", got, containerdSoft)
	}
}

// Why fbexec calls Setrlimit although the Go runtime raises its own soft limit at
// start: Go restores the original limit in the programs it execs. This test binary,
// run again as a plain Go program that execs cat without calling Setrlimit, hands
// cat containerd's 1024.
func TestGoRestoresTheLimitOnExecWithoutSetrlimit(t *testing.T) {
	if os.Getenv("FBEXEC_TEST_PLAIN_EXEC") == "1" {
		err := syscall.Exec("/bin/cat", []string{"cat", "/proc/self/limits"}, os.Environ())
		t.Fatal(err)
	}
	hard := hardLimit(t)
	cmd := underContainerdLimits(t, hard, os.Args[0], "-test.run=^TestGoRestoresTheLimitOnExecWithoutSetrlimit$")
	cmd.Env = append(os.Environ(), "FBEXEC_TEST_PLAIN_EXEC=1")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if got := softOpenFiles(t, string(out)); got != containerdSoft {
		t.Errorf("a Go program's exec'd child: soft open files %d, want the original %d", got, containerdSoft)
	}
}

// manyWorkers is a configuration whose 128 output worker threads need about 1,250
// open files (measured on Fluent Bit 5.1.1): more than containerd's soft 1024.
func manyWorkers(t *testing.T) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("service:\n  flush: 1\n  log_level: info\npipeline:\n  inputs:\n    - name: dummy\n  outputs:\n")
	for range 16 {
		b.WriteString("    - name: null\n      match: '*'\n      workers: 8\n")
	}
	path := filepath.Join(t.TempDir(), "fluent-bit.yaml")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// Under containerd's limits the real Fluent Bit stops at start with "Too many open
// files" on a configuration that, started through fbexec, runs: as the same process
// (fbexec execs it), with the raised soft limit in /proc/<pid>/limits and more than
// 1024 files open.
func TestFluentBitStartsThroughExecWhereItRunsOutOfFiles(t *testing.T) {
	fb := fbrun.Binary(t)
	hard := hardLimit(t)
	cfg := manyWorkers(t)

	direct := underContainerdLimits(t, hard, fb, "-c", cfg)
	var log bytes.Buffer
	direct.Stdout, direct.Stderr = &log, &log
	if err := direct.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- direct.Wait() }()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(log.String(), "Too many open files") {
			t.Fatalf("directly under %d open files: exited with %v and no \"Too many open files\":\n%s", containerdSoft, err, log.String())
		}
	case <-time.After(10 * time.Second):
		_ = direct.Process.Kill()
		t.Fatalf("directly under %d open files Fluent Bit kept running: the configuration must need more", containerdSoft)
	}

	wrapped := underContainerdLimits(t, hard, fbrun.FBExec(t), "--", fb, "-c", cfg)
	var wlog fbrun.Buffer
	wrapped.Stdout, wrapped.Stderr = &wlog, &wlog
	if err := wrapped.Start(); err != nil {
		t.Fatal(err)
	}
	pid := wrapped.Process.Pid
	exited := make(chan error, 1)
	go func() { exited <- wrapped.Wait() }()
	defer func() {
		_ = wrapped.Process.Kill()
		<-exited
	}()
	// Started once its last worker is up; then it must still run.
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) && strings.Count(wlog.String(), "started") < 128 {
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(time.Second)
	select {
	case err := <-exited:
		exited <- err
		t.Fatalf("through fbexec Fluent Bit exited: %v\n%s", err, wlog.String())
	default:
	}
	comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	limits, err := os.ReadFile(fmt.Sprintf("/proc/%d/limits", pid))
	if err != nil {
		t.Fatal(err)
	}
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		t.Fatal(err)
	}
	if strings.TrimSpace(string(comm)) != "fluent-bit" {
		t.Errorf("process %d is %q, want fluent-bit (fbexec execs it)", pid, comm)
	}
	if got := softOpenFiles(t, string(limits)); got != hard {
		t.Errorf("Fluent Bit's soft open files %d, want %d", got, hard)
	}
	if len(fds) <= containerdSoft || strings.Contains(wlog.String(), "Too many open files") {
		t.Errorf("through fbexec: %d open files, log:\n%s", len(fds), wlog.String())
	}
	t.Logf("through fbexec: %d open files under a soft limit of %d", len(fds), hard)
	if err := wrapped.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		exited <- err
		if err != nil {
			t.Errorf("Fluent Bit did not stop cleanly on SIGTERM sent to fbexec's pid: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Errorf("Fluent Bit did not stop within 15s of SIGTERM")
	}
}

// Install copies the running binary, executable, and replaces what was there.
func TestInstall(t *testing.T) {
	bin := fbrun.FBExec(t)
	dst := filepath.Join(t.TempDir(), "fbexec")
	if err := os.WriteFile(dst, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(bin, "install", dst).CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	want, _ := os.ReadFile(bin)
	got, err := os.ReadFile(dst)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("installed copy differs from the binary (%d of %d bytes): %v", len(got), len(want), err)
	}
	if fi, _ := os.Stat(dst); fi.Mode().Perm() != 0o755 {
		t.Errorf("mode %v, want 0755", fi.Mode().Perm())
	}
	entries, _ := os.ReadDir(filepath.Dir(dst))
	if len(entries) != 1 {
		t.Errorf("left behind: %v", entries)
	}
	if out, err := exec.Command(bin, "install", filepath.Join(t.TempDir(), "missing", "fbexec")).CombinedOutput(); err == nil {
		t.Errorf("install into a missing directory succeeded: %s", out)
	}
}
