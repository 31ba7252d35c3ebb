package e2e

import (
	"fmt"
	"testing"
	"time"
)

// Each pipeline receives exactly the records it selects, and nothing else: two tenants
// whose namespace names share a prefix, pod-label and container selection, a
// namespace-selector ClusterLogPipeline and a catch-all one (to HTTP and to a forward
// aggregator), all from one read of each file.
func TestTenantIsolationAndSelection(t *testing.T) {
	s := newScenario(t, "isolation")
	s.namespace("team-a", nil)
	s.namespace("team-ab", nil)
	s.namespace("team-b", map[string]string{"env": "prod"})
	s.namespace("ops", map[string]string{"env": "prod", "logging": "central"})

	objs := s.apply(`
apiVersion: logging.logplane.dev/v1alpha1
kind: LogOutput
metadata: {name: web, namespace: team-a}
spec: {type: http, http: {host: 127.0.0.1, port: $SINK_PORT, path: /team-a-web}}
---
apiVersion: logging.logplane.dev/v1alpha1
kind: LogPipeline
metadata: {name: web, namespace: team-a}
spec:
  agent: $AGENT
  input:
    containers:
      podSelector: {matchLabels: {app: web}}
      exclude: [istio-proxy]
  outputRefs: [web]
---
apiVersion: logging.logplane.dev/v1alpha1
kind: LogOutput
metadata: {name: all, namespace: team-a}
spec: {type: http, http: {host: 127.0.0.1, port: $SINK_PORT, path: /team-a-all}}
---
apiVersion: logging.logplane.dev/v1alpha1
kind: LogPipeline
metadata: {name: all, namespace: team-a}
spec:
  agent: $AGENT
  input: {containers: {}}
  outputRefs: [all]
---
apiVersion: logging.logplane.dev/v1alpha1
kind: LogOutput
metadata: {name: all, namespace: team-ab}
spec: {type: http, http: {host: 127.0.0.1, port: $SINK_PORT, path: /team-ab-all}}
---
apiVersion: logging.logplane.dev/v1alpha1
kind: LogPipeline
metadata: {name: all, namespace: team-ab}
spec:
  agent: $AGENT
  input: {containers: {}}
  outputRefs: [all]
---
apiVersion: logging.logplane.dev/v1alpha1
kind: ClusterLogOutput
metadata: {name: isolation-prod}
spec: {type: http, http: {host: 127.0.0.1, port: $SINK_PORT, path: /prod}}
---
apiVersion: logging.logplane.dev/v1alpha1
kind: ClusterLogPipeline
metadata: {name: isolation-prod}
spec:
  agent: $AGENT
  input:
    containers:
      namespaces: {selector: {matchLabels: {env: prod}}}
      include: [app]
  clusterOutputRefs: [isolation-prod]
---
apiVersion: logging.logplane.dev/v1alpha1
kind: ClusterLogOutput
metadata: {name: isolation-everything}
spec: {type: http, http: {host: 127.0.0.1, port: $SINK_PORT, path: /everything}}
---
apiVersion: logging.logplane.dev/v1alpha1
kind: ClusterLogOutput
metadata: {name: isolation-aggregator}
spec: {type: forward, forward: {host: 127.0.0.1, port: $FORWARD_PORT, compression: Gzip}}
---
apiVersion: logging.logplane.dev/v1alpha1
kind: ClusterLogPipeline
metadata: {name: isolation-everything}
spec:
  agent: $AGENT
  input: {containers: {}}
  clusterOutputRefs: [isolation-everything, isolation-aggregator]
`)
	ds := s.waitForConfig(objs)

	type container struct{ ns, pod, name string }
	pods := []struct {
		ns, pod    string
		labels     map[string]string
		containers []string
	}{
		{"team-a", "web-1", map[string]string{"app": "web"}, []string{"app", "istio-proxy"}},
		{"team-a", "worker-1", map[string]string{"app": "worker"}, []string{"app"}},
		{"team-ab", "web-1", map[string]string{"app": "web"}, []string{"app"}},
		{"team-b", "api-1", map[string]string{"app": "api"}, []string{"app", "istio-proxy"}},
		{"ops", "cron-1", map[string]string{"app": "cron"}, []string{"app"}},
	}
	const perContainer = 300
	written := map[container][]entry{}
	s.startAgent(ds)
	for _, p := range pods {
		a := s.app(p.ns, p.pod, p.labels, p.containers...)
		for _, c := range p.containers {
			key := container{p.ns, p.pod, c}
			var lines []string
			for i := range perContainer {
				e := entry{Src: p.ns + "/" + p.pod + "/" + c, Seq: i}
				written[key] = append(written[key], e)
				lines = append(lines, message(e, map[string]any{"msg": fmt.Sprintf("line %d", i)}))
			}
			if err := a.Write(c, lines...); err != nil {
				t.Fatal(err)
			}
		}
	}
	want := map[string][]entry{}
	total := 0
	for c, es := range written {
		total += len(es)
		if c.ns == "team-a" && c.pod == "web-1" && c.name == "app" {
			want["/team-a-web"] = append(want["/team-a-web"], es...)
		}
		if c.ns == "team-a" {
			want["/team-a-all"] = append(want["/team-a-all"], es...)
		}
		if c.ns == "team-ab" {
			want["/team-ab-all"] = append(want["/team-ab-all"], es...)
		}
		if (c.ns == "team-b" || c.ns == "ops") && c.name == "app" {
			want["/prod"] = append(want["/prod"], es...)
		}
		want["/everything"] = append(want["/everything"], es...)
	}
	start := time.Now()
	s.expectRoutes(want, 60*time.Second, 3*time.Second)
	// The same records again, to an aggregator over the forward protocol (gzip, acks).
	if c := count(s.fwd.All(), want["/everything"]); !c.exact() {
		t.Errorf("forward: %s", c)
	} else {
		t.Logf("forward: %s", c)
	}
	t.Logf("%d lines written by %d containers, delivered in %s", total, len(written), time.Since(start).Round(100*time.Millisecond))

	// Every record carries its pod's metadata and labels.
	for _, r := range s.sink.Records("/team-a-web") {
		k, _ := r["kubernetes"].(map[string]any)
		labels, _ := k["labels"].(map[string]any)
		if k["namespace_name"] != "team-a" || k["pod_name"] != "web-1" || k["container_name"] != "app" || labels["app"] != "web" {
			t.Fatalf("record without its pod's metadata: %v", r)
		}
	}
}
