package fbrun

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The pod has exactly what it was given: the configuration starts with the binary at
// the image's path, the data directory is writable and starts empty, the root is not
// writable, and a hostPath keeps what Fluent Bit wrote.
func TestPodHasOnlyWhatItWasGiven(t *testing.T) {
	bin := Binary(t)
	data := t.TempDir()
	logs := t.TempDir()
	if err := os.WriteFile(filepath.Join(logs, "app.log"), []byte("one\ntwo\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := `service:
  flush: 1
  log_level: info
pipeline:
  inputs:
    - name: tail
      path: /var/log/app.log
      read_from_head: on
      db: /var/fluent-bit/tail.db
  outputs:
    - name: file
      match: "*"
      path: /var/fluent-bit
      file: out.txt
      format: plain
    - name: file
      match: "*"
      path: /fluent-bit/etc
      file: forbidden.txt
`
	p, err := Pod{Binary: bin, Files: map[string][]byte{MainConfig: []byte(cfg)},
		Mounts: []Mount{{Path: "/var/fluent-bit", HostDir: data}, {Path: "/var/log", HostDir: logs, ReadOnly: true}}}.Start()
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if b, _ := os.ReadFile(filepath.Join(data, "out.txt")); strings.Count(string(b), "\n") >= 2 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err := p.Stop(10 * time.Second); err != nil {
		t.Fatalf("%v\n%s", err, p.Log())
	}
	if _, err := os.Stat(filepath.Join(data, "tail.db")); err != nil {
		t.Errorf("the positions database is not in the data directory: %v\n%s", err, p.Log())
	}
	if b, _ := os.ReadFile(filepath.Join(data, "out.txt")); !strings.Contains(string(b), "two") {
		t.Errorf("records did not reach the data directory: %q\n%s", b, p.Log())
	}
	if !strings.Contains(p.Log(), "Read-only file system") {
		t.Errorf("writing outside the mounts was not refused:\n%s", p.Log())
	}
}

// A configuration Fluent Bit cannot initialise is reported: the process exits and its
// [error] lines are there to read.
func TestPodReportsInitialisationErrors(t *testing.T) {
	bin := Binary(t)
	cfg := `pipeline:
  inputs:
    - name: tail
      path: /var/log/*.log
      db: /var/fluent-bit/missing/tail.db
  outputs:
    - name: null
      match: "*"
`
	p, err := Pod{Binary: bin, Files: map[string][]byte{MainConfig: []byte(cfg)},
		Mounts: []Mount{{Path: "/var/fluent-bit"}}}.Start()
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if done, _ := p.Exited(); done {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	done, exitErr := p.Exited()
	if !done || exitErr == nil {
		p.Kill()
		t.Fatalf("fluent bit kept running on a configuration it cannot initialise:\n%s", p.Log())
	}
	if errs := p.Errors(); len(errs) == 0 || !strings.Contains(strings.Join(errs, "\n"), "cannot open database /var/fluent-bit/missing/tail.db") {
		t.Errorf("errors = %q", errs)
	}
}
