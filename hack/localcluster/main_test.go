package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/logplane/logplane/test/fbrun"
	"github.com/logplane/logplane/test/testenv"
)

// `make run` is the README's first command: the local control plane comes up, the
// operator built from this tree starts against it and gets ready, and every sample is
// accepted.
func TestMakeRunFlow(t *testing.T) {
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		t.Fatal("KUBEBUILDER_ASSETS is not set: run `make test`")
	}
	bin := filepath.Join(t.TempDir(), "logplane")
	build := exec.Command("go", "build", "-o", bin, "./cmd/logplane")
	build.Dir = testenv.RepoRoot()
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}

	dir := t.TempDir()
	var out bytes.Buffer
	err := run(t.Context(), []string{"-dir", dir, "-for", "3s", "--", bin, "manager"}, &out)
	if err != nil {
		log, _ := os.ReadFile(filepath.Join(dir, "operator.log"))
		t.Fatalf("run: %v\noutput:\n%s\noperator log:\n%s", err, out.String(), log)
	}
	for _, want := range []string{"The control plane is up", filepath.Join(dir, "kubeconfig"),
		"Rendered agent configuration: " + filepath.Join(dir, "agents", "default", "fluent-bit.yaml")} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	if _, err := exec.LookPath("kubectl"); err == nil && !strings.Contains(out.String(), "logpipeline.logging.logplane.dev/everything") {
		t.Errorf("kubectl get logplane does not list the samples:\n%s", out.String())
	}
	for _, f := range []string{"kubeconfig", "agents/default/fluent-bit.yaml"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Error(err)
		}
	}
	bin, why := agentUnavailable()
	if bin == "" {
		if os.Getenv(fbrun.EnvBinary) != "" {
			t.Fatalf("%s is set, but the local agent cannot run: %s", fbrun.EnvBinary, why)
		}
		// Each sample pipeline tells why it is not Ready: no agent runs here.
		if _, err := exec.LookPath("kubectl"); err == nil && !strings.Contains(out.String(), "AgentNotReady") {
			t.Errorf("kubectl get logplane -o wide does not show the reason:\n%s", out.String())
		}
		if !strings.Contains(out.String(), "No local agent ran: ") {
			t.Errorf("the output does not say why no agent ran:\n%s", out.String())
		}
		return
	}
	// With Fluent Bit, the main job shows: the demo pipeline is Ready with records
	// flowing (18 a second are written past its grep).
	if _, err := exec.LookPath("kubectl"); err == nil && !demoFlowing.MatchString(out.String()) {
		log, _ := os.ReadFile(filepath.Join(dir, "operator.log"))
		t.Errorf("kubectl get logplane does not show demo/web Ready with records/s:\n%s\noperator log:\n%s", out.String(), log)
	}
}

var demoFlowing = regexp.MustCompile(`(?m)^demo\s+logpipeline\.logging\.logplane\.dev/web\s+True\s+1[5-9]\s`)
