package flow

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/logplane/logplane/internal/flow"
)

// benchPods is the cluster size the issue sizes a scrape cycle for.
const benchPods = 1000

// fleet starts one httptest server per pod, each serving real Fluent Bit 5.1.1
// metrics text (t10.prom first, then t20.prom, so counters move between cycles).
// One listener per pod, not a few servers with a path per pod: the client pools
// connections by host and port, so only distinct listeners give the connection reuse
// (and the reconnects) of 1,000 real pods.
func fleet(b *testing.B, n int) []flow.Target {
	b.Helper()
	read := func(name string) []byte {
		// The captures live with the package that parses them.
		data, err := os.ReadFile(filepath.Join("..", "..", "flow", "testdata", name))
		if err != nil {
			b.Fatal(err)
		}
		return data
	}
	first, later := read("t10.prom"), read("t20.prom")
	targets := make([]flow.Target, n)
	for i := range targets {
		var served atomic.Bool
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/plain; version=0.0.4")
			if served.Swap(true) {
				_, _ = w.Write(later)
				return
			}
			_, _ = w.Write(first)
		}))
		b.Cleanup(srv.Close)
		targets[i] = flow.Target{Key: srv.URL, URL: srv.URL + flow.MetricsPath}
	}
	return targets
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkScrapeCycle is one measurement cycle over 1,000 agent pods as the
// operator runs it: the production scraper (NewPodScrape's client, concurrency,
// timeouts) reads every pod, and the tracker turns the samples into rates.
// cpu-s/op is the whole process's CPU per cycle, so it includes the 1,000 fake
// servers writing their responses: an upper bound of the operator's own share (the
// "serve-only" sub-benchmark measures the servers and transport without parsing).
func BenchmarkScrapeCycle(b *testing.B) {
	targets := fleet(b, benchPods)
	ps := NewPodScrape()
	ctx := context.Background()
	// Warm the connections and the tracker, as a running operator has them.
	ps.Tracker.Observe(ps.Scraper.Scrape(ctx, targets))

	b.Run("scrape+observe", func(b *testing.B) {
		b.ReportAllocs()
		cpu := cpuTime(b)
		b.ResetTimer()
		for b.Loop() {
			c := ps.Tracker.Observe(ps.Scraper.Scrape(ctx, targets))
			if c.Failed != 0 || c.Targets != benchPods {
				b.Fatalf("%d of %d targets failed: %v", c.Failed, c.Targets, c.Errors)
			}
		}
		b.ReportMetric((cpuTime(b)-cpu).Seconds()/float64(b.N), "cpu-s/op")
	})

	b.Run("serve-only", func(b *testing.B) {
		client := ps.Scraper.Client
		b.ReportAllocs()
		cpu := cpuTime(b)
		b.ResetTimer()
		for b.Loop() {
			sem := make(chan struct{}, ps.Scraper.Concurrency)
			done := make(chan struct{}, len(targets))
			for _, t := range targets {
				sem <- struct{}{}
				go func() {
					defer func() { <-sem; done <- struct{}{} }()
					resp, err := client.Get(t.URL)
					if err != nil {
						b.Error(err)
						return
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					_ = resp.Body.Close()
				}()
			}
			for range targets {
				<-done
			}
		}
		b.ReportMetric((cpuTime(b)-cpu).Seconds()/float64(b.N), "cpu-s/op")
	})
}
