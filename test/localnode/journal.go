package localnode

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/logplane/logplane/test/fbrun"
)

// JournaldBinary is where Debian installs systemd-journald.
const JournaldBinary = "/lib/systemd/systemd-journald"

// Journal is the node's systemd journal: the machine's systemd-journald, run in a
// private mount namespace where its journal directory is the node's
// /var/log/journal, its sockets are in a directory of the test's, and its
// configuration is its own, so that nothing of the machine's journal is read or
// written. Units log to it through the stdout-stream socket, as the services a unit
// starts do.
type Journal struct {
	sockets string
	dir     string
	cmd     *exec.Cmd
	out     *fbrun.Buffer
	done    chan struct{}
	err     error
}

// journaldConf keeps journald to the node's directory, writing nothing elsewhere and
// dropping nothing.
const journaldConf = `[Journal]
Storage=volatile
ReadKMsg=no
ForwardToSyslog=no
ForwardToKMsg=no
ForwardToConsole=no
ForwardToWall=no
RateLimitBurst=0
`

// StartJournal starts journald writing to the node's /var/log/journal and waits for
// its stdout socket. It needs root (mount namespaces) and JournaldBinary.
func (n *Node) StartJournal() (*Journal, error) {
	if _, err := os.Stat(JournaldBinary); err != nil {
		return nil, fmt.Errorf("the node journal needs systemd-journald (Debian package systemd): %w", err)
	}
	if _, err := exec.LookPath("journalctl"); err != nil {
		return nil, fmt.Errorf("the node journal needs journalctl (Debian package systemd): %w", err)
	}
	dir := filepath.Join(n.Root, "var/log/journal")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	stage, err := os.MkdirTemp("", "localnode-journald-")
	if err != nil {
		return nil, err
	}
	sockets := filepath.Join(stage, "sockets")
	conf := filepath.Join(stage, "journald.conf")
	if err := os.Mkdir(sockets, 0o755); err != nil {
		return nil, err
	}
	if err := os.WriteFile(conf, []byte(journaldConf), 0o644); err != nil {
		return nil, err
	}
	// Storage=volatile: the runtime journal (/run/log/journal) is the node's
	// directory; the machine's /run, /var/log/journal and journald.conf.d are hidden.
	script := `set -eu
mount -t tmpfs journald /run
mkdir -p /run/systemd/journal /run/log/journal
mount --bind "$1" /run/systemd/journal
mount --bind "$2" /run/log/journal
if [ -d /var/log/journal ]; then mount -t tmpfs journald /var/log/journal; fi
if [ -d /etc/systemd/journald.conf.d ]; then mount -t tmpfs journald /etc/systemd/journald.conf.d; fi
mkdir -p /run/systemd/journald.conf.d
if [ -f /etc/systemd/journald.conf ]; then mount --bind "$3" /etc/systemd/journald.conf; else cp "$3" /run/systemd/journald.conf.d/; fi
exec ` + JournaldBinary + "\n"
	cmd := exec.Command("unshare", "--mount", "--propagation", "private", "--", "/bin/sh", "-c", script, "journald", sockets, dir, conf)
	out := &fbrun.Buffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		os.RemoveAll(stage)
		return nil, fmt.Errorf("failed to start journald: %w", err)
	}
	j := &Journal{sockets: sockets, dir: dir, cmd: cmd, out: out, done: make(chan struct{})}
	go func() {
		j.err = cmd.Wait()
		os.RemoveAll(stage)
		close(j.done)
	}()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if c, err := net.Dial("unix", filepath.Join(sockets, "stdout")); err == nil {
			c.Close()
			return j, nil
		}
		select {
		case <-j.done:
			return nil, fmt.Errorf("journald exited: %v", j.err)
		default:
		}
		if time.Now().After(deadline) {
			j.Stop()
			return nil, errors.New("journald's stdout socket did not appear within 10s")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Write logs lines as unit's standard output, through one stream connection: the
// stream's header names the unit, which journald records as _SYSTEMD_UNIT when the
// writer's own cgroup names none (the test runs in the root cgroup, as in a
// container). journald keeps that unit for the writing process from then on, so each
// Write runs a process of its own (this binary again, see init), as each unit's
// service is one. It returns once journald has stored every line with the unit.
//
// journald sometimes stores a stream's lines without any of the writer's metadata
// (no _PID, no _SYSTEMD_UNIT: measured with writers that exit right after, a few
// streams in a hundred on a loaded machine), which no unit filter matches; such lines are written again, so a test
// counts what a node's agent is meant to read, not the stand-in's misses.
func (j *Journal) Write(unit string, lines ...string) error {
	pending := lines
	for attempt := 0; len(pending) > 0; attempt++ {
		if attempt == 5 {
			return fmt.Errorf("journald stored %d of %s's lines without the unit after 5 attempts", len(pending), unit)
		}
		if err := j.stream(unit, pending); err != nil {
			return err
		}
		stored, err := j.messages(unit)
		if err != nil {
			return err
		}
		var missing []string
		for _, l := range pending {
			if !stored[l] {
				missing = append(missing, l)
			}
		}
		pending = missing
	}
	return nil
}

// stream writes lines through one stream connection of a process of its own.
func (j *Journal) stream(unit string, lines []string) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	var b strings.Builder
	// identifier, unit id, priority (info), level prefix, forward to syslog, kmsg, console.
	fmt.Fprintf(&b, "%s\n%s\n6\n0\n0\n0\n0\n", strings.TrimSuffix(unit, ".service"), unit)
	for _, l := range lines {
		b.WriteString(l + "\n")
	}
	cmd := exec.Command(self)
	cmd.Env = append(os.Environ(), envJournalStream+"="+filepath.Join(j.sockets, "stdout"))
	cmd.Stdin = strings.NewReader(b.String())
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("failed to write %s's stream: %v: %s", unit, err, out)
	}
	return nil
}

// messages reads the messages the journal holds for unit, with journalctl.
func (j *Journal) messages(unit string) (map[string]bool, error) {
	out, err := exec.Command("journalctl", "--directory", j.dir, "--output", "cat", "--no-pager", "_SYSTEMD_UNIT="+unit).Output()
	if err != nil {
		return nil, fmt.Errorf("journalctl: %w", err)
	}
	stored := map[string]bool{}
	for _, l := range strings.Split(string(out), "\n") {
		stored[l] = true
	}
	return stored, nil
}

// envJournalStream makes this binary, when a test binary runs it again, write its
// standard input to the journald stdout socket it names, and exit.
const envJournalStream = "LOCALNODE_JOURNAL_STREAM"

func init() {
	if socket := os.Getenv(envJournalStream); socket != "" {
		if err := streamTo(socket, os.Stdin); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
}

// streamTo copies r to the unix socket, then waits for the other end to close: once
// journald closes it, it has read everything.
func streamTo(socket string, r io.Reader) error {
	c, err := net.Dial("unix", socket)
	if err != nil {
		return err
	}
	defer c.Close()
	if _, err := io.Copy(c, r); err != nil {
		return err
	}
	if err := c.(*net.UnixConn).CloseWrite(); err != nil {
		return err
	}
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, _ = io.Copy(io.Discard, c)
	return nil
}

// Log is what journald printed.
func (j *Journal) Log() string { return j.out.String() }

// Stop ends journald (SIGTERM, then SIGKILL after 10s) and waits for it.
func (j *Journal) Stop() {
	_ = j.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-j.done:
	case <-time.After(10 * time.Second):
		_ = j.cmd.Process.Kill()
		<-j.done
	}
}
