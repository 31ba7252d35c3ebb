package retention

import (
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/ with the current output")

// golden compares got with testdata/<name>, or rewrites the file under -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("missing golden file (run go test ./internal/retention -update): %v", err)
	}
	if string(want) != string(got) {
		t.Errorf("%s differs; review, then run go test ./internal/retention -update:\n--- want\n%s\n--- got\n%s", path, want, got)
	}
}

func ptr[T any](v T) *T { return &v }
