package render

import (
	"strings"
	"testing"
)

// The sidecar's main file carries the only service section and includes the
// pipelines' fragments in the order the webhook gives them.
func TestSidecarMainGolden(t *testing.T) {
	data, err := SidecarMain([]string{"pipelines/a/fluent-bit.yaml", "pipelines/b/fluent-bit.yaml"})
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "sidecar-main.yaml", data)
}

// An include that could alter the file's structure is refused, not written.
func TestSidecarMainRefusesUnsafeIncludes(t *testing.T) {
	if _, err := SidecarMain([]string{"a.yaml\nservice:"}); err == nil || !strings.Contains(err.Error(), "include") {
		t.Fatalf("got %v, want an include error", err)
	}
}
