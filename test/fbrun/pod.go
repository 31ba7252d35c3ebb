package fbrun

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Paths of the Fluent Bit image and of logplane's pods.
const (
	BinaryPath = "/fluent-bit/bin/fluent-bit"
	ConfigDir  = "/fluent-bit/etc"
	MainConfig = ConfigDir + "/fluent-bit.yaml"
)

// Mount is a directory of the pod. With HostDir it is that host directory (a hostPath,
// or a directory a test keeps between runs); without it, a new empty directory that
// disappears with the process (an emptyDir).
type Mount struct {
	Path     string
	HostDir  string
	ReadOnly bool
}

// Pod is what the Fluent Bit container sees. Its root is a fresh read-only file
// system holding the machine's system directories (read-only, for the binary's
// libraries and CA certificates), the binary at BinaryPath, Files and Mounts: nothing
// else is there, and only Mounts that are not ReadOnly can be written.
type Pod struct {
	// Binary is the host's Fluent Bit binary (see Find); it runs at BinaryPath.
	Binary string
	// Files are written into the pod before it starts: path in the pod → content.
	Files  map[string][]byte
	Mounts []Mount
	// Env is the container's environment, KEY=VALUE.
	Env []string
	// Command replaces the image's entry point (BinaryPath) when set, as a
	// container's command does: its first element is a path in the pod.
	Command []string
	// Args follow Command, or BinaryPath; with neither set, -c MainConfig.
	Args []string
	// Binaries are more files the pod's images hold: path in the pod → host file,
	// read-only (the operator image's /fbexec).
	Binaries map[string]string
	// User runs Fluent Bit under this uid and gid when not 0, as the sidecar does.
	User int
	// Hosts are extra /etc/hosts entries, name → IP, as a pod's hostAliases.
	Hosts map[string]string
	// PrivateNetwork gives the pod a network of its own with only a loopback
	// interface: it can listen on any port and reach nothing outside. In either
	// network, names resolve only through /etc/hosts.
	PrivateNetwork bool
	// OpenFiles sets the soft and hard RLIMIT_NOFILE of Fluent Bit when not 0, as a
	// container runtime does (containerd 2.x gives containers a soft limit of 1024).
	OpenFiles int
	// OpenFilesHard, when not 0, sets the hard RLIMIT_NOFILE apart (OpenFiles is then
	// the soft one): containerd 2.x gives 1024 soft, 524288 hard. Raising a hard limit
	// above the machine's takes CAP_SYS_RESOURCE.
	OpenFilesHard int
	// TrustedCAs are PEM certificates the pod trusts besides the machine's: its
	// /etc/ssl/certs holds the machine's certificates, and ca-certificates.crt and
	// ca-bundle.crt there hold the machine's bundle followed by these. Fluent Bit
	// 5.1.1 on Linux reads ca-bundle.crt (and the hashed directory), other TLS
	// clients read ca-certificates.crt. The machine's own /etc is never written.
	TrustedCAs []byte
}

// Process is a started pod.
type Process struct {
	cmd   *exec.Cmd
	stage string
	out   *Buffer
	done  chan struct{}
	err   error // set before done closes
}

// Start starts Fluent Bit in the pod. The pod lives in a private mount namespace
// (unshare), so nothing is mounted on the machine and everything goes with the
// process. Output (Fluent Bit's log and the stdout plugin) is collected for Log.
func (p Pod) Start() (*Process, error) {
	if p.Binary == "" {
		return nil, errors.New("fbrun: no Fluent Bit binary")
	}
	stage, err := os.MkdirTemp("", "fbrun-")
	if err != nil {
		return nil, err
	}
	files := filepath.Join(stage, "files")
	root := filepath.Join(stage, "root")
	// files too: the script reaches the staged hosts and resolv.conf through it, also
	// for a pod given no files.
	for _, d := range []string{root, files} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, err
		}
	}
	for name, data := range p.Files {
		if !path.IsAbs(name) {
			return nil, fmt.Errorf("fbrun: file %q is not an absolute path", name)
		}
		dst := filepath.Join(files, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return nil, err
		}
		if err := os.WriteFile(dst, data, 0o644); err != nil {
			return nil, err
		}
	}
	if len(p.Hosts) > 0 {
		hosts, err := os.ReadFile("/etc/hosts")
		if err != nil {
			return nil, err
		}
		hosts = append(hosts, '\n')
		names := slices.Sorted(maps.Keys(p.Hosts))
		for _, n := range names {
			hosts = fmt.Appendf(hosts, "%s\t%s\n", p.Hosts[n], n)
		}
		if err := os.WriteFile(filepath.Join(stage, "hosts"), hosts, 0o644); err != nil {
			return nil, err
		}
	}
	// No cluster DNS here: names outside /etc/hosts fail at once, as names nobody
	// serves do, instead of waiting for a resolver nobody can reach.
	if err := os.WriteFile(filepath.Join(stage, "resolv.conf"), []byte("nameserver 127.0.0.1\noptions timeout:1 attempts:1\n"), 0o644); err != nil {
		return nil, err
	}
	if len(p.TrustedCAs) > 0 {
		if err := stageCerts(filepath.Join(stage, "certs"), p.TrustedCAs); err != nil {
			return nil, err
		}
	}
	script, err := p.script()
	if err != nil {
		return nil, err
	}
	args := []string{"--mount", "--propagation", "private"}
	if p.PrivateNetwork {
		args = append(args, "--net")
	}
	if os.Geteuid() != 0 {
		args = append(args, "--map-root-user")
	}
	args = append(args, "--", "/bin/sh", "-c", script, "fbrun", root, files, p.Binary)
	switch {
	case p.Command != nil:
		args = append(append(args, p.Command...), p.Args...)
	case p.Args != nil:
		args = append(append(args, BinaryPath), p.Args...)
	default:
		args = append(args, BinaryPath, "-c", MainConfig)
	}
	cmd := exec.Command("unshare", args...)
	// Fluent Bit goes with the process that started it, even when that one is killed.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	// The pod's environment, and a PATH for the setup's own tools that it drops.
	cmd.Env = append(slices.Clone(p.Env), "FBRUN_TOOLS_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
	out := &Buffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		os.RemoveAll(stage)
		return nil, fmt.Errorf("fbrun: start: %w", err)
	}
	proc := &Process{cmd: cmd, stage: stage, out: out, done: make(chan struct{})}
	go func() {
		proc.err = cmd.Wait()
		os.RemoveAll(stage)
		close(proc.done)
	}()
	return proc, nil
}

// script builds the pod's root under $1 from the files staged in $2 and the binary $3,
// then replaces itself with the command that follows, Fluent Bit or what execs it (so
// signals reach Fluent Bit directly).
func (p Pod) script() (string, error) {
	var b strings.Builder
	b.WriteString(`set -eu
podpath=${PATH-}
PATH=$FBRUN_TOOLS_PATH
unset FBRUN_TOOLS_PATH
root=$1 files=$2 bin=$3
shift 3
mount -t tmpfs -o mode=0755 fbrun "$root"
for d in usr bin sbin lib lib32 lib64 libx32 etc; do
  if [ -L "/$d" ]; then ln -s "$(readlink "/$d")" "$root/$d"
  elif [ -d "/$d" ]; then mkdir "$root/$d"; mount --rbind "/$d" "$root/$d"; mount -o remount,bind,ro "$root/$d"
  fi
done
for d in dev proc sys; do mkdir "$root/$d"; mount --rbind "/$d" "$root/$d"; done
if [ -f "$files/../hosts" ]; then mount --bind "$files/../hosts" "$root/etc/hosts"; fi
mount --bind "$files/../resolv.conf" "$root/etc/resolv.conf"
if [ -d "$files/../certs" ]; then mount --bind "$files/../certs" "$root/etc/ssl/certs"; mount -o remount,bind,ro "$root/etc/ssl/certs"; fi
cp -R "$files/." "$root/"
mkdir -p "$root/fluent-bit/bin"
: > "$root/fluent-bit/bin/fluent-bit"
mount --bind "$bin" "$root/fluent-bit/bin/fluent-bit"
`)
	for _, dst := range slices.Sorted(maps.Keys(p.Binaries)) {
		if !path.IsAbs(dst) {
			return "", fmt.Errorf("fbrun: binary path %q is not absolute", dst)
		}
		d := `"$root"` + quote(path.Clean(dst))
		fmt.Fprintf(&b, "mkdir -p \"$(dirname %s)\"\n: > %s\nmount --bind %s %s\nmount -o remount,bind,ro %s\n", d, d, quote(p.Binaries[dst]), d, d)
	}
	mounts := slices.Clone(p.Mounts)
	// Parents before children, so that a mount inside another stays visible.
	slices.SortFunc(mounts, func(a, b Mount) int { return strings.Compare(a.Path, b.Path) })
	for _, m := range mounts {
		if !path.IsAbs(m.Path) || path.Clean(m.Path) == "/" {
			return "", fmt.Errorf("fbrun: mount path %q must be an absolute directory below /", m.Path)
		}
		dst := `"$root"` + quote(path.Clean(m.Path))
		fmt.Fprintf(&b, "mkdir -p %s\n", dst)
		if m.HostDir == "" {
			// An emptyDir is writable by any user of the pod.
			fmt.Fprintf(&b, "mount -t tmpfs -o mode=0777 emptydir %s\n", dst)
			continue
		}
		fmt.Fprintf(&b, "mount --bind %s %s\n", quote(m.HostDir), dst)
		if m.ReadOnly {
			fmt.Fprintf(&b, "mount -o remount,bind,ro %s\n", dst)
		}
	}
	if p.PrivateNetwork {
		// A default route through loopback: the pod can address anything (a UDP
		// syslog output connects its socket at start) and reach nothing.
		b.WriteString("ip link set lo up\nip route add default dev lo\n")
	}
	// readOnlyRootFilesystem: only the mounts can be written.
	b.WriteString(`mount -o remount,ro "$root"
cd /
chroot=$(command -v chroot)
if [ -n "$podpath" ]; then PATH=$podpath; else unset PATH; fi
`)
	switch {
	case p.OpenFilesHard != 0:
		// The soft limit may not exceed the hard one at any step: soft first (which
		// fails only when the hard limit is to rise above it), hard, soft.
		fmt.Fprintf(&b, "ulimit -Sn %d 2>/dev/null || :\nulimit -Hn %d\nulimit -Sn %d\n", p.OpenFiles, p.OpenFilesHard, p.OpenFiles)
	case p.OpenFiles != 0:
		fmt.Fprintf(&b, "ulimit -n %d\n", p.OpenFiles)
	}
	if p.User != 0 {
		fmt.Fprintf(&b, "exec \"$chroot\" --userspec=%d:%d \"$root\" \"$@\"\n", p.User, p.User)
	} else {
		b.WriteString("exec \"$chroot\" \"$root\" \"$@\"\n")
	}
	return b.String(), nil
}

// stageCerts copies the machine's /etc/ssl/certs to dir (links stay links: they point
// into /usr/share, which the pod has) and appends cas to its bundles.
func stageCerts(dir string, cas []byte) error {
	const system = "/etc/ssl/certs"
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	entries, err := os.ReadDir(system)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	for _, e := range entries {
		src, dst := filepath.Join(system, e.Name()), filepath.Join(dir, e.Name())
		if e.Type()&os.ModeSymlink != 0 {
			target, err := os.Readlink(src)
			if err != nil {
				return err
			}
			if err := os.Symlink(target, dst); err != nil {
				return err
			}
			continue
		}
		if e.Type().IsRegular() {
			data, err := os.ReadFile(src)
			if err != nil {
				return err
			}
			if err := os.WriteFile(dst, data, 0o644); err != nil {
				return err
			}
		}
	}
	bundle, err := os.ReadFile(filepath.Join(system, "ca-certificates.crt"))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if len(bundle) > 0 && bundle[len(bundle)-1] != '\n' {
		bundle = append(bundle, '\n')
	}
	bundle = append(bundle, cas...)
	for _, name := range []string{"ca-certificates.crt", "ca-bundle.crt"} {
		dst := filepath.Join(dir, name)
		_ = os.Remove(dst) // a link in the copy
		if err := os.WriteFile(dst, bundle, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// quote makes s one shell word.
func quote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// Log is everything Fluent Bit wrote so far.
func (p *Process) Log() string { return p.out.String() }

// Errors are the lines of the log Fluent Bit marks [error], and any sign of a crash.
func (p *Process) Errors() []string {
	var errs []string
	for line := range strings.Lines(p.Log()) {
		if strings.Contains(line, "[error]") || strings.Contains(line, "caught signal (SIG") && !strings.Contains(line, "SIGTERM") {
			errs = append(errs, strings.TrimSpace(line))
		}
	}
	return errs
}

// Exited reports whether the process has ended, and how.
func (p *Process) Exited() (bool, error) {
	select {
	case <-p.done:
		return true, p.err
	default:
		return false, nil
	}
}

// Wait waits for the process to end and returns how it ended.
func (p *Process) Wait() error {
	<-p.done
	return p.err
}

// Pid is Fluent Bit's process id.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// ErrNotStopped says Fluent Bit had to be killed.
var ErrNotStopped = errors.New("fluent bit did not stop")

// Stop ends Fluent Bit as the kubelet does: SIGTERM, then SIGKILL after grace. It
// returns an error unless Fluent Bit exited by itself with status 0 within grace.
func (p *Process) Stop(grace time.Duration) error {
	select {
	case <-p.done:
		return fmt.Errorf("fluent bit had already exited: %v", p.err)
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		if p.err != nil {
			return fmt.Errorf("fluent bit did not stop cleanly: %w", p.err)
		}
		return nil
	case <-time.After(grace):
		p.Kill()
		return fmt.Errorf("%w within %s of SIGTERM", ErrNotStopped, grace)
	}
}

// Kill ends Fluent Bit at once (SIGKILL), as a node crash or an OOM kill would, and
// waits for it.
func (p *Process) Kill() {
	_ = p.cmd.Process.Kill()
	<-p.done
}

// Buffer collects a process's output while a test reads it.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *Buffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *Buffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

var _ io.Writer = (*Buffer)(nil)
