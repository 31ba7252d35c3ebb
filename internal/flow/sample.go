// Package flow turns Fluent Bit's metrics into the flow figures logplane reports: how
// many records each pipeline delivers, drops and retries. This file reads one scrape.
package flow

import (
	"fmt"
	"io"

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

// Parse reads Fluent Bit's Prometheus text exposition.
func Parse(r io.Reader) (*Sample, error) {
	p := expfmt.NewTextParser(model.UTF8Validation)
	families, err := p.TextToMetricFamilies(r)
	if err != nil {
		return nil, fmt.Errorf("failed to parse metrics: %w", err)
	}
	s := &Sample{Outputs: map[string]OutputCounters{}, Inputs: map[string]InputCounters{}, BufferUsed: map[string]float64{}}
	s.Uptime = single(families["fluentbit_uptime"])
	s.HotReloads = single(families["fluentbit_hot_reloaded_times"])
	outputs := []struct {
		metric string
		set    func(*OutputCounters, float64)
	}{
		{"fluentbit_output_proc_records_total", func(c *OutputCounters, v float64) { c.Records = v }},
		{"fluentbit_output_proc_bytes_total", func(c *OutputCounters, v float64) { c.Bytes = v }},
		{"fluentbit_output_dropped_records_total", func(c *OutputCounters, v float64) { c.Dropped = v }},
		{"fluentbit_output_retried_records_total", func(c *OutputCounters, v float64) { c.Retried = v }},
		{"fluentbit_output_errors_total", func(c *OutputCounters, v float64) { c.Errors = v }},
	}
	for _, o := range outputs {
		for name, v := range byName(families[o.metric]) {
			c := s.Outputs[name]
			o.set(&c, v)
			s.Outputs[name] = c
		}
	}
	inputs := []struct {
		metric string
		set    func(*InputCounters, float64)
	}{
		{"fluentbit_input_records_total", func(c *InputCounters, v float64) { c.Records = v }},
		{"fluentbit_input_bytes_total", func(c *InputCounters, v float64) { c.Bytes = v }},
		{"fluentbit_input_storage_chunks", func(c *InputCounters, v float64) { c.StorageChunks = v }},
	}
	for _, in := range inputs {
		for name, v := range byName(families[in.metric]) {
			c := s.Inputs[name]
			in.set(&c, v)
			s.Inputs[name] = c
		}
	}
	for name, free := range byName(families["fluentbit_output_chunk_available_capacity_percent"]) {
		s.BufferUsed[name] = 100 - free
	}
	return s, nil
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
