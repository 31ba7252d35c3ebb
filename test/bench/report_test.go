package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	goldenfile "github.com/logplane/logplane/test/golden"
)

func TestPercentile(t *testing.T) {
	fifty := make([]float64, 50)
	for i := range fifty {
		fifty[i] = float64(50 - i) // 50..1, unsorted
	}
	cases := []struct {
		xs   []float64
		p    float64
		want float64
	}{
		{nil, 50, 0},
		{[]float64{7}, 99, 7},
		{[]float64{3, 1, 2}, 50, 2},
		{fifty, 50, 25},
		{fifty, 99, 50}, // nearest rank: with 50 samples p99 is the largest
		{fifty, 100, 50},
	}
	for _, c := range cases {
		if got := percentile(c.xs, c.p); got != c.want {
			t.Errorf("percentile(%v, %v) = %v, want %v", c.xs, c.p, got, c.want)
		}
	}
}

func TestParseAgentMetrics(t *testing.T) {
	metrics := `# HELP controller_runtime_reconcile_total Total number of reconciliations per controller
# TYPE controller_runtime_reconcile_total counter
controller_runtime_reconcile_total{controller="agent",result="error"} 2
controller_runtime_reconcile_total{controller="agent",result="success"} 17
controller_runtime_reconcile_total{controller="other",result="success"} 5
controller_runtime_reconcile_errors_total{controller="agent"} 2
controller_runtime_reconcile_time_seconds_sum{controller="agent"} 4.5
controller_runtime_reconcile_time_seconds_count{controller="agent"} 19
controller_runtime_reconcile_time_seconds_sum{controller="other"} 9
`
	got, err := parseAgentMetrics(strings.NewReader(metrics))
	if want := (agentMetrics{reconciles: 19, seconds: 4.5}); err != nil || got != want {
		t.Errorf("got %+v, %v; want %+v", got, err, want)
	}
}

// The markdown report of a fixed result matches testdata/bench.md (go test -update).
func TestMarkdownGolden(t *testing.T) {
	r := &Report{
		Started:  time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC),
		Machine:  Machine{CPUs: 2, CPUModel: "Test CPU", GoVersion: "go1.26.8", LoadAverage: "1.00 1.00 1.00", Note: "shared machine."},
		Settings: Settings{PerNamespace: 20, Outputs: 3, ClusterOutputs: 2, Edits: 50, QuietSeconds: 60, Concurrency: 20, QPS: 50, Burst: 100},
		Runs: []Run{{
			Shape: Shape{Pipelines: 2000, PerNamespace: 20, Outputs: 3, ClusterOutputs: 2}, Namespaces: 100, Created: 2303,
			Filters: map[string]int{"grep": 1200, "parse": 1200},
			Converge: Convergence{CreateSeconds: 46.1, ConfigCompleteSeconds: 46.25, ConfigAfterLastCreateSeconds: 0.15,
				ConditionsSeconds: 46.3, ConvergedSeconds: 46.3, BusyAfterConfigSeconds: 1.2, CPUSeconds: 7.5,
				PipelinesInConfig: 2000, PipelinesConfigGenerated: 2000, AgentReconciles: 40,
				Writes: Writes{Total: 2100, Secrets: 9, ByResource: map[string]int{"patch logpipelines/status": 2000, "patch secrets": 9, "patch daemonsets": 91}}},
			Latency:    Latency{Edits: 50, P50Ms: 40, P99Ms: 120.5, MaxMs: 120.5, AgentReconciles: 50, MeanReconcileMs: 35.2, CPUSeconds: 2.5},
			Quiet:      Quiet{Seconds: 60, Writes: Writes{ByResource: map[string]int{}}, ResyncReconciles: 1, ResyncWrites: Writes{Total: 7, Secrets: 2, Failed: 1, ByResource: map[string]int{"patch secrets": 2, "patch daemonsets": 5}}},
			Restart:    Restart{IdleSeconds: 3.5, CPUSeconds: 4.2, AgentReconciles: 2, Writes: Writes{ByResource: map[string]int{}}},
			CPUSeconds: 12.3, PeakRSSBytes: 80 << 20, ConfigSecrets: 2, ConfigBytes: 1500000,
		}, {
			Shape: Shape{Pipelines: 5000}, Namespaces: 250, Error: "convergence: 4000 of 5000 pipelines in the configuration, 0 ConfigGenerated: timed out",
		}},
	}
	var b bytes.Buffer
	if err := r.WriteMarkdown(&b); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("testdata", "bench.md")
	if goldenfile.Updating() {
		if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b.Bytes(), want) {
		t.Errorf("markdown differs from %s (go test ./test/bench -run Golden -update):\n%s", path, b.String())
	}
}
