package reloader

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr/testr"

	"github.com/logplane/logplane/internal/canary"
	"github.com/logplane/logplane/test/fbrun"
)

// kubelet starts Fluent Bit on the reloader's configuration, and again whenever it
// ends, as the kubelet does for the agent container. It keeps each run's log.
type kubelet struct {
	mu   sync.Mutex
	runs []*run
}

type run struct {
	log  bytes.Buffer
	exit error
	done bool
}

func (k *kubelet) start(t *testing.T, bin, config string, delay time.Duration) {
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		for ctx.Err() == nil {
			cmd := exec.Command(bin, "-c", config)
			r := &run{}
			cmd.Stdout, cmd.Stderr = &syncWriter{mu: &k.mu, w: &r.log}, &syncWriter{mu: &k.mu, w: &r.log}
			k.mu.Lock()
			k.runs = append(k.runs, r)
			k.mu.Unlock()
			if err := cmd.Start(); err != nil {
				t.Error(err)
				return
			}
			ended := make(chan error, 1)
			go func() { ended <- cmd.Wait() }()
			select {
			case err := <-ended:
				k.mu.Lock()
				r.exit, r.done = err, true
				k.mu.Unlock()
			case <-ctx.Done():
				_ = cmd.Process.Kill()
				<-ended
				return
			}
			select {
			case <-ctx.Done():
			case <-time.After(delay):
			}
		}
	}()
	t.Cleanup(func() { cancel(); <-stopped })
}

// ended returns the runs that ended, with their logs.
func (k *kubelet) ended() []run {
	k.mu.Lock()
	defer k.mu.Unlock()
	var out []run
	for _, r := range k.runs {
		if r.done {
			out = append(out, run{exit: r.exit, done: true, log: *bytes.NewBufferString(r.log.String())})
		}
	}
	return out
}

type syncWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func countLines(path string) int {
	b, _ := os.ReadFile(path)
	return bytes.Count(b, []byte("\n"))
}

// The reloader against the real Fluent Bit: a configuration that --dry-run accepts but
// whose output fails to initialise is refused on a hot reload; the reloader restores
// the previous files, Fluent Bit runs the previous pipeline and delivers records, the
// refusal is reported and held back, and the next good configuration goes through.
func TestRealFluentBitRefusedReloadIsRestored(t *testing.T) {
	bin := fbrun.Binary(t)
	for _, tc := range []struct {
		name  string
		delay time.Duration
	}{
		// A kubelet that starts the ended container again at once, before the
		// reloader restores the files: the restart crashes on the refused files, and
		// the reloader must still bring Fluent Bit back on the previous ones.
		{"kubelet restarts at once", 0},
		// The kubelet notices an exit on its next relist, about a second later.
		{"kubelet restarts after 1s", time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) { testRefusedReload(t, bin, tc.delay) })
	}
}

func testRefusedReload(t *testing.T, bin string, kubeletDelay time.Duration) {
	port := freePort(t)
	out := t.TempDir()
	config := func(name, extra string) string { return testConfig(port, out, name, extra) }
	good0, good1 := config("v0", ""), config("v1", "")
	// Passes --dry-run; fails at plugin initialisation.
	bad := config("bad", "    - name: http\n      match: d\n      host: 127.0.0.1\n      port: 9\n      compress: bogus\n")
	if outp, err := exec.Command(bin, "--dry-run", "-c", writeTemp(t, bad)).CombinedOutput(); err != nil {
		t.Fatalf("the bad configuration must pass --dry-run: %v\n%s", err, outp)
	}

	src, runDir := t.TempDir(), t.TempDir()
	swap(t, src, good0)
	main := filepath.Join(ConfigDir(runDir), "fluent-bit.yaml")
	fb := Process{URL: fmt.Sprintf("http://127.0.0.1:%d", port), Name: "fluent-bit", Config: main, Proc: "/proc",
		Client: &http.Client{Timeout: time.Second}}
	r := New(Options{SourceDir: src, RunDir: runDir, Debounce: 100 * time.Millisecond, Timeout: 10 * time.Second,
		Settle: 2 * time.Second, Poll: 50 * time.Millisecond}, fb, testr.New(t))
	r.attempts = make(chan Attempt, 10)
	runReloader(t, r)
	waitFor(t, "staged", func() bool { _, staged := r.Status(); return staged })
	k := &kubelet{}
	k.start(t, bin, main, kubeletDelay)
	waitFor(t, "records of v0", func() bool { return countLines(filepath.Join(out, "v0.log")) > 5 })

	swap(t, src, bad)
	a := nextAttempt(t, r)
	if a.Outcome != Refused {
		t.Fatalf("attempt %+v, want refused", a)
	}
	t.Logf("refused reload: verdict %d ms after the reload request; Fluent Bit answered on the previous configuration %d ms after the verdict", a.VerifiedMillis, a.RestoredMillis)
	st, _ := r.Status()
	if st.Refused == "" || st.Reason != ReasonExited {
		t.Fatalf("status %+v", st)
	}
	if b, _ := os.ReadFile(main); string(b) != good0 {
		t.Fatalf("Fluent Bit reads\n%s\nwant the previous configuration", b)
	}
	// What Fluent Bit 5.1.1 does on a failed hot reload: logs the plugin's error, then
	// exits with an error code.
	ended := k.ended()
	if len(ended) == 0 || !strings.Contains(ended[0].log.String(), "reloading is aborted and exit") {
		t.Fatalf("Fluent Bit did not end after the failed reload (%d runs ended)", len(ended))
	}
	// The kubelet keeps the log of the last run that ended as the container's
	// termination message, and only for an error exit: whichever run that was (the
	// reload, or a start on the refused files), it names Fluent Bit's error.
	last := ended[len(ended)-1]
	var ee *exec.ExitError
	if !errors.As(last.exit, &ee) || ee.ExitCode() == 0 {
		t.Fatalf("last run ended with %v; the kubelet keeps its log only for an error exit", last.exit)
	}
	t.Logf("%d runs ended; the last with code %d", len(ended), ee.ExitCode())
	if got := canary.ErrorLine(last.log.String()); !strings.Contains(got, "invalid compress option 'bogus'") {
		t.Fatalf("error line %q from log:\n%s", got, last.log.String())
	}
	// The previous pipeline delivers.
	before := countLines(filepath.Join(out, "v0.log"))
	waitFor(t, "records after the restore", func() bool { return countLines(filepath.Join(out, "v0.log")) > before+10 })

	// Not tried again while the Secret holds it.
	swap(t, src, bad)
	noAttempt(t, r, "the refused version again")

	swap(t, src, good1)
	a = nextAttempt(t, r)
	if a.Outcome != Applied {
		t.Fatalf("attempt %+v", a)
	}
	t.Logf("good reload: hot_reload_count rose %d ms after the reload request, verified at %d ms (%s of settling)", a.ReloadedMillis, a.VerifiedMillis, r.opts.Settle)
	waitFor(t, "records of v1", func() bool { return countLines(filepath.Join(out, "v1.log")) > 5 })
	if st, _ := r.Status(); st.Refused != "" {
		t.Fatalf("status %+v", st)
	}
}

// testConfig reads dummy records at 20/s into out/<name>.log, with extra outputs.
func testConfig(port int, out, name, extra string) string {
	return fmt.Sprintf(`service:
  flush: 1
  log_level: warn
  http_server: on
  http_listen: 127.0.0.1
  http_port: %d
  health_check: on
  hot_reload: on
pipeline:
  inputs:
    - name: dummy
      tag: d
      rate: 20
  outputs:
%s    - name: file
      match: d
      path: %s
      file: %s.log
`, port, extra, out, name)
}

// Files Fluent Bit cannot even parse are refused before it stops anything: it keeps
// the previous pipeline running (measured: "Reloading is halted"), and the reloader,
// seeing hot_reload_count unchanged and the uptime not started again, restores the
// files without restarting it.
func TestRealFluentBitHaltedReloadKeepsThePipeline(t *testing.T) {
	bin := fbrun.Binary(t)
	port, out := freePort(t), t.TempDir()
	src, runDir := t.TempDir(), t.TempDir()
	good := testConfig(port, out, "v0", "")
	swap(t, src, good)
	main := filepath.Join(ConfigDir(runDir), "fluent-bit.yaml")
	fb := Process{URL: fmt.Sprintf("http://127.0.0.1:%d", port), Name: "fluent-bit", Config: main, Proc: "/proc",
		Client: &http.Client{Timeout: time.Second}}
	r := New(Options{SourceDir: src, RunDir: runDir, Debounce: 100 * time.Millisecond, Timeout: 4 * time.Second,
		Settle: time.Second, Poll: 50 * time.Millisecond}, fb, testr.New(t))
	r.attempts = make(chan Attempt, 10)
	runReloader(t, r)
	waitFor(t, "staged", func() bool { _, staged := r.Status(); return staged })
	k := &kubelet{}
	k.start(t, bin, main, 0)
	waitFor(t, "records", func() bool { return countLines(filepath.Join(out, "v0.log")) > 5 })
	pid := fb.PID()

	swap(t, src, good+"pipeline: [broken\n")
	a := nextAttempt(t, r)
	if st, _ := r.Status(); a.Outcome != Refused || st.Reason != ReasonHalted || a.RestoredMillis != 0 {
		t.Fatalf("attempt %+v, status %+v", a, st)
	}
	if fb.PID() != pid || len(k.ended()) != 0 {
		t.Fatalf("Fluent Bit restarted (pid %d, was %d; ended runs %d)", fb.PID(), pid, len(k.ended()))
	}
	if b, _ := os.ReadFile(main); string(b) != good {
		t.Fatal("previous files not restored")
	}
	before := countLines(filepath.Join(out, "v0.log"))
	waitFor(t, "records after the refusal", func() bool { return countLines(filepath.Join(out, "v0.log")) > before+10 })
}

func writeTemp(t *testing.T, content string) string {
	p := filepath.Join(t.TempDir(), "fluent-bit.yaml")
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}
