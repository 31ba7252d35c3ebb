package flow

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/logplane/logplane/internal/flow"
)

// Metrics are the operator's own series about flow: per-pipeline rates (unrounded,
// for alerting) and the health of measurement itself.
type Metrics struct {
	rates     map[string]*prometheus.GaugeVec
	targets   prometheus.Gauge
	failed    prometheus.Gauge
	cycles    *prometheus.CounterVec
	durations prometheus.Histogram
}

var pipelineLabels = []string{"kind", "namespace", "name"}

// NewMetrics registers the series on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	gauge := func(name, help string) *prometheus.GaugeVec {
		return prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "logplane_pipeline_" + name, Help: help}, pipelineLabels)
	}
	m := &Metrics{
		rates: map[string]*prometheus.GaugeVec{
			"records": gauge("records_per_second", "Records per second a pipeline delivered, over the last measurement window."),
			"bytes":   gauge("bytes_per_second", "Bytes per second a pipeline delivered, over the last measurement window."),
			"dropped": gauge("dropped_records_per_second", "Records per second a pipeline dropped after retries or refusal."),
			"retried": gauge("retried_records_per_second", "Record retry attempts per second of a pipeline."),
			"errors":  gauge("errors_per_second", "Output errors per second of a pipeline."),
			"buffer":  gauge("buffer_used_percent", "How full the fullest output buffer of a pipeline is, in percent of its limit."),
		},
		targets: prometheus.NewGauge(prometheus.GaugeOpts{Name: "logplane_flow_targets", Help: "Fluent Bit processes read in the last measurement cycle."}),
		failed:  prometheus.NewGauge(prometheus.GaugeOpts{Name: "logplane_flow_target_failures", Help: "Fluent Bit processes that could not be read in the last measurement cycle."}),
		cycles: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "logplane_flow_cycles_total", Help: "Measurement cycles, by result."},
			[]string{"result"}),
		durations: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "logplane_flow_cycle_duration_seconds",
			Help: "How long one measurement cycle took.", Buckets: prometheus.ExponentialBuckets(0.01, 2, 12)}),
	}
	for k, g := range m.rates {
		m.rates[k] = register(reg, g)
	}
	m.targets, m.failed = register(reg, m.targets), register(reg, m.failed)
	m.cycles, m.durations = register(reg, m.cycles), register(reg, m.durations)
	return m
}

// register registers c, or returns the collector already registered under its name
// (a second manager in one process, as in tests).
func register[T prometheus.Collector](reg prometheus.Registerer, c T) T {
	if err := reg.Register(c); err != nil {
		if are, ok := err.(prometheus.AlreadyRegisteredError); ok {
			if existing, ok := are.ExistingCollector.(T); ok {
				return existing
			}
		}
		panic(err)
	}
	return c
}

func (m *Metrics) observeCycle(c flow.Cycle, err error, took time.Duration) {
	if m == nil {
		return
	}
	result := "ok"
	if err != nil || c.Targets > 0 && c.Failed == c.Targets {
		result = "failed"
	} else if c.Failed > 0 {
		result = "partial"
	}
	m.cycles.WithLabelValues(result).Inc()
	m.targets.Set(float64(c.Targets))
	m.failed.Set(float64(c.Failed))
	m.durations.Observe(took.Seconds())
}

// setPipelines replaces every pipeline's series with this cycle's, so a deleted
// pipeline's series disappears.
func (m *Metrics) setPipelines(measured map[flow.PipelineKey]*flow.Measure) {
	if m == nil {
		return
	}
	for _, g := range m.rates {
		g.Reset()
	}
	for k, me := range measured {
		var total flow.OutputCounters
		for _, o := range me.Outputs {
			total = total.Add(o)
		}
		labels := []string{k.Kind, k.Namespace, k.Name}
		m.rates["records"].WithLabelValues(labels...).Set(total.Records)
		m.rates["bytes"].WithLabelValues(labels...).Set(total.Bytes)
		m.rates["dropped"].WithLabelValues(labels...).Set(total.Dropped)
		m.rates["retried"].WithLabelValues(labels...).Set(total.Retried)
		m.rates["errors"].WithLabelValues(labels...).Set(total.Errors)
		m.rates["buffer"].WithLabelValues(labels...).Set(me.BufferUsed)
	}
}
