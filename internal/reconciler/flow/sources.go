package flow

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"golang.org/x/sync/semaphore"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/logplane/logplane/internal/flow"
)

// Pods is one list of pods whose Fluent Bit processes are read: where to list them,
// which, and what they run.
type Pods struct {
	Reader  client.Reader
	Options []client.ListOption
	Role    flow.PodRole
	// Injection vouches for injected pods; without it none is read.
	Injection flow.Injection
}

// PodScrape reads every agent pod's and every injected sidecar's metrics endpoint
// itself: no Prometheus needed.
type PodScrape struct {
	// Pods are listed from caches: the operator's agents and events collector, and
	// the pods the webhook injected.
	Pods    []Pods
	Scraper *flow.Scraper
	Tracker *flow.Tracker
}

// Measure scrapes every target once and returns the rates since the last cycle.
func (s *PodScrape) Measure(ctx context.Context) (flow.Cycle, error) {
	var targets []flow.Target
	for _, p := range s.Pods {
		var pods corev1.PodList
		if err := p.Reader.List(ctx, &pods, p.Options...); err != nil {
			return flow.Cycle{}, fmt.Errorf("failed to list pods to read metrics from: %w", err)
		}
		t, rejected := flow.Targets(pods.Items, p.Role, p.Injection)
		targets = append(targets, t...)
		for _, r := range rejected {
			log.FromContext(ctx).V(1).Info("pod labelled as injected is not read", "pod", r.Pod, "reason", r.Why)
		}
	}
	return s.Tracker.Observe(s.Scraper.Scrape(ctx, targets)), nil
}

// ReadsSidecars is true when one of the pod lists holds injected pods.
func (s *PodScrape) ReadsSidecars() bool {
	for _, p := range s.Pods {
		if p.Role == flow.InjectedPods {
			return true
		}
	}
	return false
}

var _ SidecarSource = (*PodScrape)(nil)

// NewPodScrape reads the pods of every list. Its bounds hold one cycle to 20 s
// whatever the cluster's size: 32 pods at a time, 5 s each. A slow pod costs its own
// result, and up to 4 × 32 pods may hang for their whole timeout before the healthy
// ones run out of cycle; the issue sizes a cycle over 1,000 pods at this concurrency
// (BenchmarkScrapeCycle), and CPU per cycle does not grow with it. Answers being
// read hold at most scrapeMemory bytes together, whatever each one's limit.
func NewPodScrape(pods ...Pods) *PodScrape {
	return &PodScrape{Pods: pods, Tracker: flow.NewTracker(), Scraper: &flow.Scraper{
		Client: scrapeHTTPClient(), Concurrency: 32, Timeout: 5 * time.Second, Deadline: 20 * time.Second,
		Memory: semaphore.NewWeighted(scrapeMemory), Now: time.Now}}
}

// scrapeMemory bounds the bytes of metrics answers held at once: 64 MiB, an eighth
// of the operator's 512 MiB limit (read buffers grow by doubling, so up to twice
// that). 32 sidecars at their 1 MiB limit fit twice over; a real agent answer is
// far below its 16 MiB limit, and one that is not waits for room rather than
// taking the operator's memory.
const scrapeMemory = 64 << 20

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
