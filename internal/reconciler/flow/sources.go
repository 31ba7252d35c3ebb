package flow

import (
	"context"
	"fmt"
	"net/http"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/logplane/logplane/internal/flow"
)

// PodScrape reads every agent pod's metrics endpoint itself: no Prometheus needed.
type PodScrape struct {
	// Pods lists the pods to read from the cache (the operator's agents and events
	// collector; they carry a metrics port).
	Pods    client.Reader
	Options []client.ListOption
	Scraper *flow.Scraper
	Tracker *flow.Tracker
}

// Measure scrapes every target once and returns the rates since the last cycle.
func (s *PodScrape) Measure(ctx context.Context) (flow.Cycle, error) {
	var pods corev1.PodList
	if err := s.Pods.List(ctx, &pods, s.Options...); err != nil {
		return flow.Cycle{}, fmt.Errorf("failed to list agent pods: %w", err)
	}
	return s.Tracker.Observe(s.Scraper.Scrape(ctx, flow.Targets(pods.Items))), nil
}

var _ Source = (*PodScrape)(nil)

// NewPodScrape reads the pods opts select. Its bounds hold one cycle to 20 s whatever
// the cluster's size: 32 pods at a time, 5 s each. A slow pod costs its own result,
// and up to 4 × 32 pods may hang for their whole timeout before the healthy ones run
// out of cycle; the issue sizes a cycle over 1,000 pods at this concurrency
// (BenchmarkScrapeCycle), and CPU per cycle does not grow with it.
func NewPodScrape(pods client.Reader, opts ...client.ListOption) *PodScrape {
	return &PodScrape{Pods: pods, Options: opts, Tracker: flow.NewTracker(), Scraper: &flow.Scraper{
		Client: scrapeHTTPClient(), Concurrency: 32, Timeout: 5 * time.Second, Deadline: 20 * time.Second, Now: time.Now}}
}

// scrapeHTTPClient keeps one idle connection per pod from one cycle to the next.
// The default transport keeps 100 in all, so a cycle over 1,000 pods dialled 900 of
// them again: a quarter of the cycle's CPU in BenchmarkScrapeCycle went to dialling,
// accepting and closing.
func scrapeHTTPClient() *http.Client {
	c := cleanHTTPClient()
	t := c.Transport.(*http.Transport)
	t.MaxIdleConns = 0 // no limit over all pods
	t.MaxIdleConnsPerHost = 1
	return c
}
