package render

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// Every golden configuration passes Fluent Bit's own parser when a fluent-bit binary
// is available (FLUENT_BIT_BIN, or fluent-bit on PATH). --dry-run catches syntax
// errors, unknown plugins and unknown keys; it does not check values.
func TestGoldensPassFluentBitDryRun(t *testing.T) {
	bin := os.Getenv("FLUENT_BIT_BIN")
	if bin == "" {
		var err error
		if bin, err = exec.LookPath("fluent-bit"); err != nil {
			t.Skip("fluent-bit not found: set FLUENT_BIT_BIN or put fluent-bit (5.1) on PATH to check every golden with --dry-run")
		}
	}
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
