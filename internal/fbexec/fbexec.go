// Package fbexec starts Fluent Bit with the open files its budgets are sized for.
//
// Fluent Bit 5.1.1 never raises its soft RLIMIT_NOFILE, and containerd 2.x (and
// Docker 29) give containers 1024 soft / 524288 hard: an agent whose output workers
// need more stops at start with "Too many open files". The agent image is distroless
// (no shell for `ulimit -n`), so an init container from the operator image copies the
// fbexec binary (cmd/fbexec) into an emptyDir (Install) and the agent container runs
// `fbexec -- /fluent-bit/bin/fluent-bit ...`, which raises the soft limit to the hard
// one and replaces itself with Fluent Bit (Exec): same PID, so signals, probes and
// exit codes are Fluent Bit's own.
package fbexec

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
)

// RaiseOpenFiles sets the soft RLIMIT_NOFILE to the hard limit and returns it. The
// explicit Setrlimit is what counts: the Go runtime raises its own soft limit at start
// (so Getrlimit already shows the hard one) but restores the original in the programs
// it starts or execs, unless the program set the limit itself.
func RaiseOpenFiles() (syscall.Rlimit, error) {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		return l, fmt.Errorf("failed to read RLIMIT_NOFILE: %w", err)
	}
	l.Cur = l.Max
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		return l, fmt.Errorf("failed to set the soft RLIMIT_NOFILE to %d: %w", l.Cur, err)
	}
	return l, nil
}

// Exec raises the open-file limit and replaces this process with argv (argv[0] is a
// path), keeping the environment. A limit that cannot be raised is reported on log
// and Fluent Bit starts anyway: a low limit is the budgets' concern, a pod that does
// not start would be everyone's. It returns only when the exec fails.
func Exec(argv []string, log io.Writer) error {
	if len(argv) == 0 || !filepath.IsAbs(argv[0]) {
		return errors.New("want the absolute path of the program to run, then its arguments")
	}
	if l, err := RaiseOpenFiles(); err != nil {
		fmt.Fprintf(log, "fbexec: %v; starting %s with the limit it has\n", err, argv[0])
	} else {
		fmt.Fprintf(log, "fbexec: open files limit %d\n", l.Cur)
	}
	if err := syscall.Exec(argv[0], argv, os.Environ()); err != nil {
		return fmt.Errorf("failed to exec %s: %w", argv[0], err)
	}
	return nil
}

// Install copies the running binary to dst (mode 0755), through a temporary file in
// the same directory so that a restarted init container never leaves half a binary.
func Install(dst string) error {
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("failed to find this binary: %w", err)
	}
	return copyFile(self, dst)
}

func copyFile(src, dst string) (err error) {
	in, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("failed to open %s: %w", src, err)
	}
	defer in.Close()
	tmp, err := os.CreateTemp(filepath.Dir(dst), ".install-*")
	if err != nil {
		return fmt.Errorf("failed to create a file beside %s: %w", dst, err)
	}
	defer func() {
		if err != nil {
			os.Remove(tmp.Name())
		}
	}()
	if _, err := io.Copy(tmp, in); err != nil {
		tmp.Close()
		return fmt.Errorf("failed to copy %s to %s: %w", src, tmp.Name(), err)
	}
	if err := tmp.Chmod(0o755); err != nil {
		tmp.Close()
		return fmt.Errorf("failed to make %s executable: %w", tmp.Name(), err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("failed to write %s: %w", tmp.Name(), err)
	}
	if err := os.Rename(tmp.Name(), dst); err != nil {
		return fmt.Errorf("failed to install %s: %w", dst, err)
	}
	return nil
}
