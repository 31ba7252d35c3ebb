package reloader

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// ProcessRestarter restarts Fluent Bit by ending its process; the kubelet starts the
// container again, and it reads the new configuration at start. The pod shares its
// process namespace, so the reloader sees Fluent Bit's process in /proc.
type ProcessRestarter struct {
	// Name is the process name as in /proc/<pid>/comm.
	Name string
	// Proc is the procfs root, /proc outside tests.
	Proc string
}

// Restart sends SIGTERM to every process named Name.
func (p ProcessRestarter) Restart(context.Context) error {
	entries, err := os.ReadDir(p.Proc)
	if err != nil {
		return err
	}
	found := false
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		comm, err := os.ReadFile(filepath.Join(p.Proc, e.Name(), "comm"))
		if err != nil || strings.TrimSpace(string(comm)) != p.Name {
			continue
		}
		if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
			return fmt.Errorf("failed to signal %s (pid %d): %w", p.Name, pid, err)
		}
		found = true
	}
	if !found {
		return fmt.Errorf("no %s process found", p.Name)
	}
	return nil
}
