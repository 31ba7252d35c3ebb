package e2e

import (
	"fmt"
	"testing"
	"time"
)

// deliveryRun is what a kill in the middle of an outage did to one pipeline.
type deliveryRun struct {
	written, delivered, lost, duplicated int
}

// killDuringOutage writes lines while the destination answers 503, kills the agent
// with SIGKILL once it has read them all and tried to send, brings the destination
// back, restarts the agent on the same node directories, and counts what arrived.
func killDuringOutage(t *testing.T, s *scenario, route string, lines int, settle time.Duration) deliveryRun {
	t.Helper()
	s.sink.Answer(route, 503)
	a := s.app("tenant-"+s.name, "app-1", nil, "app")
	var out []string
	var want []entry
	for i := range lines {
		e := entry{Src: "tenant-" + s.name + "/app-1/app", Seq: i}
		want = append(want, e)
		out = append(out, message(e, map[string]any{"msg": fmt.Sprintf("payment %d", i)}))
	}
	if err := a.Write("app", out...); err != nil {
		t.Fatal(err)
	}
	s.eventually(60*time.Second, "the agent to read every line and try to send", func() (bool, string) {
		read, tried := s.inputRecords(containerInputs), s.sink.Requests(route)
		return read >= lines && tried > 0, fmt.Sprintf("read %d of %d lines, %d requests", read, lines, tried)
	})
	s.agent.Proc.Kill()
	s.sink.Answer(route, 0)
	if err := s.agent.Restart(); err != nil {
		t.Fatal(err)
	}
	s.waitHealthy(s.agent)
	deadline := time.Now().Add(settle)
	for time.Now().Before(deadline) && count(s.sink.Records(route), want).missing > 0 {
		time.Sleep(250 * time.Millisecond)
	}
	time.Sleep(3 * time.Second) // late duplicates
	c := count(s.sink.Records(route), want)
	if c.leaked > 0 || c.unreadable > 0 {
		t.Errorf("%s: %s", route, c)
	}
	return deliveryRun{written: lines, delivered: c.got - c.duplicated, lost: c.missing, duplicated: c.duplicated}
}

// AtLeastOnce survives an agent killed while its destination is down: the records it
// had read are in the filesystem buffer on the node, and are sent after the restart.
func TestAtLeastOnceLosesNothingWhenTheAgentIsKilled(t *testing.T) {
	s := newScenario(t, "at-least-once")
	s.namespace("tenant-"+s.name, nil)
	objs := s.apply(`
apiVersion: logging.logplane.dev/v1alpha1
kind: RetentionPolicy
metadata: {name: e2e-at-least-once}
spec: {retention: 30d, delivery: AtLeastOnce}
---
apiVersion: logging.logplane.dev/v1alpha1
kind: LogOutput
metadata: {name: audit, namespace: tenant-at-least-once}
spec: {type: http, retentionPolicy: e2e-at-least-once, http: {host: 127.0.0.1, port: $SINK_PORT, path: /audit}}
---
apiVersion: logging.logplane.dev/v1alpha1
kind: LogPipeline
metadata: {name: audit, namespace: tenant-at-least-once}
spec:
  agent: $AGENT
  input: {containers: {}}
  outputRefs: [audit]
`)
	s.startAgent(s.waitForConfig(objs))
	r := killDuringOutage(t, s, "/audit", 3000, 60*time.Second)
	t.Logf("AtLeastOnce: %d written, %d delivered, %d lost, %d duplicated", r.written, r.delivered, r.lost, r.duplicated)
	if r.lost != 0 {
		t.Errorf("AtLeastOnce lost %d of %d records when the agent was killed during an outage", r.lost, r.written)
	}
}

// BestEffort keeps records in memory: what the agent had read but not delivered when
// it was killed is gone (the tail position had moved past it). The test reports how
// much, and checks that nothing arrives twice or where it should not.
func TestBestEffortLossWhenTheAgentIsKilled(t *testing.T) {
	s := newScenario(t, "best-effort")
	s.namespace("tenant-"+s.name, nil)
	objs := s.apply(`
apiVersion: logging.logplane.dev/v1alpha1
kind: LogOutput
metadata: {name: app, namespace: tenant-best-effort}
spec: {type: http, http: {host: 127.0.0.1, port: $SINK_PORT, path: /app}}
---
apiVersion: logging.logplane.dev/v1alpha1
kind: LogPipeline
metadata: {name: app, namespace: tenant-best-effort}
spec:
  agent: $AGENT
  input: {containers: {}}
  outputRefs: [app]
`)
	s.startAgent(s.waitForConfig(objs))
	r := killDuringOutage(t, s, "/app", 3000, 20*time.Second)
	t.Logf("BestEffort: %d written, %d delivered, %d lost, %d duplicated", r.written, r.delivered, r.lost, r.duplicated)
	if r.delivered+r.lost != r.written {
		t.Errorf("records unaccounted for: %+v", r)
	}
}
