package e2e

import (
	"context"
	"fmt"
	"math"
	"testing"
	"time"

	apimeta "k8s.io/apimachinery/pkg/api/meta"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/logplane/logplane/api/v1alpha1"
	"github.com/logplane/logplane/internal/conditions"
	"github.com/logplane/logplane/test/localnode"
	"github.com/logplane/logplane/test/sink"
)

// The status a user reads is what the destination got: the operator scrapes the real
// agent (its pod's address is where Fluent Bit listens), and each pipeline's
// records/s match the sink's count over the same time; a destination answering 500
// turns into AllDataDropped on that pipeline only.
func TestStatusMatchesWhatTheSinkReceived(t *testing.T) {
	s := newScenario(t, "status")
	s.namespace("steady", nil)
	s.namespace("broken", nil)
	objs := s.apply(`
apiVersion: logging.logplane.dev/v1alpha1
kind: RetentionPolicy
metadata: {name: e2e-give-up}
spec: {retention: 30d, retry: {maxDuration: 1s}}
---
apiVersion: logging.logplane.dev/v1alpha1
kind: LogOutput
metadata: {name: out, namespace: steady}
spec: {type: http, http: {host: 127.0.0.1, port: $SINK_PORT, path: /steady}}
---
apiVersion: logging.logplane.dev/v1alpha1
kind: LogPipeline
metadata: {name: app, namespace: steady}
spec:
  agent: $AGENT
  input: {containers: {}}
  outputRefs: [out]
---
apiVersion: logging.logplane.dev/v1alpha1
kind: LogOutput
metadata: {name: out, namespace: broken}
spec: {type: http, retentionPolicy: e2e-give-up, http: {host: 127.0.0.1, port: $SINK_PORT, path: /broken}}
---
apiVersion: logging.logplane.dev/v1alpha1
kind: LogPipeline
metadata: {name: app, namespace: broken}
spec:
  agent: $AGENT
  input: {containers: {}}
  outputRefs: [out]
`)
	s.sink.Answer("/broken", 500)
	s.startAgent(s.waitForConfig(objs))

	// 200 records/s into steady, 50 into broken, in writes every 100ms.
	ctx, stop := context.WithCancel(s.ctx)
	defer stop()
	steadyApp := s.app("steady", "app-1", nil, "app")
	brokenApp := s.app("broken", "app-1", nil, "app")
	go generate(ctx, steadyApp, 20)
	go generate(ctx, brokenApp, 5)

	steady := client.ObjectKey{Namespace: "steady", Name: "app"}
	broken := client.ObjectKey{Namespace: "broken", Name: "app"}
	// The first windows carry the backlog the agent found when it discovered the
	// file; the load is steady 15 s after the first delivery.
	s.eventually(60*time.Second, "the first delivery", func() (bool, string) {
		return len(s.sink.Arrivals("/steady")) > 0, "nothing yet"
	})
	time.Sleep(15 * time.Second)
	// Status is rewritten only when a rounded figure moves, so it is read as a user
	// would, at any moment, and compared with what the sink received over the last
	// ten seconds.
	const readings = 5
	within := 0
	for i := range readings {
		if i > 0 {
			time.Sleep(2 * time.Second)
		}
		p := &v1.LogPipeline{}
		if err := s.k8s.Get(s.ctx, steady, p); err != nil {
			t.Fatal(err)
		}
		tp := p.Status.Throughput
		if tp == nil || tp.LastMeasured == nil {
			t.Fatalf("no throughput on the steady pipeline: %+v", p.Status)
		}
		now := time.Now()
		sinkRate := rate(s.sink.Arrivals("/steady"), now, 10*time.Second)
		dev := (float64(tp.RecordsPerSecond) - sinkRate) / sinkRate
		if math.Abs(dev) <= 0.05 {
			within++
		}
		t.Logf("status %d records/s (window %ds, measured %s); sink %.1f records/s over the last 10s: %+.1f%%",
			tp.RecordsPerSecond, tp.WindowSeconds, tp.LastMeasured.Format(time.TimeOnly), sinkRate, 100*dev)
	}
	if within < readings {
		t.Errorf("%d of %d readings were within 5%% of what the sink received", within, readings)
	}

	s.eventually(60*time.Second, "AllDataDropped on the broken pipeline", func() (bool, string) {
		p := &v1.LogPipeline{}
		if err := s.k8s.Get(s.ctx, broken, p); err != nil {
			return false, err.Error()
		}
		c := apimeta.FindStatusCondition(p.Status.Conditions, conditions.TypeFlowHealthy)
		return c != nil && c.Reason == conditions.ReasonAllDataDropped, fmt.Sprintf("%+v", c)
	})
	p := &v1.LogPipeline{}
	if err := s.k8s.Get(s.ctx, steady, p); err != nil {
		t.Fatal(err)
	}
	if c := apimeta.FindStatusCondition(p.Status.Conditions, conditions.TypeFlowHealthy); c == nil || c.Reason != conditions.ReasonFlowHealthy {
		t.Errorf("the healthy pipeline's FlowHealthy is %+v", c)
	}
}

// generate writes n numbered lines every 100ms until ctx ends.
func generate(ctx context.Context, a *localnode.App, n int) {
	seq := 0
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	src := a.Pod.Namespace + "/" + a.Pod.Name + "/app"
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		lines := make([]string, n)
		for i := range lines {
			lines[i] = message(entry{Src: src, Seq: seq}, nil)
			seq++
		}
		_ = a.Write("app", lines...)
	}
}

// rate is the records per second that arrived in the span before end.
func rate(arrivals []sink.Arrival, end time.Time, span time.Duration) float64 {
	n := 0
	for _, a := range arrivals {
		if a.At.After(end.Add(-span)) && !a.At.After(end) {
			n += a.Records
		}
	}
	return float64(n) / span.Seconds()
}
