// Package fbrun runs the real Fluent Bit the way a logplane pod runs it: the same
// paths (/fluent-bit/etc, /fluent-bit/secrets, /var/fluent-bit, /var/log), an empty data
// directory unless a test hands one over, a read-only root, and nothing else of the
// machine writable. It gives tests and `make run` one way to prove a configuration by
// starting it, since `fluent-bit --dry-run` never initialises a plugin.
package fbrun

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// Version is the Fluent Bit release the tests expect; it matches the image logplane deploys.
const Version = "5.1.1"

// EnvBinary names the variable that points tests at a Fluent Bit binary.
const EnvBinary = "FLUENT_BIT_BIN"

// installHint says how to get the binary where none is found.
const installHint = "install Fluent Bit " + Version + " (https://docs.fluentbit.io/manual/installation) and put fluent-bit on PATH, or set " + EnvBinary

// Find returns the Fluent Bit binary to run: FLUENT_BIT_BIN, else fluent-bit on PATH.
// It returns an error when FLUENT_BIT_BIN is set but does not run or is another
// version, and ("", nil) when no binary is configured at all.
func Find() (string, error) {
	if bin := os.Getenv(EnvBinary); bin != "" {
		if err := check(bin); err != nil {
			return "", fmt.Errorf("%s=%s is not usable: %w", EnvBinary, bin, err)
		}
		return bin, nil
	}
	bin, err := exec.LookPath("fluent-bit")
	if err != nil {
		return "", nil
	}
	if err := check(bin); err != nil {
		return "", fmt.Errorf("fluent-bit on PATH (%s) is not usable: %w", bin, err)
	}
	return bin, nil
}

// Binary is Find for tests. A configured binary that does not work fails the test, so
// CI (which sets FLUENT_BIT_BIN) can never pass by skipping; with nothing configured
// the test is skipped with instructions.
func Binary(t testing.TB) string {
	t.Helper()
	bin, err := Find()
	if err != nil {
		t.Fatal(err)
	}
	if bin == "" {
		t.Skip("this test starts the real Fluent Bit: " + installHint)
	}
	if err := CanIsolate(); err != nil {
		if os.Getenv(EnvBinary) != "" {
			t.Fatalf("%s is set, but Fluent Bit cannot be started with a pod's paths: %v", EnvBinary, err)
		}
		t.Skipf("Fluent Bit cannot be started with a pod's paths here: %v", err)
	}
	return bin
}

func check(bin string) error {
	out, err := exec.Command(bin, "--version").CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s --version: %v: %s", bin, err, strings.TrimSpace(string(out)))
	}
	if !strings.Contains(string(out), "v"+Version) {
		return fmt.Errorf("want Fluent Bit %s, %s --version says %q", Version, bin, strings.TrimSpace(string(out)))
	}
	return nil
}

var isolation struct {
	once sync.Once
	err  error
}

// CanIsolate reports whether this machine can give Fluent Bit a pod's file system:
// a private mount namespace (unshare, as root or through a user namespace) and chroot.
func CanIsolate() error {
	isolation.once.Do(func() {
		for _, tool := range []string{"unshare", "chroot", "mount"} {
			if _, err := exec.LookPath(tool); err != nil {
				isolation.err = fmt.Errorf("%s not found (util-linux, coreutils)", tool)
				return
			}
		}
		args := []string{"--mount", "--propagation", "private"}
		if os.Geteuid() != 0 {
			args = append(args, "--map-root-user")
		}
		args = append(args, "--", "/bin/sh", "-c", "mount -t tmpfs fbrun /mnt")
		if out, err := exec.Command("unshare", args...).CombinedOutput(); err != nil {
			isolation.err = fmt.Errorf("a private mount namespace is not available (run as root, or enable user namespaces): %v: %s",
				err, strings.TrimSpace(string(out)))
		}
	})
	return isolation.err
}

// EnvFBExec names the variable that points tests at a built fbexec binary
// (cmd/fbexec); without it, FBExec builds one.
const EnvFBExec = "FBEXEC_BIN"

// EnvLogplane names the variable that points tests at a built logplane binary
// (cmd/logplane, the operator image's /logplane); without it, BuildLogplane builds one.
const EnvLogplane = "LOGPLANE_BIN"

// build is one binary of this module, built once per process.
type build struct {
	once sync.Once
	bin  string
	err  error
}

var fbexecBuild, logplaneBuild build

// BuildFBExec returns the fbexec binary the operator image ships at /fbexec:
// FBEXEC_BIN, or one built from this module once per process (static, like the
// image's) to one place in the temporary directory. It is renamed into place, so a
// process of another test run that executes the previous one is not disturbed.
func BuildFBExec() (string, error) { return fbexecBuild.get(EnvFBExec, "fbexec") }

// BuildLogplane is BuildFBExec for the operator image's entry point, /logplane
// (whose reloader mode runs beside Fluent Bit in HotReload agent pods).
func BuildLogplane() (string, error) { return logplaneBuild.get(EnvLogplane, "logplane") }

func (b *build) get(env, cmd string) (string, error) {
	if bin := os.Getenv(env); bin != "" {
		return bin, nil
	}
	b.once.Do(func() {
		dir := filepath.Join(os.TempDir(), fmt.Sprintf("logplane-%s-%d", cmd, os.Getuid()))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			b.err = err
			return
		}
		tmp, err := os.CreateTemp(dir, "build-")
		if err != nil {
			b.err = err
			return
		}
		tmp.Close()
		defer os.Remove(tmp.Name())
		c := exec.Command("go", "build", "-trimpath", "-o", tmp.Name(), "github.com/logplane/logplane/cmd/"+cmd)
		c.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := c.CombinedOutput(); err != nil {
			b.err = fmt.Errorf("failed to build cmd/%s: %v: %s", cmd, err, strings.TrimSpace(string(out)))
			return
		}
		// Any user of a pod runs it (the init container is not root).
		if err := os.Chmod(tmp.Name(), 0o755); err != nil {
			b.err = err
			return
		}
		b.bin = filepath.Join(dir, cmd)
		b.err = os.Rename(tmp.Name(), b.bin)
	})
	return b.bin, b.err
}

// FBExec is BuildFBExec for tests.
func FBExec(t testing.TB) string {
	t.Helper()
	bin, err := BuildFBExec()
	if err != nil {
		t.Fatal(err)
	}
	return bin
}
