package reloader

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/go-logr/logr"
)

// swap updates dir the way the kubelet updates a Secret volume: write a new
// timestamped directory, point a temporary symlink at it, rename it over ..data.
func swap(t *testing.T, dir string, n int) {
	t.Helper()
	ts := filepath.Join(dir, "..2026_11_23_"+strconv.Itoa(n))
	if err := os.Mkdir(ts, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(ts, "fluent-bit.yaml"), []byte("# version "+strconv.Itoa(n)), 0o644); err != nil {
		t.Fatal(err)
	}
	tmp := filepath.Join(dir, "..data_tmp")
	if err := os.Symlink(filepath.Base(ts), tmp); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, "..data")); err != nil {
		t.Fatal(err)
	}
}

type fakeRestarter struct{ calls atomic.Int32 }

func (f *fakeRestarter) Restart(context.Context) error { f.calls.Add(1); return nil }

// fakeFluentBit answers reloads with status, after delay, and counts the requests
// that carried a body (Fluent Bit ignores bodiless ones).
func fakeFluentBit(status int, delay time.Duration) (*httptest.Server, *atomic.Int32) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && r.URL.Path == "/api/v2/reload" && r.ContentLength == 0 && r.Header.Get("Content-Length") == "0" {
			n.Add(1)
		}
		time.Sleep(delay)
		w.WriteHeader(status)
		_, _ = w.Write([]byte(`{"reload":"done","status":0}`))
	}))
	return srv, &n
}

func start(t *testing.T, url string, timeout time.Duration, restart Restarter) (*Reloader, string) {
	t.Helper()
	dir := t.TempDir()
	swap(t, dir, 0)
	r := New(Options{ConfigDir: dir, ReloadURL: url + "/api/v2/reload", Debounce: 200 * time.Millisecond, Timeout: timeout}, restart, logr.Discard())
	r.reloaded = make(chan error, 10)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	time.Sleep(50 * time.Millisecond) // let the watch start
	return r, dir
}

func TestBurstOfSwapsIsOneReload(t *testing.T) {
	srv, reloads := fakeFluentBit(http.StatusOK, 0)
	defer srv.Close()
	restarts := &fakeRestarter{}
	r, dir := start(t, srv.URL, time.Second, restarts)
	for i := 1; i <= 5; i++ {
		swap(t, dir, i)
		time.Sleep(20 * time.Millisecond)
	}
	select {
	case err := <-r.reloaded:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no reload")
	}
	select {
	case <-r.reloaded:
		t.Fatal("a burst of swaps caused a second reload")
	case <-time.After(500 * time.Millisecond):
	}
	if reloads.Load() != 1 || restarts.calls.Load() != 0 {
		t.Fatalf("reloads %d, restarts %d; want 1, 0", reloads.Load(), restarts.calls.Load())
	}
}

func TestFailedOrHungReloadRestartsFluentBit(t *testing.T) {
	for _, tc := range []struct {
		name   string
		status int
		delay  time.Duration
	}{
		{"reload refused", http.StatusInternalServerError, 0},
		{"reload hangs", http.StatusOK, 2 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, _ := fakeFluentBit(tc.status, tc.delay)
			defer srv.Close()
			restarts := &fakeRestarter{}
			r, dir := start(t, srv.URL, 300*time.Millisecond, restarts)
			swap(t, dir, 1)
			select {
			case err := <-r.reloaded:
				if err == nil {
					t.Fatal("reload reported success")
				}
			case <-time.After(5 * time.Second):
				t.Fatal("no attempt")
			}
			if restarts.calls.Load() != 1 {
				t.Fatalf("restarts %d, want 1", restarts.calls.Load())
			}
		})
	}
}

func TestFilesOtherThanTheSwapAreIgnored(t *testing.T) {
	srv, reloads := fakeFluentBit(http.StatusOK, 0)
	defer srv.Close()
	r, dir := start(t, srv.URL, time.Second, &fakeRestarter{})
	if err := os.WriteFile(filepath.Join(dir, "unrelated"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	select {
	case <-r.reloaded:
		t.Fatal("reloaded for an unrelated file")
	case <-time.After(600 * time.Millisecond):
	}
	if reloads.Load() != 0 {
		t.Fatal("unexpected reload")
	}
}

func TestProcessRestarterSignalsByName(t *testing.T) {
	child := exec.Command("sleep", "30")
	if err := child.Start(); err != nil {
		t.Skip("no sleep binary:", err)
	}
	// A fake /proc listing the child as "fluent-bit" and an unrelated process.
	proc := t.TempDir()
	for pid, comm := range map[int]string{child.Process.Pid: "fluent-bit", 1: "init"} {
		dir := filepath.Join(proc, strconv.Itoa(pid))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "comm"), []byte(comm+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := (ProcessRestarter{Name: "fluent-bit", Proc: proc}).Restart(context.Background()); err != nil {
		t.Fatal(err)
	}
	err := child.Wait()
	if status, ok := err.(*exec.ExitError); !ok || status.ProcessState.Sys().(syscall.WaitStatus).Signal() != syscall.SIGTERM {
		t.Fatalf("child ended with %v, want SIGTERM", err)
	}
	if err := (ProcessRestarter{Name: "fluent-bit", Proc: t.TempDir()}).Restart(context.Background()); err == nil {
		t.Fatal("want an error when no fluent-bit process exists")
	}
}
