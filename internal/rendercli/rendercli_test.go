package rendercli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const samples = "../../config/samples"

func TestRenderPrintsTheAgentConfig(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := Run([]string{"-f", samples}, &stdout, &stderr)
	if !strings.Contains(stdout.String(), `alias: "lp_in_containers_0"`) {
		t.Fatalf("stdout lacks the container input:\n%s", stdout.String())
	}
	// Problems are one line per resource, and make the exit code non-zero.
	for _, line := range strings.Split(strings.TrimSpace(stderr.String()), "\n") {
		if line != "" && strings.Count(line, ": ") < 2 {
			t.Errorf("problem line not in kind/namespace/name: reason: message form: %q", line)
		}
	}
	if (stderr.Len() > 0) != (code == 1) {
		t.Errorf("exit code %d with problems %q", code, stderr.String())
	}
}

func TestRenderWritesEveryFile(t *testing.T) {
	dir := t.TempDir()
	var stdout, stderr bytes.Buffer
	Run([]string{"-f", samples, "--out", dir}, &stdout, &stderr)
	for _, want := range []string{
		"agents/default/fluent-bit.yaml",
		"events/fluent-bit.yaml",
		"sidecars/billing/billing-files/fluent-bit.yaml",
	} {
		if _, err := os.Stat(filepath.Join(dir, want)); err != nil {
			t.Errorf("missing %s: %v (stderr: %s)", want, err, stderr.String())
		}
	}
	if stdout.Len() != 0 {
		t.Errorf("--out printed to stdout: %s", stdout.String())
	}
}

func TestRenderReportsProblemsAndExitsNonZero(t *testing.T) {
	dir := t.TempDir()
	manifest := `apiVersion: logging.logplane.dev/v1alpha1
kind: LogPipeline
metadata: {name: web, namespace: team-a}
spec:
  input: {containers: {}}
  outputRefs: [missing]
`
	if err := os.WriteFile(filepath.Join(dir, "p.yaml"), []byte(manifest), 0o600); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	if code := Run([]string{"-f", dir}, &stdout, &stderr); code != 1 {
		t.Fatalf("exit code %d, want 1", code)
	}
	want := "LogPipeline/team-a/web: OutputNotFound: Output LogOutput/team-a/missing does not exist"
	if !strings.Contains(stderr.String(), want) {
		t.Errorf("stderr %q lacks %q", stderr.String(), want)
	}
}

func TestRenderUsageErrors(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := Run(nil, &stdout, &stderr); code != 2 {
		t.Errorf("no -f: exit %d, want 2", code)
	}
	if code := Run([]string{"-f", "/does/not/exist"}, &stdout, &stderr); code != 2 {
		t.Errorf("missing file: exit %d, want 2", code)
	}
}
