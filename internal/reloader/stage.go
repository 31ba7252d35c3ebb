package reloader

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/sys/unix"
)

// Files are one configuration: file name to content.
type Files map[string][]byte

// Version identifies a configuration: a hash over its file names and contents, so it
// changes when and only when a file does.
func (f Files) Version() string {
	names := make([]string, 0, len(f))
	for n := range f {
		names = append(names, n)
	}
	slices.Sort(names)
	h := sha256.New()
	for _, n := range names {
		fmt.Fprintf(h, "%d:%s%d:", len(n), n, len(f[n]))
		h.Write(f[n])
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// readSource reads the files of a Secret volume. The kubelet swaps its "..data"
// symlink to a new timestamped directory atomically; reading that directory, resolved
// once, never mixes two versions. A plain directory (no "..data") is read as it is.
func readSource(dir string) (Files, error) {
	from := dir
	if target, err := os.Readlink(filepath.Join(dir, "..data")); err == nil {
		if !filepath.IsAbs(target) {
			target = filepath.Join(dir, target)
		}
		from = target
	}
	return readFiles(from)
}

// readFiles reads the regular files of dir, following symlinks and skipping the
// kubelet's own entries (those starting with "..").
func readFiles(dir string) (Files, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("failed to read configuration directory %s: %w", dir, err)
	}
	files := Files{}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "..") {
			continue
		}
		p := filepath.Join(dir, e.Name())
		st, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("failed to read %s: %w", p, err)
		}
		if !st.Mode().IsRegular() {
			continue
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("failed to read %s: %w", p, err)
		}
		files[e.Name()] = b
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("configuration directory %s holds no files", dir)
	}
	return files, nil
}

// stage is the writable directory the reloader owns. Fluent Bit reads etc/ (started
// with -c <dir>/etc/fluent-bit.yaml); prev/ keeps the configuration etc/ held before
// the latest install, until it is verified or restored; next/ is where a new one is
// written. etc/ stays one real directory under one name: Fluent Bit resolves its
// configuration directory (for includes) once at start, so it must not be a symlink
// that moves.
type stage struct{ dir string }

func (s stage) etc() string  { return filepath.Join(s.dir, "etc") }
func (s stage) prev() string { return filepath.Join(s.dir, "prev") }
func (s stage) next() string { return filepath.Join(s.dir, "next") }

func (s stage) exists() bool {
	_, err := os.Stat(s.etc())
	return err == nil
}

// install makes files what Fluent Bit reads, keeping what it read before in prev/.
// The switch is one atomic exchange of two directories, so a Fluent Bit that starts
// at any moment reads one whole configuration.
func (s stage) install(files Files) error {
	if err := os.RemoveAll(s.next()); err != nil {
		return fmt.Errorf("failed to clear %s: %w", s.next(), err)
	}
	if err := os.MkdirAll(s.next(), 0o755); err != nil {
		return fmt.Errorf("failed to create %s: %w", s.next(), err)
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(s.next(), name), content, 0o644); err != nil {
			return fmt.Errorf("failed to stage %s: %w", name, err)
		}
	}
	if !s.exists() {
		if err := os.Rename(s.next(), s.etc()); err != nil {
			return fmt.Errorf("failed to install the configuration: %w", err)
		}
		return os.RemoveAll(s.prev())
	}
	if err := exchange(s.next(), s.etc()); err != nil {
		return fmt.Errorf("failed to install the configuration: %w", err)
	}
	if err := os.RemoveAll(s.prev()); err != nil {
		return fmt.Errorf("failed to clear %s: %w", s.prev(), err)
	}
	if err := os.Rename(s.next(), s.prev()); err != nil {
		return fmt.Errorf("failed to keep the previous configuration: %w", err)
	}
	return nil
}

// restore puts the previous configuration back and drops the one installed last.
func (s stage) restore() error {
	if _, err := os.Stat(s.prev()); err != nil {
		return fmt.Errorf("no previous configuration to restore: %w", err)
	}
	if err := exchange(s.prev(), s.etc()); err != nil {
		return fmt.Errorf("failed to restore the previous configuration: %w", err)
	}
	return os.RemoveAll(s.prev())
}

// commit forgets the previous configuration once the new one is verified.
func (s stage) commit() error { return os.RemoveAll(s.prev()) }

// exchange swaps two directories atomically (renameat2 RENAME_EXCHANGE); where the
// file system cannot, it falls back to three renames, leaving b missing for a moment.
func exchange(a, b string) error {
	err := unix.Renameat2(unix.AT_FDCWD, a, unix.AT_FDCWD, b, unix.RENAME_EXCHANGE)
	if err == nil || !(errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOSYS)) {
		return err
	}
	tmp := b + ".swap"
	if err := os.Rename(b, tmp); err != nil {
		return err
	}
	if err := os.Rename(a, b); err != nil {
		return err
	}
	return os.Rename(tmp, a)
}

// ConfigDir is the directory of runDir that Fluent Bit reads its configuration from.
func ConfigDir(runDir string) string { return stage{dir: runDir}.etc() }
