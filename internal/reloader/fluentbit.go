package reloader

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// Probe is what Fluent Bit's HTTP server says at one moment.
type Probe struct {
	// Up: the server answered both questions below.
	Up bool
	// Count is hot_reload_count: Fluent Bit raises it only once the new pipeline has
	// started (flb_reload in 5.1.1), unlike the reload endpoint's answer, which comes
	// before the reload begins.
	Count int64
	// Uptime is in seconds; a successful reload starts it again from 0.
	Uptime int64
}

// FluentBit is the Fluent Bit process in the pod, as the reloader sees it.
type FluentBit interface {
	// Probe asks the HTTP server; Up is false when it does not answer.
	Probe(ctx context.Context) Probe
	// Reload asks Fluent Bit to reload. Its answer says only that the signal was sent.
	Reload(ctx context.Context) error
	// PID is Fluent Bit's process id, 0 when none runs.
	PID() int
	// Terminate ends the process; the kubelet starts the container again.
	Terminate(pid int) error
}

// Process finds and talks to Fluent Bit in a shared process namespace.
type Process struct {
	// URL is the base of Fluent Bit's HTTP server, e.g. http://127.0.0.1:2020.
	URL string
	// Name is the process name as in /proc/<pid>/comm.
	Name string
	// Config is the configuration file it runs with; only a process whose command
	// line names it counts, so the reloader never signals another Fluent Bit.
	Config string
	// Proc is the procfs root, /proc outside tests.
	Proc   string
	Client *http.Client
}

func (p Process) get(ctx context.Context, path string, into any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.URL+path, nil)
	if err != nil {
		return err
	}
	resp, err := p.Client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s answered %s", path, resp.Status)
	}
	return json.NewDecoder(io.LimitReader(resp.Body, 4096)).Decode(into)
}

func (p Process) Probe(ctx context.Context) Probe {
	var count struct {
		Count *int64 `json:"hot_reload_count"`
	}
	var uptime struct {
		Seconds *int64 `json:"uptime_sec"`
	}
	if p.get(ctx, "/api/v2/reload", &count) != nil || count.Count == nil ||
		p.get(ctx, "/api/v1/uptime", &uptime) != nil || uptime.Seconds == nil {
		return Probe{}
	}
	return Probe{Up: true, Count: *count.Count, Uptime: *uptime.Seconds}
}

// Reload posts to the reload endpoint. Fluent Bit 5.1 ignores a POST without a body,
// so an empty one is sent.
func (p Process) Reload(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.URL+"/api/v2/reload", bytes.NewReader([]byte{}))
	if err != nil {
		return err
	}
	req.ContentLength = 0
	resp, err := p.Client.Do(req)
	if err != nil {
		return fmt.Errorf("reload request failed: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusCreated {
		return fmt.Errorf("reload answered %s: %s", resp.Status, bytes.TrimSpace(body))
	}
	return nil
}

func (p Process) PID() int {
	entries, err := os.ReadDir(p.Proc)
	if err != nil {
		return 0
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		comm, err := os.ReadFile(filepath.Join(p.Proc, e.Name(), "comm"))
		if err != nil || strings.TrimSpace(string(comm)) != p.Name {
			continue
		}
		if p.Config != "" {
			cmdline, err := os.ReadFile(filepath.Join(p.Proc, e.Name(), "cmdline"))
			if err != nil || !containsArg(cmdline, p.Config) {
				continue
			}
		}
		// A process that ended but was not reaped yet is not running Fluent Bit.
		if stat, err := os.ReadFile(filepath.Join(p.Proc, e.Name(), "stat")); err == nil && zombie(stat) {
			continue
		}
		return pid
	}
	return 0
}

func containsArg(cmdline []byte, arg string) bool {
	for _, a := range bytes.Split(cmdline, []byte{0}) {
		if string(a) == arg {
			return true
		}
	}
	return false
}

// zombie reads the state field of /proc/<pid>/stat: "pid (comm) S ...".
func zombie(stat []byte) bool {
	i := bytes.LastIndexByte(stat, ')')
	return i >= 0 && i+2 < len(stat) && stat[i+2] == 'Z'
}

func (p Process) Terminate(pid int) error {
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		return fmt.Errorf("failed to signal %s (pid %d): %w", p.Name, pid, err)
	}
	return nil
}
