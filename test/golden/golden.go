// Package golden compares generated artifacts with their reviewed copies under
// testdata/. `go test ./pkg -update` rewrites the copies; the diff is then reviewed
// like any other change.
package golden

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files with the current output")

// Updating reports whether this run rewrites golden files.
func Updating() bool { return *update }

// Compare fails t when got differs from the file at path, showing the first differing
// line; under -update it writes got there instead.
func Compare(t testing.TB, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("missing golden file (run go test with -update): %v", err)
	}
	if string(got) != string(want) {
		t.Errorf("%s differs; review, then run go test with -update:\n%s", path, FirstDifference(string(want), string(got)))
	}
}

// FirstDifference shows the first differing line of two texts with a little context.
func FirstDifference(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	i := 0
	for i < len(w) && i < len(g) && w[i] == g[i] {
		i++
	}
	var b strings.Builder
	for j := max(0, i-3); j < i; j++ {
		fmt.Fprintf(&b, "  %s\n", w[j])
	}
	for j := i; j < min(len(w), i+3); j++ {
		fmt.Fprintf(&b, "- %s\n", w[j])
	}
	for j := i; j < min(len(g), i+3); j++ {
		fmt.Fprintf(&b, "+ %s\n", g[j])
	}
	return fmt.Sprintf("line %d:\n%s", i+1, b.String())
}
