package render

import (
	"path/filepath"
	"testing"

	goldenfile "github.com/logplane/logplane/test/golden"
)

// golden compares got with testdata/<name>, or rewrites it under -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	goldenfile.Compare(t, filepath.Join("testdata", name), got)
}
