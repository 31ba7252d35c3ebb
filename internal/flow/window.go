package flow

import (
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/logplane/logplane/internal/alias"
)

// Cycle is what one round of measurement found, per output section (alias).
type Cycle struct {
	// Rates are per second, summed over every process that runs the section.
	Rates map[string]OutputCounters
	// BufferUsed is the fullest buffer of the section among those processes, in percent.
	BufferUsed map[string]float64
	// Reported are the sections some process showed this cycle, with a rate or not
	// yet (a process read for the first time has counters but no rate).
	Reported map[string]bool
	// Window is the longest time the rates cover; zero when no rate could be taken.
	Window time.Duration
	// Targets and Failed count the processes read and those that could not be;
	// Errors says why, for the first few of the operator's own processes (agents).
	// A sidecar's error names a tenant's pod, so it is kept for its namespace only
	// (FailedNamespaces).
	Targets, Failed int
	Errors          []string
	// Carried counts the failed processes whose last rates stand in for this cycle.
	Carried int
	// FailedNamespaces are the namespaces of failed namespace-scoped processes
	// (sidecars) that had no rates to carry, each with the first error, so that
	// their pipelines can say they could not be read rather than that nothing runs
	// them.
	FailedNamespaces map[string]string
}

// maxErrors keeps a cycle's error list short however many pods fail.
const maxErrors = 3

// Tracker turns scrape cycles into rates per output section (alias), summed over every
// process that runs it. It keeps each process's last good sample: a missed scrape
// only widens the next window, a process that disappears stops counting (and is
// forgotten, so pods that come and go, such as Jobs', cost nothing once gone), and a
// new one counts from its second sample on.
//
// A process that was read last cycle but not this one (a timeout, a pod busy
// reloading) has its last rates carried forward, once. Without that, each pipeline
// it runs would show only the other pods' share for one window: a dip that rewrites
// status twice (down, then back up) and can flip a verdict, for a process that most
// likely kept working. Its next good sample spans the gap, so nothing it did is lost
// from the figures; a second miss in a row carries nothing, so a pod that is really
// gone stops counting after one window.
type Tracker struct {
	targets map[string]*tracked
}

// tracked is what the tracker remembers of one process.
type tracked struct {
	last Result // the last good sample, scoped (see scoped)
	// rates and window are the last ones measured; nil before a second sample.
	rates  map[string]OutputCounters
	window time.Duration
	// carried is set once rates stood in for a missed cycle, until the next good one.
	carried bool
}

// NewTracker returns a tracker with no history.
func NewTracker() *Tracker { return &Tracker{targets: map[string]*tracked{}} }

// Observe takes one cycle's results. A section appears in the rates once at least one
// of its processes has two samples.
func (t *Tracker) Observe(results []Result) Cycle {
	c := Cycle{Rates: map[string]OutputCounters{}, BufferUsed: map[string]float64{}, Reported: map[string]bool{},
		FailedNamespaces: map[string]string{}, Targets: len(results)}
	seen := make(map[string]bool, len(results))
	for _, r := range results {
		seen[r.Target.Key] = true
		tr := t.targets[r.Target.Key]
		if r.Err != nil || r.Sample == nil {
			c.Failed++
			why := "no sample"
			if r.Err != nil {
				why = r.Err.Error()
			}
			if len(c.Errors) < maxErrors && r.Target.Namespace == "" {
				c.Errors = append(c.Errors, why)
			}
			if tr != nil && tr.rates != nil && !tr.carried {
				tr.carried = true
				c.Carried++
				c.add(tr.rates, tr.window, tr.last.Sample.BufferUsed)
			} else if ns := r.Target.Namespace; ns != "" && c.FailedNamespaces[ns] == "" {
				c.FailedNamespaces[ns] = why
			}
			continue // keep the previous sample: the next window spans the gap
		}
		r.Sample = scoped(r.Sample, r.Target.Namespace)
		if tr == nil {
			t.targets[r.Target.Key] = &tracked{last: r}
			c.add(nil, 0, r.Sample.BufferUsed)
			for alias := range r.Sample.Outputs {
				c.Reported[alias] = true
			}
			continue
		}
		prev := tr.last
		tr.last = r
		w := r.At.Sub(prev.At)
		if w <= 0 {
			c.add(nil, 0, r.Sample.BufferUsed)
			continue
		}
		secs := w.Seconds()
		rates := make(map[string]OutputCounters, len(r.Sample.Outputs))
		for alias, d := range Delta(prev.Sample, r.Sample) {
			rates[alias] = OutputCounters{
				Records: d.Records / secs, Bytes: d.Bytes / secs, Dropped: d.Dropped / secs,
				Retried: d.Retried / secs, Errors: d.Errors / secs,
			}
		}
		tr.rates, tr.window, tr.carried = rates, w, false
		c.add(rates, w, r.Sample.BufferUsed)
	}
	for key := range t.targets {
		if !seen[key] {
			delete(t.targets, key) // the pod is gone
		}
	}
	return c
}

// add counts one process's rates over window, and its buffers, into the cycle.
func (c *Cycle) add(rates map[string]OutputCounters, window time.Duration, buffers map[string]float64) {
	for alias, r := range rates {
		c.Rates[alias] = c.Rates[alias].Add(r)
		c.Reported[alias] = true
	}
	c.Window = max(c.Window, window)
	for alias, used := range buffers {
		c.BufferUsed[alias] = max(c.BufferUsed[alias], used)
	}
}

// scoped keeps of a sample the sections a process scoped to namespace may report:
// those of LogPipelines in that namespace. An empty namespace keeps everything.
func scoped(s *Sample, namespace string) *Sample {
	if namespace == "" {
		return s
	}
	mine := func(section string) bool {
		o, ok := alias.Decode(section)
		return ok && o.PipelineKind == alias.LogPipeline && o.Namespace == namespace
	}
	out := &Sample{Uptime: s.Uptime, HotReloads: s.HotReloads, Inputs: s.Inputs,
		Outputs: map[string]OutputCounters{}, BufferUsed: map[string]float64{}}
	for name, o := range s.Outputs {
		if mine(name) {
			out.Outputs[name] = o
		}
	}
	for name, used := range s.BufferUsed {
		if mine(name) {
			out.BufferUsed[name] = used
		}
	}
	return out
}

// Debouncer keeps a condition from flapping on one odd window: a new verdict must hold
// for Cycles consecutive windows before it replaces the reported one. The first
// verdict for a key is reported at once.
type Debouncer struct {
	Cycles  int
	current map[string]metav1.Condition
	pending map[string]pendingVerdict
}

type pendingVerdict struct {
	reason string
	count  int
}

// Settle returns the condition to report for key, given this window's verdict.
func (d *Debouncer) Settle(key string, verdict metav1.Condition) metav1.Condition {
	if d.current == nil {
		d.current, d.pending = map[string]metav1.Condition{}, map[string]pendingVerdict{}
	}
	cur, ok := d.current[key]
	if !ok || cur.Reason == verdict.Reason && cur.Status == verdict.Status {
		d.current[key] = verdict // same verdict: take the fresh message and figures
		delete(d.pending, key)
		return verdict
	}
	p := d.pending[key]
	if p.reason != verdict.Reason {
		p = pendingVerdict{reason: verdict.Reason}
	}
	p.count++
	if p.count >= d.Cycles {
		d.current[key] = verdict
		delete(d.pending, key)
		return verdict
	}
	d.pending[key] = p
	return cur
}

// Forget drops a key whose pipeline is gone.
func (d *Debouncer) Forget(key string) {
	delete(d.current, key)
	delete(d.pending, key)
}

// Retain forgets every key not in keep.
func (d *Debouncer) Retain(keep map[string]bool) {
	for key := range d.current {
		if !keep[key] {
			d.Forget(key)
		}
	}
}
