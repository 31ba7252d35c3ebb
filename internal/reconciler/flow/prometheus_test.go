package flow

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakePrometheus answers instant queries as the Prometheus HTTP API does, with one
// value per metric name found in the query, and records the queries.
func fakePrometheus(t *testing.T, values map[string]float64) (*httptest.Server, *[]string) {
	var mu sync.Mutex
	var queries []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/v1/query" {
			http.NotFound(w, r)
			return
		}
		_ = r.ParseForm()
		q := r.Form.Get("query")
		mu.Lock()
		queries = append(queries, q)
		mu.Unlock()
		result := []any{}
		for metric, v := range values {
			if strings.Contains(q, metric) {
				result = append(result, map[string]any{
					"metric": map[string]string{"name": "lp_lpl_team-a_web_lout_loki"},
					"value":  []any{1700000000, promValue(v)},
				})
			}
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"status": "success", "data": map[string]any{"resultType": "vector", "result": result}})
	}))
	t.Cleanup(srv.Close)
	return srv, &queries
}

func promValue(v float64) string { b, _ := json.Marshal(v); return string(b) }

func TestPrometheusQueryReadsRatesByAlias(t *testing.T) {
	srv, queries := fakePrometheus(t, map[string]float64{
		"fluentbit_output_proc_records_total":               120.5,
		"fluentbit_output_dropped_records_total":            1.5,
		"fluentbit_output_chunk_available_capacity_percent": 40,
	})
	p, err := NewPrometheusQuery(srv.URL, 2*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	c, err := p.Measure(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	got := c.Rates["lp_lpl_team-a_web_lout_loki"]
	if got.Records != 120.5 || got.Dropped != 1.5 || c.Window != 2*time.Minute || c.BufferUsed["lp_lpl_team-a_web_lout_loki"] != 40 {
		t.Errorf("cycle %+v", c)
	}
	if len(*queries) != 6 || !strings.Contains((*queries)[0], `rate(fluentbit_output_proc_records_total{name=~"lp_.+"}[2m])`) {
		t.Errorf("queries %q", *queries)
	}
}

func TestPrometheusQueryFailureIsAProbeFailure(t *testing.T) {
	p, err := NewPrometheusQuery("http://127.0.0.1:1", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	c, err := p.Measure(context.Background())
	if err == nil || c.Failed != 1 || probeFailure(c, err) == "" {
		t.Errorf("an unreachable Prometheus measured %+v, %v", c, err)
	}
}
