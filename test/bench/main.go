// Command bench is `make bench`: it measures the operator at scale on a local control
// plane (kube-apiserver + etcd with an audit log, no nodes), with the operator built
// from this tree running as its own process so its CPU and memory are its own.
//
//	go run ./test/bench [-n 100,500,2000] [-out .local/bench] [-operator bin/logplane] [-quiet 60s] [-pprof]
//
// For each N it creates N LogPipelines with filters over N/20 namespaces with their
// outputs, as Argo CD would, and reports: time to converge (configuration Secrets hold
// every pipeline and every pipeline reports ConfigGenerated=True), time until the
// operator is idle (< 2% CPU for 2 s), CPU-seconds, API writes by verb and resource
// (counted exactly from the API server's audit log, the operator authenticating as its
// own user), one-change latency, writes in a quiet window and a forced resync, the cost
// of a restart, and peak RSS. It writes bench.json and bench.md to -out and never fails
// on a timing: targets are reported, not asserted.
//
// The forced full resync labels every bench namespace: namespace labels select cluster
// pipelines, so the operator queues every agent, which renders and applies input that
// did not change — it should write nothing. (A restart is the other full resync and is
// measured on its own.)
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/logplane/logplane/test/testenv"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// envtest logs through controller-runtime; the benchmark reports, it does not log.
	ctrllog.SetLogger(logr.Discard())
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, argv []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	ns := fs.String("n", "100,500,2000", "comma-separated numbers of LogPipelines, one run each")
	out := fs.String("out", filepath.Join(".local", "bench"), "directory for bench.json, bench.md and each run's logs")
	operator := fs.String("operator", "", "operator binary (run as `BINARY manager`); empty builds ./cmd/logplane into -out")
	cfg := &Config{Log: stderr}
	fs.IntVar(&cfg.Shape.PerNamespace, "per-namespace", 20, "pipelines per namespace")
	fs.IntVar(&cfg.Shape.Outputs, "outputs", 3, "LogOutputs per namespace (loki, elasticsearch, cloudwatchLogs, http, kafka in turn)")
	fs.IntVar(&cfg.Shape.ClusterOutputs, "cluster-outputs", 2, "ClusterLogOutputs open to every bench namespace; every third pipeline uses one")
	fs.IntVar(&cfg.Edits, "edits", 50, "single-pipeline edits timed for the one-change latency")
	fs.DurationVar(&cfg.Quiet, "quiet", time.Minute, "quiet window with no changes, before the forced resync")
	fs.IntVar(&cfg.Concurrency, "concurrency", 20, "parallel creates (Argo CD's default kubectl parallelism is 20)")
	fs.Float64Var(&cfg.QPS, "qps", 50, "client QPS for the creates (Argo CD's default is 50); 0 is unlimited")
	fs.IntVar(&cfg.Burst, "burst", 100, "client burst for the creates (Argo CD's default is 100)")
	fs.BoolVar(&cfg.Pprof, "pprof", false, "run the operator with --pprof-address and save CPU profiles of convergence and restart, and a heap profile")
	fs.IntVar(&cfg.ProfileSeconds, "profile-seconds", 30, "length of each CPU profile")
	fs.DurationVar(&cfg.Timeout, "timeout", 10*time.Minute, "longest wait for any one phase")
	note := fs.String("note", "", "free text recorded with the machine description (for example, what else ran)")
	if err := fs.Parse(argv); err != nil {
		return err
	}
	sizes, err := parseSizes(*ns)
	if err != nil {
		return err
	}
	if cfg.Edits < 1 {
		return errors.New("-edits must be at least 1")
	}
	if cfg.Shape.Outputs < 1 && cfg.Shape.ClusterOutputs < 1 {
		return errors.New("a pipeline needs an output: set -outputs or -cluster-outputs")
	}
	if cfg.OutDir, err = filepath.Abs(*out); err != nil {
		return err
	}
	if err := os.MkdirAll(cfg.OutDir, 0o755); err != nil {
		return err
	}
	if *operator == "" {
		if *operator, err = buildOperator(ctx, cfg.OutDir, stderr); err != nil {
			return err
		}
	}
	cfg.Operator = []string{*operator, "manager"}

	report := &Report{Started: time.Now(), Machine: describeMachine(*note), Settings: Settings{
		PerNamespace: cfg.Shape.PerNamespace, Outputs: cfg.Shape.Outputs, ClusterOutputs: cfg.Shape.ClusterOutputs,
		Edits: cfg.Edits, QuietSeconds: cfg.Quiet.Seconds(), Concurrency: cfg.Concurrency, QPS: cfg.QPS, Burst: cfg.Burst,
		Profiling: cfg.Pprof}}
	var failed []error
	for _, n := range sizes {
		r, err := runOne(ctx, cfg, n)
		if err != nil {
			r.Error = err.Error()
			failed = append(failed, fmt.Errorf("N=%d: %w", n, err))
			cfg.say("N=%d: %v", n, err)
		}
		report.Runs = append(report.Runs, *r)
		// Saved after every run, so a long benchmark leaves its numbers even if stopped.
		if err := report.save(cfg.OutDir); err != nil {
			return err
		}
		if ctx.Err() != nil {
			break
		}
	}
	if err := report.WriteMarkdown(stdout); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "\nWritten: %s, %s\n", filepath.Join(cfg.OutDir, "bench.json"), filepath.Join(cfg.OutDir, "bench.md"))
	return errors.Join(failed...)
}

func parseSizes(s string) ([]int, error) {
	var out []int
	for f := range strings.SplitSeq(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("-n: %q is not a positive number", f)
		}
		out = append(out, n)
	}
	return out, nil
}

// buildOperator builds the operator from this tree into dir.
func buildOperator(ctx context.Context, dir string, log io.Writer) (string, error) {
	bin := filepath.Join(dir, "logplane")
	fmt.Fprintf(log, "[bench] building %s\n", bin)
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", bin, "./cmd/logplane")
	cmd.Dir = testenv.RepoRoot()
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build: %w\n%s", err, out)
	}
	return bin, nil
}

func describeMachine(note string) Machine {
	m := Machine{CPUs: runtime.NumCPU(), GoVersion: runtime.Version(), Note: note}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		if f := strings.Fields(string(b)); len(f) >= 3 {
			m.LoadAverage = strings.Join(f[:3], " ")
		}
	}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.SplitSeq(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPUModel = strings.TrimSpace(v)
				break
			}
		}
	}
	return m
}
