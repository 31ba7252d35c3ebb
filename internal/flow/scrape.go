package flow

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"golang.org/x/sync/semaphore"
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
	// MaxBytes is the largest answer read; zero means MaxExposition.
	MaxBytes int64
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
// Concurrency requests in flight, each within Timeout and its target's MaxBytes, the
// whole cycle within Deadline, and all answers being read within Memory. A slow,
// dead or oversized pod costs its own result, never the cycle.
type Scraper struct {
	Client      *http.Client
	Concurrency int
	Timeout     time.Duration
	Deadline    time.Duration
	// Memory bounds the bytes of answers held at once, whatever their number and
	// limits: Concurrency × MaxBytes of agents alone would be 512 MiB. A read waits
	// (within its Timeout) for room; nil means no bound beyond MaxBytes.
	Memory *semaphore.Weighted
	Now    func() time.Time
}

// readChunk is how much of an answer is reserved from Memory at a time.
const readChunk = 64 << 10

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
		return nil, fmt.Errorf("metrics of %s answered %d", t.Key, resp.StatusCode)
	}
	limit := cmp.Or(t.MaxBytes, MaxExposition)
	var body io.Reader = resp.Body
	if s.Memory != nil {
		b := &budgetReader{ctx: ctx, r: resp.Body, mem: s.Memory}
		defer b.release()
		body = b
	}
	sample, err := ParseLimit(body, limit)
	if err != nil {
		// Closing the body unread drops the connection: the rest is never received.
		return nil, fmt.Errorf("metrics of %s: %w", t.Key, err)
	}
	return sample, nil
}

// budgetReader reserves from a shared budget every byte it passes on, until
// release: the bytes of every answer being read count against one bound. Reads are
// cut to readChunk, so that a large buffer does not reserve more than it gets.
type budgetReader struct {
	ctx  context.Context
	r    io.Reader
	mem  *semaphore.Weighted
	held int64
}

func (b *budgetReader) Read(p []byte) (int, error) {
	if len(p) > readChunk {
		p = p[:readChunk]
	}
	if err := b.mem.Acquire(b.ctx, int64(len(p))); err != nil {
		return 0, fmt.Errorf("no room to read metrics within the timeout: %w", err)
	}
	n, err := b.r.Read(p)
	b.mem.Release(int64(len(p) - n))
	b.held += int64(n)
	return n, err
}

func (b *budgetReader) release() {
	b.mem.Release(b.held)
	b.held = 0
}
