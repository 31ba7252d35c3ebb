package flow

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"
)

func metricsServer(t *testing.T, fixture string, delay time.Duration, inFlight, peak *atomic.Int32) *httptest.Server {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", fixture))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
			return
		}
		_, _ = w.Write(data)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestScrapeIsBoundedAndIsolatesSlowTargets(t *testing.T) {
	var inFlight, peak atomic.Int32
	var targets []Target
	for i := 0; i < 8; i++ {
		srv := metricsServer(t, "t10.prom", 50*time.Millisecond, &inFlight, &peak)
		targets = append(targets, Target{Key: srv.URL, URL: srv.URL + "/api/v2/metrics/prometheus"})
	}
	hung := metricsServer(t, "t10.prom", 10*time.Second, &inFlight, &peak)
	targets = append(targets, Target{Key: "hung", URL: hung.URL})
	targets = append(targets, Target{Key: "refused", URL: "http://127.0.0.1:1/api/v2/metrics/prometheus"})

	s := &Scraper{Client: http.DefaultClient, Concurrency: 3, Timeout: 300 * time.Millisecond, Deadline: 5 * time.Second, Now: time.Now}
	start := time.Now()
	results := s.Scrape(context.Background(), targets)
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("a hung target held the cycle for %v", took)
	}
	if p := peak.Load(); p > 3 {
		t.Errorf("%d requests in flight, limit 3", p)
	}
	for i, r := range results {
		if r.Target != targets[i] {
			t.Fatalf("result %d is for %v, want %v", i, r.Target, targets[i])
		}
		switch r.Target.Key {
		case "hung", "refused":
			if r.Err == nil {
				t.Errorf("%s: no error", r.Target.Key)
			}
		default:
			if r.Err != nil || r.Sample.Outputs[web].Records != 550 {
				t.Errorf("%s: %v %+v", r.Target.Key, r.Err, r.Sample)
			}
		}
	}
}

func TestScrapeCycleDeadline(t *testing.T) {
	var inFlight, peak atomic.Int32
	slow := metricsServer(t, "t10.prom", time.Second, &inFlight, &peak)
	targets := []Target{{Key: "a", URL: slow.URL}, {Key: "b", URL: slow.URL}, {Key: "c", URL: slow.URL}}
	s := &Scraper{Client: http.DefaultClient, Concurrency: 1, Timeout: 5 * time.Second, Deadline: 200 * time.Millisecond, Now: time.Now}
	for _, r := range s.Scrape(context.Background(), targets) {
		if r.Err == nil {
			t.Errorf("%s scraped past the cycle deadline", r.Target.Key)
		}
	}
}
