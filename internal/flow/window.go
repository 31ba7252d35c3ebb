package flow

import (
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Cycle is what one round of measurement found, per output section (alias).
type Cycle struct {
	// Rates are per second, summed over every process that runs the section.
	Rates map[string]OutputCounters
	// BufferUsed is the fullest buffer of the section among those processes, in percent.
	BufferUsed map[string]float64
	// Window is the longest time the rates cover; zero when no rate could be taken.
	Window time.Duration
	// Targets and Failed count the processes read and those that could not be;
	// Errors says why, for the first few.
	Targets, Failed int
	Errors          []string
}

// maxErrors keeps a cycle's error list short however many pods fail.
const maxErrors = 3

// Tracker turns scrape cycles into rates per output section (alias), summed over every
// process that runs it. It keeps each process's last good sample: a missed scrape
// only widens the next window, a process that disappears stops counting, and a new
// one counts from its second sample on.
type Tracker struct {
	last map[string]Result
}

// NewTracker returns a tracker with no history.
func NewTracker() *Tracker { return &Tracker{last: map[string]Result{}} }

// Observe takes one cycle's results. A section appears in the rates once at least one
// of its processes has two samples.
func (t *Tracker) Observe(results []Result) Cycle {
	c := Cycle{Rates: map[string]OutputCounters{}, BufferUsed: map[string]float64{}, Targets: len(results)}
	seen := map[string]bool{}
	for _, r := range results {
		seen[r.Target.Key] = true
		if r.Err != nil || r.Sample == nil {
			c.Failed++
			if len(c.Errors) < maxErrors && r.Err != nil {
				c.Errors = append(c.Errors, r.Err.Error())
			}
			continue // keep the previous sample: the next window spans the gap
		}
		for alias, used := range r.Sample.BufferUsed {
			c.BufferUsed[alias] = max(c.BufferUsed[alias], used)
		}
		prev, ok := t.last[r.Target.Key]
		t.last[r.Target.Key] = r
		if !ok {
			continue
		}
		w := r.At.Sub(prev.At)
		if w <= 0 {
			continue
		}
		c.Window = max(c.Window, w)
		secs := w.Seconds()
		for alias, d := range Delta(prev.Sample, r.Sample) {
			c.Rates[alias] = c.Rates[alias].Add(OutputCounters{
				Records: d.Records / secs, Bytes: d.Bytes / secs, Dropped: d.Dropped / secs,
				Retried: d.Retried / secs, Errors: d.Errors / secs,
			})
		}
	}
	for key := range t.last {
		if !seen[key] {
			delete(t.last, key) // the pod is gone
		}
	}
	return c
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
