package retention

import (
	"path/filepath"
	"testing"

	goldenfile "github.com/logplane/logplane/test/golden"
)

func ptr[T any](v T) *T { return &v }

// golden compares got with testdata/<name>, or rewrites it under -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	goldenfile.Compare(t, filepath.Join("testdata", name), got)
}
