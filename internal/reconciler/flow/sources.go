package flow

import (
	"context"
	"fmt"
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
// the cluster's size: 16 pods at a time, 5 s each; a slow pod costs its own result.
func NewPodScrape(pods client.Reader, opts ...client.ListOption) *PodScrape {
	return &PodScrape{Pods: pods, Options: opts, Tracker: flow.NewTracker(), Scraper: &flow.Scraper{
		Client: cleanHTTPClient(), Concurrency: 16, Timeout: 5 * time.Second, Deadline: 20 * time.Second, Now: time.Now}}
}
