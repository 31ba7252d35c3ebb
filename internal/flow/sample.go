// Package flow turns Fluent Bit's metrics into the flow figures logplane reports: how
// many records each pipeline delivers, drops and retries. This file reads one scrape.
package flow

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"sync"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// OutputCounters are one output section's counters, as Fluent Bit reports them.
type OutputCounters struct {
	// Records and Bytes count what the output processed, after its processors: records
	// a pipeline's own filters discard are not losses.
	Records float64
	Bytes   float64
	// Dropped counts records given up after the retry limit or refused for good.
	Dropped float64
	// Retried counts every retry attempt of a record, so it can exceed Records.
	Retried float64
	Errors  float64
}

// InputCounters are one input section's counters.
type InputCounters struct {
	Records float64
	Bytes   float64
	// StorageChunks is how many chunks the input holds (a backlog when it grows).
	StorageChunks float64
}

// Sample is one scrape of one Fluent Bit process, by section name (alias).
type Sample struct {
	// Uptime and HotReloads tell a restart or reload apart, after which every counter
	// starts again from zero.
	Uptime     float64
	HotReloads float64
	Outputs    map[string]OutputCounters
	Inputs     map[string]InputCounters
	// BufferUsed is, per output, how full its buffer is in percent of its limit
	// (storage.total_limit_size); absent when the output has no limit.
	BufferUsed map[string]float64
}

// The series a Sample is made of. Everything else Fluent Bit exposes (histograms of
// latency and backpressure, storage, logger, routing: three quarters of the lines of
// an agent's exposition, more with every output) is skipped before parsing.
var (
	outputMetrics = []struct {
		metric string
		set    func(*OutputCounters, float64)
	}{
		{"fluentbit_output_proc_records_total", func(c *OutputCounters, v float64) { c.Records = v }},
		{"fluentbit_output_proc_bytes_total", func(c *OutputCounters, v float64) { c.Bytes = v }},
		{"fluentbit_output_dropped_records_total", func(c *OutputCounters, v float64) { c.Dropped = v }},
		{"fluentbit_output_retried_records_total", func(c *OutputCounters, v float64) { c.Retried = v }},
		{"fluentbit_output_errors_total", func(c *OutputCounters, v float64) { c.Errors = v }},
	}
	inputMetrics = []struct {
		metric string
		set    func(*InputCounters, float64)
	}{
		{"fluentbit_input_records_total", func(c *InputCounters, v float64) { c.Records = v }},
		{"fluentbit_input_bytes_total", func(c *InputCounters, v float64) { c.Bytes = v }},
		{"fluentbit_input_storage_chunks", func(c *InputCounters, v float64) { c.StorageChunks = v }},
	}
	metricUptime     = "fluentbit_uptime"
	metricHotReloads = "fluentbit_hot_reloaded_times"
	metricCapacity   = "fluentbit_output_chunk_available_capacity_percent"
	wanted           = func() map[string]bool {
		w := map[string]bool{metricUptime: true, metricHotReloads: true, metricCapacity: true}
		for _, o := range outputMetrics {
			w[o.metric] = true
		}
		for _, in := range inputMetrics {
			w[in.metric] = true
		}
		return w
	}()
)

// MaxExposition bounds what one scrape of an agent reads: an agent with thousands of
// outputs writes a few MiB (measured on Fluent Bit 5.1.1: about 2.4 KB per output
// section with 120-character names, 6.4 KB with every name at the API's limit); more
// is not Fluent Bit, and must not cost the operator its memory. Agents are the
// operator's own pods in its namespace.
const MaxExposition = 16 << 20

// SidecarMaxExposition bounds what one scrape of an injected sidecar reads. A sidecar
// runs the file-input pipelines that select its pod. Measured on Fluent Bit 5.1.1
// (internal/sidecar TestLargestSidecarMetricsFitTheScrapeLimit): the largest sidecar
// configuration one pipeline renders to (16 outputs and 16 cluster outputs, every
// name at the API's limit) exposes 211 KB; a typical pipeline (two outputs, short
// names) about 12 KB. 1 MiB holds 5 pipelines at the limits, 85 typical ones.
// Tenants write their pods: a larger answer is cut, not read, and the pipelines of
// its namespace say the sidecars could not be read.
const SidecarMaxExposition = 1 << 20

// buffers are reused across scrapes: a cycle over 1,000 pods reads tens of MiB.
var buffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// ErrTooLarge is a metrics answer over its limit: cut after the limit, never parsed.
var ErrTooLarge = errors.New("metrics answer too large")

// Parse reads Fluent Bit's Prometheus text exposition, up to MaxExposition bytes.
func Parse(r io.Reader) (*Sample, error) { return ParseLimit(r, MaxExposition) }

// ParseLimit reads Fluent Bit's Prometheus text exposition of at most limit bytes;
// reading stops one byte past it. Only the series a Sample holds reach the
// Prometheus text parser (see keepWanted), so a malformed series logplane does not
// read does not void the others.
func ParseLimit(r io.Reader, limit int64) (*Sample, error) {
	buf := buffers.Get().(*bytes.Buffer)
	defer buffers.Put(buf)
	buf.Reset()
	if _, err := buf.ReadFrom(io.LimitReader(r, limit+1)); err != nil {
		return nil, fmt.Errorf("failed to read metrics: %w", err)
	}
	if int64(buf.Len()) > limit {
		return nil, fmt.Errorf("%w: more than %d bytes, not read", ErrTooLarge, limit)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	families, err := p.TextToMetricFamilies(bytes.NewReader(keepWanted(buf.Bytes())))
	if err != nil {
		return nil, fmt.Errorf("failed to parse metrics: %w", err)
	}
	s := &Sample{Outputs: map[string]OutputCounters{}, Inputs: map[string]InputCounters{}, BufferUsed: map[string]float64{}}
	s.Uptime = single(families[metricUptime])
	s.HotReloads = single(families[metricHotReloads])
	for _, o := range outputMetrics {
		for name, v := range byName(families[o.metric]) {
			c := s.Outputs[name]
			o.set(&c, v)
			s.Outputs[name] = c
		}
	}
	for _, in := range inputMetrics {
		for name, v := range byName(families[in.metric]) {
			c := s.Inputs[name]
			in.set(&c, v)
			s.Inputs[name] = c
		}
	}
	for name, free := range byName(families[metricCapacity]) {
		s.BufferUsed[name] = 100 - free
	}
	return s, nil
}

// keepWanted compacts text, in place, to the lines of wanted families: their samples
// and their # HELP and # TYPE lines, in their order. It only picks lines by the
// metric name they start with; the parser reads them.
func keepWanted(text []byte) []byte {
	out := text[:0]
	for len(text) > 0 {
		line := text
		if i := bytes.IndexByte(text, '\n'); i >= 0 {
			line, text = text[:i+1], text[i+1:]
		} else {
			text = nil
		}
		if wanted[string(metricName(line))] {
			out = append(out, line...) // never overtakes the line being read
		}
	}
	return out
}

// metricName is the family a line of the text format belongs to: the name a sample
// starts with, or the one a # HELP or # TYPE comment names; nil for anything else.
// It skips blanks and ends names where the text parser does.
func metricName(line []byte) []byte {
	line = bytes.TrimLeft(line, " \t")
	if rest, ok := bytes.CutPrefix(line, []byte("#")); ok {
		rest = bytes.TrimLeft(rest, " \t")
		end := bytes.IndexAny(rest, " \t\r\n")
		if end < 0 {
			return nil
		}
		if keyword := string(rest[:end]); keyword != "HELP" && keyword != "TYPE" {
			return nil
		}
		line = bytes.TrimLeft(rest[end:], " \t")
	}
	end := 0
	for end < len(line) && isNameByte(line[end], end == 0) {
		end++
	}
	return line[:end]
}

// isNameByte: a metric name is [a-zA-Z_:][a-zA-Z0-9_:]*.
func isNameByte(b byte, first bool) bool {
	return b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b == '_' || b == ':' || !first && b >= '0' && b <= '9'
}

// byName maps the "name" label (the section's alias) to the metric's value.
func byName(f *dto.MetricFamily) map[string]float64 {
	out := map[string]float64{}
	if f == nil {
		return out
	}
	for _, m := range f.GetMetric() {
		for _, l := range m.GetLabel() {
			if l.GetName() == "name" {
				out[l.GetValue()] = value(m)
			}
		}
	}
	return out
}

// single is the value of a metric family with one series, such as uptime.
func single(f *dto.MetricFamily) float64 {
	if f == nil || len(f.GetMetric()) == 0 {
		return 0
	}
	return value(f.GetMetric()[0])
}

func value(m *dto.Metric) float64 {
	switch {
	case m.Counter != nil:
		return m.GetCounter().GetValue()
	case m.Gauge != nil:
		return m.GetGauge().GetValue()
	case m.Untyped != nil:
		return m.GetUntyped().GetValue()
	}
	return 0
}
