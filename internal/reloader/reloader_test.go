package reloader

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-logr/logr"
)

// swap updates dir the way the kubelet updates a Secret volume: write a new
// timestamped directory, point a temporary symlink at it, rename it over ..data.
func swap(t *testing.T, dir, content string) {
	t.Helper()
	ts, err := os.MkdirTemp(dir, "..2026_12_05_")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(ts, "fluent-bit.yaml"), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(ts, "outputs-000.yaml"), []byte("# outputs of "+content), 0o644); err != nil {
		t.Fatal(err)
	}
	tmp := filepath.Join(dir, "..data_tmp")
	if err := os.Symlink(filepath.Base(ts), tmp); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, "..data")); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"fluent-bit.yaml", "outputs-000.yaml"} {
		if _, err := os.Lstat(filepath.Join(dir, name)); err != nil {
			if err := os.Symlink(filepath.Join("..data", name), filepath.Join(dir, name)); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// fakeFluentBit behaves as Fluent Bit 5.1.1 does (measured; see the test against the
// real one), deciding by the content of the main file it reads from the run
// directory: "bad-exit" fails plugin initialisation (a reload exits the process, a
// start crashes), "bad-halt" fails to parse (a reload is halted, a start crashes),
// "hang" makes a reload hang, "hang-bad" hangs a reload and crashes a start. A
// stand-in kubelet starts it again 20 ms after it ends.
type fakeFluentBit struct {
	etc string

	mu      sync.Mutex
	pid     int
	nextPID int
	up      bool
	count   int64
	since   time.Time
	reloads int
	starts  int
	closed  bool
	// ran is every configuration a started process came up on.
	ran []string
}

func newFake(t *testing.T, etc string) *fakeFluentBit {
	f := &fakeFluentBit{etc: etc, nextPID: 100}
	t.Cleanup(func() { f.mu.Lock(); f.closed = true; f.mu.Unlock() })
	return f
}

func (f *fakeFluentBit) config() string {
	b, _ := os.ReadFile(filepath.Join(f.etc, "fluent-bit.yaml"))
	return string(b)
}

// start is the kubelet starting the container.
func (f *fakeFluentBit) start() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return
	}
	f.starts++
	f.nextPID++
	cfg := f.config()
	if strings.HasPrefix(cfg, "bad") || strings.HasSuffix(cfg, "-bad") {
		f.pid, f.up = 0, false
		time.AfterFunc(20*time.Millisecond, f.start)
		return
	}
	f.pid, f.up, f.count, f.since = f.nextPID, true, 0, time.Now()
	f.ran = append(f.ran, cfg)
}

func (f *fakeFluentBit) end() {
	f.pid, f.up = 0, false
	time.AfterFunc(20*time.Millisecond, f.start)
}

func (f *fakeFluentBit) Probe(context.Context) Probe {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.pid == 0 || !f.up {
		return Probe{}
	}
	return Probe{Up: true, Count: f.count, Uptime: int64(time.Since(f.since).Seconds())}
}

func (f *fakeFluentBit) Reload(context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reloads++
	switch cfg := f.config(); {
	case cfg == "bad-exit":
		f.end()
	case cfg == "bad-halt":
	case strings.HasPrefix(cfg, "hang"):
		f.up = false
	default:
		f.count++
		f.since = time.Now()
		f.ran = append(f.ran, cfg)
	}
	return nil
}

func (f *fakeFluentBit) PID() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.pid
}

func (f *fakeFluentBit) Terminate(pid int) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if pid == f.pid {
		f.end()
	}
	return nil
}

func (f *fakeFluentBit) last() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.ran) == 0 {
		return ""
	}
	return f.ran[len(f.ran)-1]
}

func testOptions(src, run string) Options {
	return Options{SourceDir: src, RunDir: run, Debounce: 50 * time.Millisecond, Timeout: time.Second,
		Settle: 100 * time.Millisecond, Poll: 10 * time.Millisecond}
}

// harness starts a reloader over a Secret directory holding initial and a fake
// Fluent Bit started on what the reloader staged.
func harness(t *testing.T, initial string) (*Reloader, *fakeFluentBit, string) {
	t.Helper()
	src, run := t.TempDir(), t.TempDir()
	swap(t, src, initial)
	fb := newFake(t, ConfigDir(run))
	r := New(testOptions(src, run), fb, logr.Discard())
	r.attempts = make(chan Attempt, 10)
	runReloader(t, r)
	waitFor(t, "staged", func() bool { _, staged := r.Status(); return staged })
	fb.start()
	return r, fb, src
}

func runReloader(t *testing.T, r *Reloader) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if ok() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

func nextAttempt(t *testing.T, r *Reloader) Attempt {
	t.Helper()
	select {
	case a := <-r.attempts:
		return a
	case <-time.After(10 * time.Second):
		t.Fatal("no attempt")
		return Attempt{}
	}
}

func noAttempt(t *testing.T, r *Reloader, why string) {
	t.Helper()
	select {
	case a := <-r.attempts:
		t.Fatalf("%s: unexpected attempt %+v", why, a)
	case <-time.After(300 * time.Millisecond):
	}
}

func ready(t *testing.T, r *Reloader) int {
	t.Helper()
	rec := httptest.NewRecorder()
	r.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, ReadyPath, nil))
	return rec.Code
}

func TestBurstOfSwapsIsOneReload(t *testing.T) {
	r, fb, src := harness(t, "good 0")
	for i := 1; i <= 5; i++ {
		swap(t, src, "good "+strconv.Itoa(i))
		time.Sleep(10 * time.Millisecond)
	}
	if a := nextAttempt(t, r); a.Outcome != Applied {
		t.Fatalf("attempt %+v", a)
	}
	noAttempt(t, r, "a burst of swaps")
	if fb.reloads != 1 || fb.last() != "good 5" {
		t.Fatalf("reloads %d, running %q; want 1, the last swap", fb.reloads, fb.last())
	}
}

// The chain of verdicts, each with what Fluent Bit runs afterwards and whether the
// version is held back.
func TestRefusedConfigurationIsRestoredAndHeldBack(t *testing.T) {
	for _, tc := range []struct {
		content, reason string
		// restarts: starts of Fluent Bit the attempt causes.
		minStarts int
	}{
		{"bad-exit", ReasonExited, 1},
		{"bad-halt", ReasonHalted, 0},
		{"hang-bad", ReasonNotStarted, 1},
	} {
		t.Run(tc.content, func(t *testing.T) {
			r, fb, src := harness(t, "good 0")
			swap(t, src, tc.content)
			a := nextAttempt(t, r)
			if a.Outcome != Refused {
				t.Fatalf("attempt %+v, want refused", a)
			}
			st, _ := r.Status()
			if st.Refused != Files(map[string][]byte{"fluent-bit.yaml": []byte(tc.content), "outputs-000.yaml": []byte("# outputs of " + tc.content)}).Version() ||
				st.Reason != tc.reason || st.Message == "" || st.AttemptedAt == nil {
				t.Fatalf("status %+v", st)
			}
			if fb.PID() == 0 || fb.last() != "good 0" || fb.config() != "good 0" {
				t.Fatalf("Fluent Bit runs %q (pid %d), reads %q; want the previous configuration", fb.last(), fb.PID(), fb.config())
			}
			if got, _ := os.ReadFile(filepath.Join(ConfigDir(r.opts.RunDir), "outputs-000.yaml")); string(got) != "# outputs of good 0" {
				t.Fatalf("included file %q not restored", got)
			}
			if _, err := os.Stat(r.stage.prev()); !os.IsNotExist(err) {
				t.Error("the refused files are kept")
			}
			if code := ready(t, r); code != http.StatusServiceUnavailable {
				t.Errorf("readiness %d while a version is held back", code)
			}

			// The same files again (a resync, an unrelated swap) are not tried again.
			swap(t, src, tc.content)
			noAttempt(t, r, "the refused version again")

			// The next change goes through and clears the refusal.
			swap(t, src, "good 1")
			if a := nextAttempt(t, r); a.Outcome != Applied {
				t.Fatalf("attempt %+v", a)
			}
			if st, _ := r.Status(); st.Refused != "" || st.Running == "" || fb.last() != "good 1" {
				t.Fatalf("status %+v, running %q", st, fb.last())
			}
			if code := ready(t, r); code != http.StatusOK {
				t.Errorf("readiness %d after a good change", code)
			}
		})
	}
}

func TestHungReloadRestartsOnTheNewFiles(t *testing.T) {
	r, fb, src := harness(t, "good 0")
	swap(t, src, "hang then good")
	if a := nextAttempt(t, r); a.Outcome != Applied {
		t.Fatalf("attempt %+v", a)
	}
	if fb.last() != "hang then good" {
		t.Fatalf("runs %q", fb.last())
	}
}

func TestSecretBackAtTheRunningVersionClearsTheRefusal(t *testing.T) {
	r, _, src := harness(t, "good 0")
	swap(t, src, "bad-exit")
	if a := nextAttempt(t, r); a.Outcome != Refused {
		t.Fatalf("attempt %+v", a)
	}
	swap(t, src, "good 0")
	waitFor(t, "refusal cleared", func() bool { st, _ := r.Status(); return st.Refused == "" })
	noAttempt(t, r, "the running version")
}

// A reloader that restarts keeps what Fluent Bit runs, remembers what it refused, and
// goes back to the previous files when it ended before a verdict.
func TestRestartedReloaderResumes(t *testing.T) {
	src, run := t.TempDir(), t.TempDir()
	swap(t, src, "good 0")
	st := stage{dir: run}
	if err := st.install(Files{"fluent-bit.yaml": []byte("good 0")}); err != nil {
		t.Fatal(err)
	}
	// Ended between install and verdict: etc/ holds unverified files.
	if err := st.install(Files{"fluent-bit.yaml": []byte("unverified")}); err != nil {
		t.Fatal(err)
	}
	refused := Files{"fluent-bit.yaml": []byte("bad-exit")}.Version()
	b, _ := json.Marshal(Status{Refused: refused, Reason: ReasonExited, Message: "m"})
	if err := os.WriteFile(filepath.Join(run, "state.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	r := New(testOptions(src, run), newFake(t, ConfigDir(run)), logr.Discard())
	if err := r.init(); err != nil {
		t.Fatal(err)
	}
	s, staged := r.Status()
	if !staged || s.Running != (Files{"fluent-bit.yaml": []byte("good 0")}).Version() || s.Refused != refused {
		t.Fatalf("status %+v", s)
	}
}

func TestFilesOtherThanTheSwapAreIgnored(t *testing.T) {
	r, fb, src := harness(t, "good 0")
	if err := os.WriteFile(filepath.Join(src, "unrelated"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	noAttempt(t, r, "an unrelated file")
	if fb.reloads != 0 {
		t.Fatal("unexpected reload")
	}
}

func TestStatusWaitsForTheStagedConfiguration(t *testing.T) {
	r := New(testOptions(t.TempDir(), t.TempDir()), nil, logr.Discard())
	rec := httptest.NewRecorder()
	r.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, StatusPath, nil))
	if rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("status %d before staging", rec.Code)
	}
}

func TestProcessFindsItsFluentBitByNameAndConfig(t *testing.T) {
	child := exec.Command("sleep", "30")
	if err := child.Start(); err != nil {
		t.Fatal("no sleep binary:", err)
	}
	// A fake /proc: the child as Fluent Bit on our configuration, another Fluent Bit
	// on another, and an unrelated process.
	proc := t.TempDir()
	for pid, p := range map[int][2]string{
		child.Process.Pid: {"fluent-bit", "/fluent-bit/bin/fluent-bit\x00-c\x00/run/etc/fluent-bit.yaml\x00"},
		7:                 {"fluent-bit", "fluent-bit\x00-c\x00/elsewhere.yaml\x00"},
		1:                 {"pause", "/pause\x00"},
	} {
		dir := filepath.Join(proc, strconv.Itoa(pid))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for name, content := range map[string]string{"comm": p[0] + "\n", "cmdline": p[1], "stat": strconv.Itoa(pid) + " (" + p[0] + ") S 1"} {
			if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	p := Process{Name: "fluent-bit", Config: "/run/etc/fluent-bit.yaml", Proc: proc}
	pid := p.PID()
	if pid != child.Process.Pid {
		t.Fatalf("pid %d, want %d", pid, child.Process.Pid)
	}
	if err := p.Terminate(pid); err != nil {
		t.Fatal(err)
	}
	err := child.Wait()
	if status, ok := err.(*exec.ExitError); !ok || status.ProcessState.Sys().(syscall.WaitStatus).Signal() != syscall.SIGTERM {
		t.Fatalf("child ended with %v, want SIGTERM", err)
	}
	if (Process{Name: "fluent-bit", Config: "/run/etc/fluent-bit.yaml", Proc: t.TempDir()}).PID() != 0 {
		t.Fatal("found a Fluent Bit in an empty /proc")
	}
}

func TestVersionChangesWithAnyByte(t *testing.T) {
	a := Files{"a": []byte("xy"), "b": []byte("z")}
	for _, other := range []Files{
		{"a": []byte("x"), "b": []byte("yz")},
		{"a": []byte("xy"), "c": []byte("z")},
		{"a": []byte("xy")},
	} {
		if a.Version() == other.Version() {
			t.Errorf("%v and %v share a version", a, other)
		}
	}
	if a.Version() != (Files{"b": []byte("z"), "a": []byte("xy")}).Version() {
		t.Error("version depends on order")
	}
}

// A reloader stopped before its verdict refuses nothing and keeps the previous files,
// which its next start goes back to.
func TestStoppingBeforeAVerdictRefusesNothing(t *testing.T) {
	src, run := t.TempDir(), t.TempDir()
	swap(t, src, "good 0")
	fb := newFake(t, ConfigDir(run))
	opts := testOptions(src, run)
	opts.Timeout = time.Minute
	r := New(opts, fb, logr.Discard())
	r.attempts = make(chan Attempt, 10)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	waitFor(t, "staged", func() bool { _, staged := r.Status(); return staged })
	fb.start()
	swap(t, src, "hang")
	waitFor(t, "the reload", func() bool { fb.mu.Lock(); defer fb.mu.Unlock(); return fb.reloads == 1 })
	cancel()
	if a := nextAttempt(t, r); a.Outcome != Interrupted {
		t.Fatalf("attempt %+v", a)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if st, _ := r.Status(); st.Refused != "" {
		t.Fatalf("status %+v", st)
	}
	if _, err := os.Stat(r.stage.prev()); err != nil {
		t.Fatal("the previous files are not kept for the next start")
	}
}

// A refusal outlives the pod on its node: a new pod (a fresh run directory) whose
// Secret still holds the refused version starts Fluent Bit on the files that ran on
// the node instead, holding the refused version back; a Secret with another version
// is staged as it is, and the node forgets the refusal.
func TestNewPodOnTheNodeKeepsTheRefusal(t *testing.T) {
	src, state := t.TempDir(), t.TempDir()
	swap(t, src, "good 0")
	newPod := func() (*Reloader, *fakeFluentBit) {
		run := t.TempDir()
		opts := testOptions(src, run)
		opts.StateDir = state
		fb := newFake(t, ConfigDir(run))
		r := New(opts, fb, logr.Discard())
		r.attempts = make(chan Attempt, 10)
		runReloader(t, r)
		waitFor(t, "staged", func() bool { _, staged := r.Status(); return staged })
		fb.start()
		return r, fb
	}
	r, _ := newPod()
	swap(t, src, "bad-exit")
	if a := nextAttempt(t, r); a.Outcome != Refused {
		t.Fatalf("attempt %+v", a)
	}
	refused, _ := r.Status()

	r2, fb2 := newPod()
	st, _ := r2.Status()
	if fb2.last() != "good 0" || st.Running != refused.Running || st.Refused != refused.Refused || st.Reason != ReasonExited {
		t.Fatalf("new pod: Fluent Bit runs %q, status %+v; want good 0 with %s held back", fb2.last(), st, refused.Refused)
	}
	if !strings.HasPrefix(st.Message, refusedBeforePrefix) || !strings.HasSuffix(st.Message, refused.Message) {
		t.Errorf("message %q does not say an earlier pod refused it", st.Message)
	}
	if code := ready(t, r2); code != http.StatusServiceUnavailable {
		t.Errorf("readiness %d while the node holds a version back", code)
	}
	noAttempt(t, r2, "the version refused on the node")

	// The next version clears the refusal on the node: a pod after it stages the Secret.
	swap(t, src, "good 1")
	if a := nextAttempt(t, r2); a.Outcome != Applied {
		t.Fatalf("attempt %+v", a)
	}
	_, fb3 := newPod()
	if fb3.last() != "good 1" {
		t.Fatalf("a pod after the refusal ended runs %q", fb3.last())
	}
}

// Without a state directory nothing is kept: a new pod stages the Secret as it is.
func TestNewPodWithoutStateDirStagesTheSecret(t *testing.T) {
	r, _, src := harness(t, "good 0")
	swap(t, src, "bad-halt")
	if a := nextAttempt(t, r); a.Outcome != Refused {
		t.Fatalf("attempt %+v", a)
	}
	run := t.TempDir()
	r2 := New(testOptions(src, run), newFake(t, ConfigDir(run)), logr.Discard())
	if err := r2.init(); err != nil {
		t.Fatal(err)
	}
	if st, _ := r2.Status(); st.Refused != "" || st.Running != r.status.Refused {
		t.Fatalf("status %+v; want the Secret's version staged", st)
	}
}
