package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/flowcontrol"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/logplane/logplane/api/v1alpha1"
	"github.com/logplane/logplane/internal/manager"
	"github.com/logplane/logplane/test/testenv"
)

const operatorNamespace = "logplane-system"

var errTimeout = errors.New("timed out")

// Config is how the benchmark runs.
type Config struct {
	Operator       []string
	OutDir         string
	Shape          Shape // Pipelines is set per run
	Edits          int
	Quiet          time.Duration
	Concurrency    int
	QPS            float64
	Burst          int
	Pprof          bool
	ProfileSeconds int
	Timeout        time.Duration
	Log            io.Writer
}

func (c *Config) say(format string, args ...any) {
	fmt.Fprintf(c.Log, "[bench] "+format+"\n", args...)
}

// bench is one run at one N: its control plane, operator process and observations.
type bench struct {
	cfg        *Config
	dir        string
	env        *testenv.Env
	kubeconfig string
	client     client.WithWatch // the benchmark's own, unthrottled
	creator    client.Client    // creates the workload at Argo CD's pace
	op         *testenv.Operator
	sampler    *sampler
	metrics    string // the operator's metrics URL
	pprof      string // the operator's pprof base URL, or ""
	profiles   sync.WaitGroup
	run        *Run
}

// runOne measures one N on a fresh control plane, so runs do not disturb each other.
func runOne(ctx context.Context, cfg *Config, n int) (run *Run, err error) {
	shape := cfg.Shape
	shape.Pipelines = n
	run = &Run{Shape: shape, Namespaces: shape.Namespaces()}
	w, err := BuildWorkload(shape)
	if err != nil {
		return run, err
	}
	run.Filters = w.Filters
	run.Created = len(w.Resources)

	b := &bench{cfg: cfg, dir: filepath.Join(cfg.OutDir, fmt.Sprintf("n-%d", n)), run: run}
	if err := os.MkdirAll(b.dir, 0o755); err != nil {
		return run, err
	}
	auditLog := filepath.Join(b.dir, "audit.log")
	_ = os.Remove(auditLog)
	policy := filepath.Join(b.dir, "audit-policy.yaml")
	if err := os.WriteFile(policy, []byte(auditPolicy), 0o644); err != nil {
		return run, err
	}
	cfg.say("N=%d: starting a control plane with an audit log (%s)", n, auditLog)
	b.env, err = testenv.Start(
		testenv.WithAPIServerFlag("audit-policy-file", policy),
		testenv.WithAPIServerFlag("audit-log-path", auditLog),
		testenv.WithAPIServerFlag("audit-log-format", "json"),
		testenv.WithAPIServerFlag("audit-log-mode", "blocking"))
	if err != nil {
		return run, err
	}
	defer func() { _ = b.env.Stop(context.Background()) }()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	phases := &phases{}
	err = b.measure(ctx, w, phases)
	if b.op != nil {
		_ = b.op.Stop()
	}
	// The audit log is read once the operator has stopped, so every write is in it.
	events, aerr := readAudit(auditLog)
	if aerr != nil {
		return run, errors.Join(err, aerr)
	}
	phases.count(events, run)
	return run, err
}

// phases are the time windows the audit log is counted over.
type phases struct {
	converge, quiet, resync, restart [2]time.Time
}

func (p *phases) count(events []auditEvent, run *Run) {
	c := func(w [2]time.Time) Writes {
		if w[0].IsZero() || w[1].IsZero() {
			return Writes{ByResource: map[string]int{}}
		}
		return countWrites(events, operatorUser, w[0], w[1])
	}
	run.Converge.Writes = c(p.converge)
	run.Quiet.Writes = c(p.quiet)
	run.Quiet.ResyncWrites = c(p.resync)
	run.Restart.Writes = c(p.restart)
}

func (b *bench) measure(ctx context.Context, w *Workload, ph *phases) error {
	cfg, run := b.cfg, b.run
	var err error
	b.kubeconfig = filepath.Join(b.dir, "kubeconfig")
	if err := b.env.WriteKubeconfigFor(b.kubeconfig, operatorUser); err != nil {
		return err
	}
	own := rest.CopyConfig(b.env.Config)
	own.RateLimiter = flowcontrol.NewFakeAlwaysRateLimiter()
	if b.client, err = client.NewWithWatch(own, client.Options{Scheme: manager.NewScheme()}); err != nil {
		return err
	}
	paced := rest.CopyConfig(b.env.Config)
	if cfg.QPS > 0 {
		paced.QPS, paced.Burst = float32(cfg.QPS), cfg.Burst
	} else {
		paced.RateLimiter = flowcontrol.NewFakeAlwaysRateLimiter()
	}
	if b.creator, err = client.New(paced, client.Options{Scheme: manager.NewScheme()}); err != nil {
		return err
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: operatorNamespace}}
	if err := b.client.Create(ctx, ns); err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}

	obs := newObserver(w.Pipelines)
	obs.start(ctx, b.client, operatorNamespace)
	if err := b.startOperator(ctx, "operator.log"); err != nil {
		return err
	}
	if _, _, err := b.sampler.waitIdle(ctx, time.Now(), cfg.Timeout); err != nil {
		return fmt.Errorf("waiting for the operator to settle after start: %w", err)
	}

	// Argo CD's first wave: namespaces and Secrets before the custom resources.
	if err := b.create(ctx, w.Setup); err != nil {
		return err
	}
	if _, _, err := b.sampler.waitIdle(ctx, time.Now(), cfg.Timeout); err != nil {
		return fmt.Errorf("waiting for the operator after the namespaces: %w", err)
	}

	// Convergence.
	reconciles0, _ := b.reconciles()
	cfg.say("N=%d: creating %d custom resources (%d pipelines)", run.Shape.Pipelines, len(w.Resources), len(w.Pipelines))
	t0 := time.Now()
	b.profile("converge", cfg.ProfileSeconds)
	if err := b.create(ctx, w.Resources); err != nil {
		return err
	}
	lastCreate := time.Now()
	run.Converge.CreateSeconds = seconds(lastCreate.Sub(t0))
	configComplete, generated, err := obs.converged(ctx, cfg.Timeout)
	run.Converge.PipelinesInConfig, run.Converge.PipelinesConfigGenerated, run.ConfigSecrets, run.ConfigBytes = obs.state()
	if err != nil {
		ph.converge = [2]time.Time{t0, time.Now()}
		return fmt.Errorf("convergence: %d of %d pipelines in the configuration, %d ConfigGenerated: %w",
			run.Converge.PipelinesInConfig, run.Shape.Pipelines, run.Converge.PipelinesConfigGenerated, err)
	}
	converged := later(configComplete, generated)
	idle, idleKnown, err := b.sampler.waitIdle(ctx, later(converged, lastCreate), cfg.Timeout)
	if err != nil {
		return err
	}
	ph.converge = [2]time.Time{t0, idleKnown}
	samples, _ := b.sampler.snapshot()
	c := &run.Converge
	c.ConfigCompleteSeconds = seconds(configComplete.Sub(t0))
	c.ConfigAfterLastCreateSeconds = seconds(configComplete.Sub(lastCreate))
	c.ConditionsSeconds = seconds(generated.Sub(t0))
	c.ConvergedSeconds = seconds(converged.Sub(t0))
	c.BusyAfterConfigSeconds = seconds(max(0, idle.Sub(configComplete)))
	c.CPUSeconds = seconds(cpuAt(samples, idleKnown) - cpuAt(samples, t0))
	if r, err := b.reconciles(); err == nil {
		c.AgentReconciles = r - reconciles0
	}
	run.Converge.PipelinesInConfig, run.Converge.PipelinesConfigGenerated, run.ConfigSecrets, run.ConfigBytes = obs.state()
	cfg.say("N=%d: converged in %.3fs (config complete %.3fs after the last create), idle %.3fs later, %.3f CPU-s",
		run.Shape.Pipelines, c.ConvergedSeconds, c.ConfigAfterLastCreateSeconds, c.BusyAfterConfigSeconds, c.CPUSeconds)
	b.heapProfile("converge")

	if err := b.edits(ctx, obs, w.Pipelines); err != nil {
		return err
	}
	// The last edits' rollout may be held back for the operator's rollout interval; it
	// goes out at its end, and belongs to the edits, not to the quiet window.
	sleep(ctx, rolloutInterval)
	if _, _, err := b.sampler.waitIdle(ctx, time.Now(), cfg.Timeout); err != nil {
		return err
	}

	// A quiet window, then a forced full resync.
	cfg.say("N=%d: quiet for %v, then a full resync", run.Shape.Pipelines, cfg.Quiet)
	ph.quiet[0] = time.Now()
	sleep(ctx, cfg.Quiet)
	ph.quiet[1] = time.Now()
	run.Quiet.Seconds = seconds(ph.quiet[1].Sub(ph.quiet[0]))
	reconciles0, _ = b.reconciles()
	ph.resync[0] = time.Now()
	if err := b.touchNamespaces(ctx, run.Namespaces); err != nil {
		return err
	}
	if err := b.waitReconciles(ctx, reconciles0+1); err != nil {
		return fmt.Errorf("resync: %w", err)
	}
	_, idleKnown, err = b.sampler.waitIdle(ctx, ph.resync[0], cfg.Timeout)
	if err != nil {
		return err
	}
	ph.resync[1] = idleKnown
	samples, hwm := b.sampler.snapshot()
	run.Quiet.ResyncSeconds = seconds(idleKnown.Sub(ph.resync[0]))
	run.Quiet.ResyncCPUSeconds = seconds(cpuAt(samples, idleKnown) - cpuAt(samples, ph.resync[0]))
	if r, err := b.reconciles(); err == nil {
		run.Quiet.ResyncReconciles = r - reconciles0
	}

	// Restart against the N existing objects.
	b.profiles.Wait()
	run.CPUSeconds = seconds(samples[len(samples)-1].CPU)
	run.PeakRSSBytes = hwm
	_ = b.op.Stop()
	b.sampler.stop()
	if _, hwm := b.sampler.snapshot(); hwm > run.PeakRSSBytes {
		run.PeakRSSBytes = hwm
	}
	cfg.say("N=%d: restarting the operator", run.Shape.Pipelines)
	ph.restart[0] = time.Now()
	if err := b.startOperator(ctx, "operator-restart.log"); err != nil {
		return err
	}
	b.profile("restart", cfg.ProfileSeconds)
	if err := b.waitReconciles(ctx, 1); err != nil {
		return fmt.Errorf("restart: %w", err)
	}
	idle, idleKnown, err = b.sampler.waitIdle(ctx, ph.restart[0], cfg.Timeout)
	if err != nil {
		return err
	}
	ph.restart[1] = idleKnown
	samples, hwm = b.sampler.snapshot()
	run.Restart.IdleSeconds = seconds(idle.Sub(ph.restart[0]))
	run.Restart.CPUSeconds = seconds(cpuAt(samples, idleKnown))
	run.Restart.PeakRSSBytes = hwm
	run.PeakRSSBytes = max(run.PeakRSSBytes, hwm)
	if r, err := b.reconciles(); err == nil {
		run.Restart.AgentReconciles = r
	}
	run.Restart.PipelinesInConfig, _, _, _ = obs.state()
	b.profiles.Wait()
	return nil
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// startOperator runs the operator as its own process with metrics (plain HTTP, for
// the reconcile counter) and optionally pprof on free ports, and samples it.
func (b *bench) startOperator(ctx context.Context, logName string) error {
	mport, err := testenv.FreePort()
	if err != nil {
		return err
	}
	wport, err := testenv.FreePort()
	if err != nil {
		return err
	}
	// A webhook port and certificate directory of its own: tests run other operators
	// on this machine at the same time.
	args := []string{"--metrics-bind-address=127.0.0.1:" + strconv.Itoa(mport), "--metrics-secure=false",
		"--min-rollout-interval=" + rolloutInterval.String(),
		// No kubelet runs canary pods here; internal/canary's BenchmarkBurst counts the
		// canary runs of a burst.
		"--canary=false",
		"--webhook-port=" + strconv.Itoa(wport), "--webhook-cert-dir=" + filepath.Join(b.dir, "webhook-certs")}
	b.metrics = fmt.Sprintf("http://127.0.0.1:%d/metrics", mport)
	b.pprof = ""
	if b.cfg.Pprof {
		pport, err := testenv.FreePort()
		if err != nil {
			return err
		}
		args = append(args, "--pprof-address=127.0.0.1:"+strconv.Itoa(pport))
		b.pprof = fmt.Sprintf("http://127.0.0.1:%d/debug/pprof", pport)
	}
	b.op, err = testenv.StartOperator(ctx, testenv.OperatorOptions{Command: b.cfg.Operator, Kubeconfig: b.kubeconfig,
		Namespace: operatorNamespace, LogPath: filepath.Join(b.dir, logName), Args: args})
	if err != nil {
		return err
	}
	b.sampler = startSampler(b.op.Pid())
	return nil
}

// create creates objects with cfg.Concurrency workers in order, as Argo CD syncs a wave.
func (b *bench) create(ctx context.Context, objs []*unstructured.Unstructured) error {
	work := make(chan *unstructured.Unstructured)
	errs := make(chan error, len(objs))
	var wg sync.WaitGroup
	for range max(1, b.cfg.Concurrency) {
		wg.Go(func() {
			for o := range work {
				if err := b.creator.Create(ctx, o.DeepCopy()); err != nil {
					errs <- fmt.Errorf("failed to create %s %s: %w", o.GetKind(), testenv.ObjectKey(o), err)
				}
			}
		})
	}
	for _, o := range objs {
		work <- o
	}
	close(work)
	wg.Wait()
	close(errs)
	return errors.Join(slicesFrom(errs)...)
}

func slicesFrom(ch chan error) []error {
	var out []error
	for err := range ch {
		out = append(out, err)
	}
	return out
}

// rolloutInterval is the operator's --min-rollout-interval in the bench.
const rolloutInterval = 10 * time.Second

// edits changes one pipeline at a time and times the update call until its new value
// is in the configuration Secret.
func (b *bench) edits(ctx context.Context, obs *observer, pipelines []string) error {
	run := b.run
	run.Latency.Edits = b.cfg.Edits
	// One profile at a time: the convergence profile must have ended.
	b.profiles.Wait()
	b.profile("edits", b.cfg.ProfileSeconds)
	m0, _ := b.agentMetrics()
	start0 := time.Now()
	for k := range b.cfg.Edits {
		key := pipelines[k*len(pipelines)/b.cfg.Edits%len(pipelines)]
		ns, name, _ := strings.Cut(key, "/")
		var p v1.LogPipeline
		if err := b.client.Get(ctx, types.NamespacedName{Namespace: ns, Name: name}, &p); err != nil {
			return err
		}
		marker := fmt.Sprintf("bench-edit-%04d-z", k)
		setEditField(&p, marker)
		seen := obs.expect(marker)
		start := time.Now()
		if err := b.client.Update(ctx, &p); err != nil {
			obs.forget(marker)
			return fmt.Errorf("edit %d of %s: %w", k, key, err)
		}
		select {
		case at := <-seen:
			run.Latency.SamplesMs = append(run.Latency.SamplesMs, ms(at.Sub(start)))
		case <-time.After(30 * time.Second):
			obs.forget(marker)
			run.Latency.Missed++
		case <-ctx.Done():
			return ctx.Err()
		}
		sleep(ctx, 200*time.Millisecond) // let the edit's status write land before the next
	}
	if m, err := b.agentMetrics(); err == nil && m.reconciles > m0.reconciles {
		run.Latency.AgentReconciles = int(m.reconciles - m0.reconciles)
		run.Latency.MeanReconcileMs = ms(time.Duration((m.seconds - m0.seconds) / (m.reconciles - m0.reconciles) * float64(time.Second)))
	}
	samples, _ := b.sampler.snapshot()
	run.Latency.CPUSeconds = seconds(cpuAt(samples, time.Now()) - cpuAt(samples, start0))
	run.Latency.P50Ms = percentile(run.Latency.SamplesMs, 50)
	run.Latency.P99Ms = percentile(run.Latency.SamplesMs, 99)
	run.Latency.MaxMs = percentile(run.Latency.SamplesMs, 100)
	b.cfg.say("N=%d: one-change latency p50 %.1f ms, p99 %.1f ms over %d edits (%d missed)",
		run.Shape.Pipelines, run.Latency.P50Ms, run.Latency.P99Ms, run.Latency.Edits, run.Latency.Missed)
	return nil
}

// setEditField sets the benchmark's own addFields field to value, adding the filter on
// the first edit.
func setEditField(p *v1.LogPipeline, value string) {
	for i := range p.Spec.Filters {
		f := &p.Spec.Filters[i]
		if f.Type == v1.FilterAddFields && f.AddFields != nil && len(f.AddFields.Fields) == 1 && f.AddFields.Fields[0].Key == editField {
			f.AddFields.Fields[0].Value = v1.ConfigString(value)
			return
		}
	}
	p.Spec.Filters = append(p.Spec.Filters, v1.Filter{Type: v1.FilterAddFields,
		AddFields: &v1.AddFieldsFilter{Fields: []v1.KeyValue{{Key: editField, Value: v1.ConfigString(value)}}}})
}

// touchNamespaces changes a label on every bench namespace: the operator watches
// namespace labels (they select cluster pipelines) and queues every agent, which then
// renders and applies unchanged input. Nothing should be written.
func (b *bench) touchNamespaces(ctx context.Context, n int) error {
	stamp := strconv.FormatInt(time.Now().UnixNano(), 10)
	for i := range n {
		patch := fmt.Appendf(nil, `{"metadata":{"labels":{%q:%q}}}`, resyncLabel, stamp)
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespaceName(i)}}
		if err := b.client.Patch(ctx, ns, client.RawPatch(types.MergePatchType, patch)); err != nil {
			return fmt.Errorf("failed to label namespace %s: %w", ns.Name, err)
		}
	}
	return nil
}

// reconciles reads the agent controller's reconcile count from the operator's metrics.
func (b *bench) reconciles() (int, error) {
	m, err := b.agentMetrics()
	return int(m.reconciles), err
}

// agentMetrics reads the agent controller's reconcile figures from the operator.
func (b *bench) agentMetrics() (agentMetrics, error) {
	resp, err := http.Get(b.metrics)
	if err != nil {
		return agentMetrics{}, err
	}
	defer resp.Body.Close()
	return parseAgentMetrics(resp.Body)
}

// agentMetrics are controller-runtime's counters for the agent controller: reconciles
// (all results) and the total time spent in them.
type agentMetrics struct {
	reconciles, seconds float64
}

// parseAgentMetrics reads controller_runtime_reconcile_total (summed over results)
// and controller_runtime_reconcile_time_seconds_sum for the agent controller from
// Prometheus text.
func parseAgentMetrics(r io.Reader) (agentMetrics, error) {
	var m agentMetrics
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		line := sc.Text()
		var into *float64
		switch {
		case !strings.Contains(line, `controller="agent"`):
			continue
		case strings.HasPrefix(line, "controller_runtime_reconcile_total{"):
			into = &m.reconciles
		case strings.HasPrefix(line, "controller_runtime_reconcile_time_seconds_sum{"):
			into = &m.seconds
		default:
			continue
		}
		f := strings.Fields(line)
		v, err := strconv.ParseFloat(f[len(f)-1], 64)
		if err != nil {
			return m, fmt.Errorf("bad metric line %q: %w", line, err)
		}
		*into += v
	}
	return m, sc.Err()
}

// waitReconciles waits until the agent controller has reconciled at least n times.
func (b *bench) waitReconciles(ctx context.Context, n int) error {
	deadline := time.After(b.cfg.Timeout)
	for {
		if r, err := b.reconciles(); err == nil && r >= n {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-deadline:
			return fmt.Errorf("fewer than %d agent reconciles within %v", n, b.cfg.Timeout)
		case <-b.op.Exited():
			return fmt.Errorf("the operator exited: %v", b.op.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// profile records a CPU profile of the operator for the next secs seconds, in the
// background, when profiling is on.
func (b *bench) profile(phase string, secs int) {
	if b.pprof == "" || secs <= 0 {
		return
	}
	url := fmt.Sprintf("%s/profile?seconds=%d", b.pprof, secs)
	path := filepath.Join(b.dir, phase+".cpu.pprof")
	b.run.Profiles = append(b.run.Profiles, path)
	b.profiles.Go(func() {
		if err := download(url, path); err != nil {
			b.cfg.say("profile %s: %v", phase, err)
		}
	})
}

// heapProfile saves the operator's heap profile, when profiling is on.
func (b *bench) heapProfile(phase string) {
	if b.pprof == "" {
		return
	}
	path := filepath.Join(b.dir, phase+".heap.pprof")
	if err := download(b.pprof+"/heap", path); err != nil {
		b.cfg.say("heap profile %s: %v", phase, err)
		return
	}
	b.run.Profiles = append(b.run.Profiles, path)
}

func download(url, path string) error {
	resp, err := http.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", url, resp.Status)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
