package flow

import (
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Tracker turns scrape cycles into rates per output section (alias), summed over every
// process that runs it. It keeps each process's last good sample: a missed scrape
// only widens the next window, a process that disappears stops counting, and a new
// one counts from its second sample on.
type Tracker struct {
	last map[string]Result
}

// NewTracker returns a tracker with no history.
func NewTracker() *Tracker { return &Tracker{last: map[string]Result{}} }

// Observe takes one cycle's results. It returns per-second rates per alias (as
// OutputCounters in units per second) and the longest window they cover; an alias
// appears once at least one of its processes has two samples.
func (t *Tracker) Observe(results []Result) (rates map[string]OutputCounters, window time.Duration) {
	rates = map[string]OutputCounters{}
	seen := map[string]bool{}
	for _, r := range results {
		seen[r.Target.Key] = true
		if r.Err != nil || r.Sample == nil {
			continue // keep the previous sample: the next window spans the gap
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
		window = max(window, w)
		secs := w.Seconds()
		for alias, d := range Delta(prev.Sample, r.Sample) {
			rates[alias] = rates[alias].Add(OutputCounters{
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
	return rates, window
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
