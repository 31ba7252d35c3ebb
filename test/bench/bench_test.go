package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/logplane/logplane/test/testenv"
)

// The harness runs end to end at a tiny N: the report is well-formed and its counts
// agree with each other and with the workload. Timings are never asserted.
func TestBenchEndToEnd(t *testing.T) {
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		t.Fatal("KUBEBUILDER_ASSETS is not set: run `make test`")
	}
	bin := filepath.Join(t.TempDir(), "logplane")
	build := exec.Command("go", "build", "-o", bin, "./cmd/logplane")
	build.Dir = testenv.RepoRoot()
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out := t.TempDir()
	const n, edits = 5, 3
	var stdout, stderr bytes.Buffer
	err := run(t.Context(), []string{"-n", "5", "-edits", "3", "-quiet", "1s", "-qps", "0", "-operator", bin, "-out", out}, &stdout, &stderr)
	if err != nil {
		log, _ := os.ReadFile(filepath.Join(out, "n-5", "operator.log"))
		t.Fatalf("run: %v\n%s\noperator log:\n%s", err, stderr.String(), log)
	}

	data, err := os.ReadFile(filepath.Join(out, "bench.json"))
	if err != nil {
		t.Fatal(err)
	}
	var r Report
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		t.Fatalf("bench.json: %v", err)
	}
	if len(r.Runs) != 1 {
		t.Fatalf("%d runs, want 1", len(r.Runs))
	}
	run := r.Runs[0]
	c := run.Converge
	check := func(what string, ok bool) {
		t.Helper()
		if !ok {
			t.Errorf("%s; run: %+v", what, run)
		}
	}
	check("no error", run.Error == "")
	check("N pipelines in the configuration", c.PipelinesInConfig == n && run.Restart.PipelinesInConfig == n)
	check("N pipelines report ConfigGenerated", c.PipelinesConfigGenerated == n)
	check("writes while converging, Secrets among them", c.Writes.Total > 0 && c.Writes.Secrets > 0 && c.Writes.Secrets <= c.Writes.Total)
	check("every pipeline's status was written", c.Writes.ByResource["patch logpipelines/status"]+c.Writes.ByResource["update logpipelines/status"] >= n)
	for _, w := range []Writes{c.Writes, run.Quiet.Writes, run.Quiet.ResyncWrites, run.Restart.Writes} {
		sum := 0
		for _, v := range w.ByResource {
			sum += v
		}
		check("writes by resource add up to the total", sum == w.Total && w.Failed <= w.Total)
	}
	check("the agent reconciled while converging, in the resync and after the restart",
		c.AgentReconciles > 0 && run.Quiet.ResyncReconciles > 0 && run.Restart.AgentReconciles > 0)
	check("one latency sample per edit", run.Latency.Edits == edits && len(run.Latency.SamplesMs)+run.Latency.Missed == edits)
	check("percentiles from the samples", run.Latency.P50Ms <= run.Latency.P99Ms && run.Latency.P99Ms <= run.Latency.MaxMs)
	check("times are ordered", c.CreateSeconds >= 0 && c.ConfigCompleteSeconds > 0 && c.ConvergedSeconds >= c.ConfigCompleteSeconds &&
		c.ConvergedSeconds >= c.ConditionsSeconds && c.BusyAfterConfigSeconds >= 0 && run.Restart.IdleSeconds > 0)
	check("CPU and memory were measured", run.CPUSeconds > 0 && c.CPUSeconds >= 0 && c.CPUSeconds <= run.CPUSeconds &&
		run.PeakRSSBytes >= run.Restart.PeakRSSBytes && run.Restart.PeakRSSBytes > 0)
	check("the configuration was read", run.ConfigSecrets >= 1 && run.ConfigBytes > 0)
	// Created: the policy, the agent and the grant, the cluster outputs, the outputs, the pipelines.
	check("the workload is described", run.Namespaces == 1 && run.Created == 3+2+3+n && len(run.Filters) > 0)

	md, err := os.ReadFile(filepath.Join(out, "bench.md"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(md), "\n| 5 | 1 | 5 / 5 |") || !strings.Contains(stdout.String(), "| 5 | 1 | 5 / 5 |") {
		t.Errorf("bench.md or stdout lacks the N = 5 row:\n%s", md)
	}
}
