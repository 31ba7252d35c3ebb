package render

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// fluentBit returns the fluent-bit binary to check configurations with
// (FLUENT_BIT_BIN, or fluent-bit on PATH), or skips the test.
func fluentBit(t *testing.T) string {
	t.Helper()
	bin := os.Getenv("FLUENT_BIT_BIN")
	if bin == "" {
		var err error
		if bin, err = exec.LookPath("fluent-bit"); err != nil {
			t.Skip("fluent-bit not found: set FLUENT_BIT_BIN or put fluent-bit (5.1) on PATH to check every golden with --dry-run")
		}
	}
	return bin
}

// Every golden configuration passes Fluent Bit's own parser when a fluent-bit binary
// is available (FLUENT_BIT_BIN, or fluent-bit on PATH). --dry-run catches syntax
// errors, unknown plugins and unknown keys; it does not check values.
func TestGoldensPassFluentBitDryRun(t *testing.T) {
	bin := fluentBit(t)
	var configs []string
	for _, pattern := range []string{"testdata/destinations/*.yaml", "testdata/samples/*/fluent-bit.yaml", "testdata/filters/*.yaml"} {
		m, err := filepath.Glob(pattern)
		if err != nil {
			t.Fatal(err)
		}
		configs = append(configs, m...)
	}
	if len(configs) == 0 {
		t.Fatal("no golden configurations found")
	}
	for _, c := range configs {
		t.Run(c, func(t *testing.T) {
			out, err := exec.Command(bin, "--dry-run", "-c", c).CombinedOutput()
			if err != nil {
				t.Errorf("fluent-bit --dry-run -c %s: %v\n%s", c, err, out)
			}
		})
	}
}

// A sharded configuration, written as the agent mounts it (every file in one
// directory), passes --dry-run too: the main file includes each shard.
func TestShardedConfigurationPassesFluentBitDryRun(t *testing.T) {
	bin := fluentBit(t)
	withMaxFileBytes(t, 64<<10)
	cfg := Render(fleet(300)).Agents[0]
	if len(cfg.Files) < 3 {
		t.Fatalf("not sharded: %d files", len(cfg.Files))
	}
	dir := t.TempDir()
	for _, f := range cfg.Files {
		if err := os.WriteFile(filepath.Join(dir, f.Name), f.Content, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out, err := exec.Command(bin, "--dry-run", "-c", filepath.Join(dir, MainFile)).CombinedOutput()
	if err != nil {
		t.Errorf("fluent-bit --dry-run on %d files: %v\n%s", len(cfg.Files), err, out)
	}
}
