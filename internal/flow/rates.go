package flow

import (
	"math"

	v1 "github.com/logplane/logplane/api/v1alpha1"
)

// Delta is what one Fluent Bit process did between two scrapes of it, per output
// section. A counter lower than before means the process restarted or hot-reloaded
// (Fluent Bit 5.1 starts every counter from zero then): everything counted since is
// the delta. Restarts are also recognised from uptime and the reload count, for a
// counter that happens to have climbed back above its old value.
func Delta(prev, cur *Sample) map[string]OutputCounters {
	restarted := cur.Uptime < prev.Uptime || cur.HotReloads != prev.HotReloads
	out := make(map[string]OutputCounters, len(cur.Outputs))
	for name, c := range cur.Outputs {
		p, seen := prev.Outputs[name]
		if !seen || restarted {
			out[name] = c
			continue
		}
		out[name] = OutputCounters{
			Records: increase(p.Records, c.Records),
			Bytes:   increase(p.Bytes, c.Bytes),
			Dropped: increase(p.Dropped, c.Dropped),
			Retried: increase(p.Retried, c.Retried),
			Errors:  increase(p.Errors, c.Errors),
		}
	}
	return out
}

func increase(prev, cur float64) float64 {
	if cur < prev {
		return cur // reset of this series
	}
	return cur - prev
}

// Add sums counters, for one output section across pods or several sections of a
// pipeline.
func (c OutputCounters) Add(o OutputCounters) OutputCounters {
	return OutputCounters{Records: c.Records + o.Records, Bytes: c.Bytes + o.Bytes,
		Dropped: c.Dropped + o.Dropped, Retried: c.Retried + o.Retried, Errors: c.Errors + o.Errors}
}

// Figures turns counts over a window of seconds into the rates a status shows: whole
// numbers per second and the drop ratio in basis points of what was offered
// (delivered + dropped), each rounded to two significant figures. The rounding is
// what keeps status quiet: 1,234 and 1,241 records/s both read 1,200, so a steady
// pipeline's status is not rewritten on every window.
func Figures(c OutputCounters, seconds float64) v1.Figures {
	if seconds <= 0 {
		return v1.Figures{}
	}
	rate := func(n float64) int64 { return int64(math.Round(significant(n / seconds))) }
	f := v1.Figures{
		RecordsPerSecond:        rate(c.Records),
		BytesPerSecond:          rate(c.Bytes),
		DroppedRecordsPerSecond: rate(c.Dropped),
		RetriedRecordsPerSecond: rate(c.Retried),
		ErrorsPerSecond:         rate(c.Errors),
	}
	if offered := c.Records + c.Dropped; offered > 0 {
		f.DropRatioBasisPoints = int32(math.Round(significant(c.Dropped / offered * 10000)))
	}
	return f
}
