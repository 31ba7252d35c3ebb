package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Report is the whole benchmark's output, written as bench.json and bench.md.
type Report struct {
	Started  time.Time `json:"started"`
	Machine  Machine   `json:"machine"`
	Settings Settings  `json:"settings"`
	Runs     []Run     `json:"runs"`
}

// Machine describes where the numbers were taken; they mean little without it.
type Machine struct {
	CPUs      int    `json:"cpus"`
	CPUModel  string `json:"cpuModel,omitempty"`
	Kernel    string `json:"kernel,omitempty"`
	GoVersion string `json:"goVersion"`
	// LoadAverage at the start (1, 5, 15 min): other work on the machine skews timings.
	LoadAverage string `json:"loadAverage,omitempty"`
	Note        string `json:"note,omitempty"`
}

// Settings are the flags that shaped the runs.
type Settings struct {
	PerNamespace   int     `json:"pipelinesPerNamespace"`
	Outputs        int     `json:"logOutputsPerNamespace"`
	ClusterOutputs int     `json:"clusterLogOutputs"`
	Edits          int     `json:"edits"`
	QuietSeconds   float64 `json:"quietSeconds"`
	Concurrency    int     `json:"createConcurrency"`
	QPS            float64 `json:"createQPS"`
	Burst          int     `json:"createBurst"`
	Profiling      bool    `json:"profiling"`
}

// Run is the measurement at one N.
type Run struct {
	Shape      Shape          `json:"shape"`
	Namespaces int            `json:"namespaces"`
	Created    int            `json:"customResourcesCreated"`
	Filters    map[string]int `json:"filtersByType"`
	Converge   Convergence    `json:"converge"`
	Latency    Latency        `json:"oneChangeLatency"`
	Quiet      Quiet          `json:"quiet"`
	Restart    Restart        `json:"restart"`
	// CPUSeconds and PeakRSSBytes cover the first operator process's whole life
	// (convergence, edits, quiet minute, resync); PeakRSSBytes also the restarted one.
	CPUSeconds    float64  `json:"operatorCPUSeconds"`
	PeakRSSBytes  int64    `json:"peakRSSBytes"`
	ConfigSecrets int      `json:"configSecrets"`
	ConfigBytes   int      `json:"configBytes"`
	Profiles      []string `json:"profiles,omitempty"`
	Error         string   `json:"error,omitempty"`
}

// Convergence is from the first create of a logplane resource until the operator is idle.
type Convergence struct {
	CreateSeconds float64 `json:"createSeconds"`
	// ConfigCompleteSeconds: first create → the configuration holds every pipeline.
	ConfigCompleteSeconds float64 `json:"configCompleteSeconds"`
	// ConfigAfterLastCreateSeconds: last create returned → configuration complete
	// (negative when the configuration was complete before the last create returned).
	ConfigAfterLastCreateSeconds float64 `json:"configAfterLastCreateSeconds"`
	// ConditionsSeconds: first create → every pipeline reports ConfigGenerated=True.
	ConditionsSeconds float64 `json:"conditionsSeconds"`
	// ConvergedSeconds is the later of the two: both hold.
	ConvergedSeconds float64 `json:"convergedSeconds"`
	// BusyAfterConfigSeconds: configuration complete → the operator went idle (less
	// than 2% CPU for 2 s).
	BusyAfterConfigSeconds float64 `json:"busyAfterConfigSeconds"`
	// CPUSeconds the operator used from the first create until idle.
	CPUSeconds               float64 `json:"cpuSeconds"`
	PipelinesInConfig        int     `json:"pipelinesInConfig"`
	PipelinesConfigGenerated int     `json:"pipelinesConfigGenerated"`
	AgentReconciles          int     `json:"agentReconciles"`
	// Writes by the operator from the first create until idle.
	Writes Writes `json:"writes"`
}

// Latency is from an update call until the new bytes are in the configuration Secret.
type Latency struct {
	Edits     int       `json:"edits"`
	P50Ms     float64   `json:"p50Ms"`
	P99Ms     float64   `json:"p99Ms"`
	MaxMs     float64   `json:"maxMs"`
	Missed    int       `json:"missed"`
	SamplesMs []float64 `json:"samplesMs"`
	// Over the whole edit phase: agent reconciles, their mean duration (wall time, from
	// controller-runtime's histogram) and the operator's CPU.
	AgentReconciles int     `json:"agentReconciles"`
	MeanReconcileMs float64 `json:"meanReconcileMs"`
	CPUSeconds      float64 `json:"cpuSeconds"`
}

// Quiet is a window with no changes, then a forced full resync: a label touched on every
// bench namespace queues every agent for a full render and apply of unchanged input.
type Quiet struct {
	Seconds          float64 `json:"seconds"`
	Writes           Writes  `json:"writes"`
	ResyncSeconds    float64 `json:"resyncSeconds"`
	ResyncReconciles int     `json:"resyncAgentReconciles"`
	ResyncCPUSeconds float64 `json:"resyncCPUSeconds"`
	ResyncWrites     Writes  `json:"resyncWrites"`
}

// Restart is a new operator process started against the N existing objects.
type Restart struct {
	IdleSeconds       float64 `json:"idleSeconds"`
	CPUSeconds        float64 `json:"cpuSeconds"`
	AgentReconciles   int     `json:"agentReconciles"`
	Writes            Writes  `json:"writes"`
	PeakRSSBytes      int64   `json:"peakRSSBytes"`
	PipelinesInConfig int     `json:"pipelinesInConfig"`
}

// percentile is the nearest-rank percentile p (0-100) of xs: with 50 samples p99 is
// the largest.
func percentile(xs []float64, p float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	rank := int(math.Ceil(p / 100 * float64(len(s))))
	return s[min(max(rank, 1), len(s))-1]
}

func seconds(d time.Duration) float64 { return math.Round(d.Seconds()*1000) / 1000 }

func ms(d time.Duration) float64 { return math.Round(float64(d.Microseconds())/10) / 100 }

func mib(b int64) float64 { return math.Round(float64(b)/(1<<20)*10) / 10 }

// Targets from issue #10, for N = 2,000 pipelines with filters and outputs.
var targets = []struct {
	name, target string
	value        func(Run) string
	met          func(Run) bool
}{
	{"config complete after last create (s)", "≤ 0.2", func(r Run) string { return f3(r.Converge.ConfigAfterLastCreateSeconds) },
		func(r Run) bool { return r.Converge.ConfigAfterLastCreateSeconds <= 0.2 }},
	{"busy after config complete (s)", "≤ 2", func(r Run) string { return f3(r.Converge.BusyAfterConfigSeconds) },
		func(r Run) bool { return r.Converge.BusyAfterConfigSeconds <= 2 }},
	{"CPU until idle (s)", "≤ 8", func(r Run) string { return f3(r.Converge.CPUSeconds) },
		func(r Run) bool { return r.Converge.CPUSeconds <= 8 }},
	{"Secret writes while converging", "≤ 10", func(r Run) string { return fmt.Sprint(r.Converge.Writes.Secrets) },
		func(r Run) bool { return r.Converge.Writes.Secrets <= 10 }},
	{"one-change p99 (ms)", "≤ 100", func(r Run) string { return f1(r.Latency.P99Ms) },
		func(r Run) bool { return r.Latency.P99Ms <= 100 && r.Latency.Missed == 0 }},
	{"restart CPU (s)", "≤ 5", func(r Run) string { return f3(r.Restart.CPUSeconds) },
		func(r Run) bool { return r.Restart.CPUSeconds <= 5 }},
	{"restart writes", "0", func(r Run) string { return fmt.Sprint(r.Restart.Writes.Total) },
		func(r Run) bool { return r.Restart.Writes.Total == 0 }},
	{"peak RSS (MiB)", "≤ 100", func(r Run) string { return f1(mib(r.PeakRSSBytes)) },
		func(r Run) bool { return mib(r.PeakRSSBytes) <= 100 }},
	{"no-op writes (quiet + resync)", "0", func(r Run) string { return fmt.Sprint(r.Quiet.Writes.Total + r.Quiet.ResyncWrites.Total) },
		func(r Run) bool { return r.Quiet.Writes.Total+r.Quiet.ResyncWrites.Total == 0 }},
}

func f1(v float64) string { return fmt.Sprintf("%.1f", v) }
func f3(v float64) string { return fmt.Sprintf("%.3f", v) }

// WriteMarkdown writes the summary: one row per N, the targets and the
// fluent-operator reference beside them, then what was written and the targets met.
func (r *Report) WriteMarkdown(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# logplane scale benchmark\n\n")
	fmt.Fprintf(&b, "%s; %d CPUs (%s), load average at start %s, %s. %s\n\n", r.Started.UTC().Format(time.RFC3339),
		r.Machine.CPUs, r.Machine.CPUModel, r.Machine.LoadAverage, r.Machine.GoVersion, r.Machine.Note)
	fmt.Fprintf(&b, "Workload: %d pipelines per namespace, %d LogOutputs per namespace, %d ClusterLogOutputs; "+
		"created by %d workers at %s QPS (burst %d); %d one-change edits; quiet window %gs.\n\n",
		r.Settings.PerNamespace, r.Settings.Outputs, r.Settings.ClusterOutputs, r.Settings.Concurrency,
		qps(r.Settings.QPS), r.Settings.Burst, r.Settings.Edits, r.Settings.QuietSeconds)
	b.WriteString("Definitions: times start at the first create of a logplane resource; *config after last create* ends when the " +
		"agent's configuration Secrets (all shards) hold every pipeline; *converged* also needs every pipeline to report " +
		"ConfigGenerated=True for its generation; *idle* is the start of the first 2 s in which the operator used < 2 % of a core; " +
		"writes are the operator's API writes (its own user in the API server's audit log, failed ones included) from the first " +
		"create until idle; *one-change* is an update call until its new value is seen in a config Secret (watch); " +
		"*resync* labels every bench namespace, which queues every agent to render and apply unchanged input; " +
		"*restart* starts a new operator process against the existing objects (time from exec to idle).\n\n")
	b.WriteString("| N | namespaces | in config / ConfigGenerated | create (s) | converged (s) | config after last create (s) | busy after config (s) | CPU until idle (s) | Secret writes | all writes | one-change p50 / p99 (ms) | quiet + resync writes | restart idle (s) | restart CPU (s) | restart writes | peak RSS (MiB) |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	b.WriteString("| target, N = 2,000 | | N / N | | | ≤ 0.2 | ≤ 2 | ≤ 8 | ≤ 10 | | – / ≤ 100 | 0 | | ≤ 5 | 0 | ≤ 100 |\n")
	b.WriteString("| fluent-operator, 2,000 bare outputs (issue #10) | | | | | 0.16 | 56 | 79 | 98 | | 128 / 213 | | | 81 | | 103 |\n")
	for _, run := range r.Runs {
		c := run.Converge
		fmt.Fprintf(&b, "| %d | %d | %d / %d | %s | %s | %s | %s | %s | %d | %d | %s / %s | %d + %d | %s | %s | %d | %s |\n",
			run.Shape.Pipelines, run.Namespaces, c.PipelinesInConfig, c.PipelinesConfigGenerated,
			f3(c.CreateSeconds), f3(c.ConvergedSeconds), f3(c.ConfigAfterLastCreateSeconds), f3(c.BusyAfterConfigSeconds),
			f3(c.CPUSeconds), c.Writes.Secrets, c.Writes.Total, f1(run.Latency.P50Ms), f1(run.Latency.P99Ms),
			run.Quiet.Writes.Total, run.Quiet.ResyncWrites.Total, f3(run.Restart.IdleSeconds), f3(run.Restart.CPUSeconds),
			run.Restart.Writes.Total, f1(mib(run.PeakRSSBytes)))
	}
	for _, run := range r.Runs {
		fmt.Fprintf(&b, "\n## N = %d\n\n", run.Shape.Pipelines)
		if run.Error != "" {
			fmt.Fprintf(&b, "**Incomplete:** %s\n\n", run.Error)
		}
		fmt.Fprintf(&b, "- configuration: %d Secret(s), %d bytes; filters %s\n", run.ConfigSecrets, run.ConfigBytes, filterSummary(run.Filters))
		fmt.Fprintf(&b, "- writes while converging (%d agent reconciles): %s\n", run.Converge.AgentReconciles, orNone(run.Converge.Writes))
		fmt.Fprintf(&b, "- writes in the quiet window: %s\n", orNone(run.Quiet.Writes))
		fmt.Fprintf(&b, "- writes in the resync (%d agent reconciles, %s CPU-s): %s\n", run.Quiet.ResyncReconciles, f3(run.Quiet.ResyncCPUSeconds), orNone(run.Quiet.ResyncWrites))
		fmt.Fprintf(&b, "- writes after restart (%d agent reconciles): %s\n", run.Restart.AgentReconciles, orNone(run.Restart.Writes))
		fmt.Fprintf(&b, "- one-change latency over %d edits: p50 %s ms, p99 %s ms, max %s ms, missed %d; %d agent reconciles of %s ms on average, %s CPU-s\n",
			run.Latency.Edits, f1(run.Latency.P50Ms), f1(run.Latency.P99Ms), f1(run.Latency.MaxMs), run.Latency.Missed,
			run.Latency.AgentReconciles, f1(run.Latency.MeanReconcileMs), f3(run.Latency.CPUSeconds))
		fmt.Fprintf(&b, "- operator over the first process's life: %s CPU-s\n", f3(run.CPUSeconds))
		b.WriteString("\n| target (issue #10, N = 2,000) | measured | target | met |\n|---|---|---|---|\n")
		for _, t := range targets {
			met := "no"
			if t.met(run) {
				met = "yes"
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", t.name, t.value(run), t.target, met)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func qps(q float64) string {
	if q <= 0 {
		return "unlimited"
	}
	return fmt.Sprint(q)
}

func orNone(w Writes) string {
	if w.Total == 0 {
		return "none"
	}
	s := fmt.Sprintf("%d (%s)", w.Total, w.String())
	if w.Failed > 0 {
		s += fmt.Sprintf(", %d failed", w.Failed)
	}
	return s
}

func filterSummary(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%d %s", m[k], k)
	}
	return strings.Join(parts, ", ")
}

// save writes bench.json and bench.md into dir.
func (r *Report) save(dir string) error {
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "bench.json"), append(data, '\n'), 0o644); err != nil {
		return err
	}
	f, err := os.Create(filepath.Join(dir, "bench.md"))
	if err != nil {
		return err
	}
	if err := r.WriteMarkdown(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
