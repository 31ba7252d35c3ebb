package flow

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sync/semaphore"
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

// A sidecar that answers more than its limit is cut after the limit, never parsed,
// and its namespace's pipelines learn that it could not be read. The server offers
// 256 MiB; what it manages to send before the scraper hangs up is bounded by the
// limit plus what the loopback socket buffers hold.
func TestScrapeCutsAnswersOverTheLimit(t *testing.T) {
	var sent atomic.Int64
	chunk := bytes.Repeat([]byte("fluentbit_output_proc_records_total{name=\"x\"} 1\n"), 1<<10)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for sent.Load() < 256<<20 {
			n, err := w.Write(chunk)
			sent.Add(int64(n))
			if err != nil {
				return
			}
		}
	}))
	t.Cleanup(srv.Close)
	mem := semaphore.NewWeighted(4 << 20)
	s := &Scraper{Client: srv.Client(), Concurrency: 1, Timeout: 5 * time.Second, Deadline: 10 * time.Second, Memory: mem, Now: time.Now}
	target := Target{Key: "team-a/forged/logplane-sidecar/uid", URL: srv.URL, Namespace: "team-a", MaxBytes: SidecarMaxExposition}
	results := s.Scrape(context.Background(), []Target{target})
	if err := results[0].Err; !errors.Is(err, ErrTooLarge) || results[0].Sample != nil {
		t.Fatalf("err %v, sample %+v; want the answer refused as too large", err, results[0].Sample)
	}
	srv.CloseClientConnections()
	if n := sent.Load(); n > 16<<20 {
		t.Errorf("the server sent %d bytes before the scraper hung up", n)
	}
	t.Logf("the server got %d bytes out before the scraper hung up (limit %d)", sent.Load(), SidecarMaxExposition)
	if !mem.TryAcquire(4 << 20) {
		t.Error("the memory budget was not given back")
	}
	c := NewTracker().Observe(results)
	if why := c.FailedNamespaces["team-a"]; !strings.Contains(why, "too large") || c.Failed != 1 || len(c.Errors) != 0 {
		t.Errorf("cycle %+v: want team-a's sidecar failed as too large, and no error for the agents' pipelines", c)
	}
}

// Answers held at once stay within the memory budget: an answer larger than the
// whole budget waits for room until its timeout and fails.
func TestScrapeMemoryBudgetBounds(t *testing.T) {
	big := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write(bytes.Repeat([]byte("# filler\n"), 64<<10)) // 576 KiB
	}))
	t.Cleanup(big.Close)
	mem := semaphore.NewWeighted(256 << 10)
	s := &Scraper{Client: http.DefaultClient, Concurrency: 4, Timeout: 300 * time.Millisecond, Deadline: 5 * time.Second, Memory: mem, Now: time.Now}
	r := s.Scrape(context.Background(), []Target{{Key: "big", URL: big.URL}})[0]
	if r.Err == nil || !strings.Contains(r.Err.Error(), "no room") {
		t.Errorf("big: %v, want it to wait for room and time out", r.Err)
	}
	if !mem.TryAcquire(256 << 10) {
		t.Error("the memory budget was not given back")
	}
}

// With a budget of Concurrency × the sidecars' limit (as NewPodScrape sizes it),
// oversized answers from forged pods are cut and cannot keep the others from being
// read.
func TestScrapeOversizedAnswersDoNotStarveOthers(t *testing.T) {
	var inFlight, peak atomic.Int32
	small := metricsServer(t, "t10.prom", 0, &inFlight, &peak) // 15 KB
	big := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write(bytes.Repeat([]byte("# filler\n"), 64<<10)) // 576 KiB
	}))
	t.Cleanup(big.Close)
	const limit = 64 << 10
	mem := semaphore.NewWeighted(4 * limit)
	s := &Scraper{Client: http.DefaultClient, Concurrency: 4, Timeout: 2 * time.Second, Deadline: 5 * time.Second, Memory: mem, Now: time.Now}
	var targets []Target
	for i := range 9 {
		if i%3 == 0 {
			targets = append(targets, Target{Key: fmt.Sprint("forged-", i), URL: big.URL, Namespace: "team-x", MaxBytes: limit})
		} else {
			targets = append(targets, Target{Key: fmt.Sprint("real-", i), URL: small.URL, Namespace: "team-a", MaxBytes: limit})
		}
	}
	for _, r := range s.Scrape(context.Background(), targets) {
		if strings.HasPrefix(r.Target.Key, "forged") {
			if !errors.Is(r.Err, ErrTooLarge) {
				t.Errorf("%s: %v, want too large", r.Target.Key, r.Err)
			}
		} else if r.Err != nil || r.Sample.Outputs[web].Records != 550 {
			t.Errorf("%s: %v", r.Target.Key, r.Err)
		}
	}
	if !mem.TryAcquire(4 * limit) {
		t.Error("the memory budget was not given back")
	}
}
