package flow

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"
)

// Target is one Fluent Bit process to read: an agent pod or a sidecar.
type Target struct {
	// Key identifies the process across scrapes (namespace/pod/container), so that
	// deltas are taken against the same process's previous sample.
	Key string
	URL string
	// Namespace, when set, is the only namespace whose LogPipelines the process may
	// report: an injected sidecar runs its own namespace's pipelines, and a tenant's
	// pod that serves metrics on the sidecar's port must not move another tenant's
	// figures. Empty for the operator's agents, which run every namespace's.
	Namespace string
}

// Result is one target's scrape: a sample, or why there is none.
type Result struct {
	Target Target
	Sample *Sample
	Err    error
	// At is when the sample was taken, for the window its deltas cover.
	At time.Time
}

// Scraper reads many Fluent Bit metrics endpoints at once, within bounds: at most
// Concurrency requests in flight, each within Timeout, the whole cycle within
// Deadline. A slow or dead pod costs its own result, never the cycle.
type Scraper struct {
	Client      *http.Client
	Concurrency int
	Timeout     time.Duration
	Deadline    time.Duration
	Now         func() time.Time
}

// Scrape reads every target and returns one result per target, in target order.
func (s *Scraper) Scrape(ctx context.Context, targets []Target) []Result {
	ctx, cancel := context.WithTimeout(ctx, s.Deadline)
	defer cancel()
	results := make([]Result, len(targets))
	sem := make(chan struct{}, max(1, s.Concurrency))
	var wg sync.WaitGroup
	for i, t := range targets {
		results[i].Target = t
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			results[i].Err = fmt.Errorf("not scraped within the cycle deadline of %s", s.Deadline)
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			// The counters were read somewhere between sending and receiving: the
			// midpoint halves the error a slow answer adds to the window.
			sent := s.Now()
			results[i].Sample, results[i].Err = s.scrapeOne(ctx, t)
			received := s.Now()
			results[i].At = sent.Add(received.Sub(sent) / 2)
		}()
	}
	wg.Wait()
	return results
}

func (s *Scraper) scrapeOne(ctx context.Context, t Target) (*Sample, error) {
	ctx, cancel := context.WithTimeout(ctx, s.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, t.URL, nil)
	if err != nil {
		return nil, err
	}
	resp, err := s.Client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("failed to read metrics of %s: %w", t.Key, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("metrics of %s answered %s", t.Key, resp.Status)
	}
	return Parse(resp.Body)
}
