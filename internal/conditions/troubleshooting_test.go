package conditions

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"
)

// docs/troubleshooting.md has one section per reason, named exactly as the reason, and
// no section for a reason that is not in the catalogue.
func TestTroubleshootingCoversEveryReason(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "docs", "troubleshooting.md"))
	if err != nil {
		t.Fatal(err)
	}
	documented := map[string]bool{}
	for _, m := range regexp.MustCompile("(?m)^### `([A-Za-z]+)`$").FindAllStringSubmatch(string(data), -1) {
		documented[m[1]] = true
	}
	for reason := range messages {
		if !documented[reason] {
			t.Errorf("docs/troubleshooting.md has no section \"### `%s`\"", reason)
		}
	}
	for reason := range documented {
		if _, ok := messages[reason]; !ok {
			t.Errorf("docs/troubleshooting.md documents %s, which is not a reason in the catalogue", reason)
		}
	}
}
