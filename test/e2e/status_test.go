package e2e

import (
	"context"
	"fmt"
	"io"
	"maps"
	"math"
	"net"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	apimeta "k8s.io/apimachinery/pkg/api/meta"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/logplane/logplane/api/v1alpha1"
	"github.com/logplane/logplane/internal/conditions"
	"github.com/logplane/logplane/internal/flow"
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

	// 200 records/s into steady, then 80/s, then 200/s again, in writes every 100ms;
	// 50/s into broken. The change makes the operator write new figures, each of which is
	// checked against what the sink received in the window it states.
	ctx, stop := context.WithCancel(s.ctx)
	defer stop()
	steadyApp := s.app("steady", "app-1", nil, "app")
	brokenApp := s.app("broken", "app-1", nil, "app")
	var perTick atomic.Int32
	perTick.Store(20)
	go generate(ctx, steadyApp, &perTick)
	go generate(ctx, brokenApp, constant(5))

	steady := client.ObjectKey{Namespace: "steady", Name: "app"}
	broken := client.ObjectKey{Namespace: "broken", Name: "app"}
	// The first windows carry the backlog the agent found when it discovered the
	// file; the load is steady 10 s after the first delivery.
	s.eventually(60*time.Second, "the first delivery", func() (bool, string) {
		return len(s.sink.Arrivals("/steady")) > 0, "nothing yet"
	})
	time.Sleep(10 * time.Second)
	steadyFrom := time.Now()
	readings := map[time.Time]v1.Throughput{}
	watch := func(d time.Duration) {
		for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(200 * time.Millisecond) {
			p := &v1.LogPipeline{}
			if err := s.k8s.Get(s.ctx, steady, p); err != nil {
				t.Fatal(err)
			}
			if tp := p.Status.Throughput; tp != nil && tp.LastMeasured != nil && tp.LastMeasured.After(steadyFrom) {
				readings[tp.LastMeasured.Time] = *tp
			}
		}
	}
	counter := pollCounter(ctx, t, fmt.Sprintf("http://%s:%d%s", s.node.IP, s.port, flow.MetricsPath), "lp_lpl_steady_app_lout_out")
	watch(15 * time.Second)
	perTick.Store(8)
	watch(15 * time.Second)
	perTick.Store(20)
	watch(15 * time.Second)
	// Fluent Bit publishes its counters on its metrics endpoint with a delay: a
	// delivery shows there about a second after the destination got it. The delay is
	// measured here, from when each counter value appeared and when the sink had
	// received that many records, and the sink's window is shifted by it.
	lag := metricsLag(counter.changes(), s.sink.Arrivals("/steady"))
	t.Logf("Fluent Bit's counter shows a delivery %s after the sink received it (median of %d)", lag.Round(time.Millisecond), len(counter.changes()))

	// Each figure is checked against the sink over the window the operator measured:
	// between its read of the agent in the second lastMeasured names (which has whole
	// seconds) and its read before.
	host := net.JoinHostPort(s.node.IP, strconv.Itoa(s.port))
	reads := scrapes.of(host)
	checked, near200, near80 := 0, false, false
	for _, at := range slices.SortedFunc(maps.Keys(readings), time.Time.Compare) {
		tp := readings[at]
		i := slices.IndexFunc(reads, func(r time.Time) bool { return !r.Before(at) })
		if i < 1 || reads[i].Sub(at) >= time.Second {
			t.Errorf("no read of %s in the second of lastMeasured %s", host, at.Format(time.TimeOnly))
			continue
		}
		from, to := reads[i-1].Add(-lag), reads[i].Add(-lag)
		n := 0
		for _, a := range s.sink.Arrivals("/steady") {
			if a.At.After(from) && !a.At.After(to) {
				n += a.Records
			}
		}
		sinkRate := float64(n) / to.Sub(from).Seconds()
		dev := (float64(tp.RecordsPerSecond) - sinkRate) / sinkRate
		t.Logf("status %d records/s over %s (sink %s-%s); the sink received %d, %.1f records/s: %+.1f%%", tp.RecordsPerSecond,
			to.Sub(from).Round(time.Millisecond), from.Format("15:04:05.000"), to.Format("15:04:05.000"), n, sinkRate, 100*dev)
		if math.Abs(dev) > 0.05 {
			t.Errorf("status %d records/s is not what the sink received in its window (%.1f/s)", tp.RecordsPerSecond, sinkRate)
		}
		checked++
		near200 = near200 || math.Abs(float64(tp.RecordsPerSecond)-200) <= 20
		near80 = near80 || math.Abs(float64(tp.RecordsPerSecond)-80) <= 10
	}
	if checked < 2 || !near200 || !near80 {
		t.Errorf("the status did not follow the load from 200 to 80 and back: %d figures, near 200: %v, near 80: %v", checked, near200, near80)
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

func constant(n int32) *atomic.Int32 {
	var v atomic.Int32
	v.Store(n)
	return &v
}

// counterLog is when a Fluent Bit counter took each of its values.
type counterLog struct {
	mu  sync.Mutex
	log []counterValue
}

type counterValue struct {
	at    time.Time
	value int
}

func (c *counterLog) changes() []counterValue {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.log)
}

// pollCounter reads the output's processed-records counter every 20ms until ctx ends.
func pollCounter(ctx context.Context, t *testing.T, url, alias string) *counterLog {
	c := &counterLog{}
	series := regexp.MustCompile(`(?m)^fluentbit_output_proc_records_total\{name="` + regexp.QuoteMeta(alias) + `"\} (\d+)`)
	// A transport of its own: these reads are not the operator's (see scrapes).
	client := &http.Client{Transport: &http.Transport{}, Timeout: 5 * time.Second}
	go func() {
		for ctx.Err() == nil {
			if resp, err := client.Get(url); err == nil {
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if m := series.FindSubmatch(body); m != nil {
					v, _ := strconv.Atoi(string(m[1]))
					c.mu.Lock()
					if len(c.log) == 0 || c.log[len(c.log)-1].value != v {
						c.log = append(c.log, counterValue{time.Now(), v})
					}
					c.mu.Unlock()
				}
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	return c
}

// metricsLag is the median time between the sink having received n records and the
// counter showing n.
func metricsLag(changes []counterValue, arrivals []sink.Arrival) time.Duration {
	var lags []time.Duration
	for _, c := range changes {
		total := 0
		for _, a := range arrivals {
			total += a.Records
			if total == c.value {
				lags = append(lags, c.at.Sub(a.At))
				break
			}
		}
	}
	if len(lags) == 0 {
		return 0
	}
	slices.Sort(lags)
	return lags[len(lags)/2]
}

// generate writes n numbered lines every 100ms until ctx ends.
func generate(ctx context.Context, a *localnode.App, n *atomic.Int32) {
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
		lines := make([]string, n.Load())
		for i := range lines {
			lines[i] = message(entry{Src: src, Seq: seq}, nil)
			seq++
		}
		_ = a.Write("app", lines...)
	}
}
