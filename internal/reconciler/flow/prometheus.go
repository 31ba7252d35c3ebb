package flow

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/api"
	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"

	"github.com/logplane/logplane/internal/flow"
)

// PrometheusQuery reads the rates from a Prometheus that already scrapes the agents,
// for clusters too large to scrape every pod from the operator. Prometheus's rate()
// handles counter resets (pod restarts, hot reloads) itself.
type PrometheusQuery struct {
	API promv1.API
	// Window is the range rate() covers; at least four of Prometheus's scrape
	// intervals, so that one missed scrape does not empty it.
	Window time.Duration
}

// NewPrometheusQuery connects to the Prometheus HTTP API at url.
func NewPrometheusQuery(url string, window time.Duration) (*PrometheusQuery, error) {
	c, err := api.NewClient(api.Config{Address: url, Client: cleanHTTPClient()})
	if err != nil {
		return nil, fmt.Errorf("invalid Prometheus address %q: %w", url, err)
	}
	return &PrometheusQuery{API: promv1.NewAPI(c), Window: window}, nil
}

// Measure asks Prometheus for each counter's rate per output section.
func (p *PrometheusQuery) Measure(ctx context.Context) (flow.Cycle, error) {
	c := flow.Cycle{Rates: map[string]flow.OutputCounters{}, BufferUsed: map[string]float64{}, Targets: 1, Window: p.Window}
	rng := model.Duration(p.Window).String()
	counters := []struct {
		metric string
		set    func(*flow.OutputCounters, float64)
	}{
		{"fluentbit_output_proc_records_total", func(o *flow.OutputCounters, v float64) { o.Records = v }},
		{"fluentbit_output_proc_bytes_total", func(o *flow.OutputCounters, v float64) { o.Bytes = v }},
		{"fluentbit_output_dropped_records_total", func(o *flow.OutputCounters, v float64) { o.Dropped = v }},
		{"fluentbit_output_retried_records_total", func(o *flow.OutputCounters, v float64) { o.Retried = v }},
		{"fluentbit_output_errors_total", func(o *flow.OutputCounters, v float64) { o.Errors = v }},
	}
	for _, q := range counters {
		err := p.query(ctx, fmt.Sprintf(`sum by (name) (rate(%s{name=~"lp_.+"}[%s]))`, q.metric, rng), func(name string, v float64) {
			o := c.Rates[name]
			q.set(&o, v)
			c.Rates[name] = o
		})
		if err != nil {
			c.Failed, c.Errors = 1, []string{err.Error()}
			return c, err
		}
	}
	err := p.query(ctx, `max by (name) (100 - fluentbit_output_chunk_available_capacity_percent{name=~"lp_.+"})`, func(name string, v float64) {
		c.BufferUsed[name] = v
	})
	if err != nil {
		c.Failed, c.Errors = 1, []string{err.Error()}
	}
	return c, err
}

func (p *PrometheusQuery) query(ctx context.Context, q string, each func(name string, v float64)) error {
	res, _, err := p.API.Query(ctx, q, time.Time{})
	if err != nil {
		return fmt.Errorf("prometheus query %s failed: %w", q, err)
	}
	vec, ok := res.(model.Vector)
	if !ok {
		return fmt.Errorf("prometheus query %s returned %s, not a vector", q, res.Type())
	}
	for _, s := range vec {
		each(string(s.Metric["name"]), float64(s.Value))
	}
	return nil
}

// cleanHTTPClient talks to pods and Prometheus without the operator's API
// credentials and within a timeout of its own.
func cleanHTTPClient() *http.Client {
	return &http.Client{Timeout: 30 * time.Second, Transport: http.DefaultTransport.(*http.Transport).Clone()}
}
