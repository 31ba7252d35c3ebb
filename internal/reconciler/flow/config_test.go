package flow

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.yaml.in/yaml/v3"

	"github.com/logplane/logplane/internal/flow"
)

// TestPrometheusConfigMatchesTheCode keeps config/prometheus honest: every logplane
// series an alert uses is one the operator exports, and the agents' PodMonitor reads
// the port and path the scraper reads.
func TestPrometheusConfigMatchesTheCode(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)
	m.observeCycle(flow.Cycle{Targets: 1}, nil, time.Second)
	m.setPipelines(map[flow.PipelineKey]*flow.Measure{{Kind: "LogPipeline", Namespace: "a", Name: "b"}: {}})
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	exported := map[string]bool{}
	for _, f := range families {
		exported[f.GetName()] = true
	}

	dir := filepath.Join("..", "..", "..", "config", "prometheus")
	var rules struct {
		Spec struct {
			Groups []struct {
				Rules []struct {
					Alert string `yaml:"alert"`
					Expr  string `yaml:"expr"`
				} `yaml:"rules"`
			} `yaml:"groups"`
		} `yaml:"spec"`
	}
	readYAML(t, filepath.Join(dir, "rules.yaml"), &rules)
	names := regexp.MustCompile(`logplane_[a-z_]+`)
	alerts := 0
	for _, g := range rules.Spec.Groups {
		for _, r := range g.Rules {
			alerts++
			for _, n := range names.FindAllString(r.Expr, -1) {
				if !exported[n] {
					t.Errorf("alert %s uses %s, which the operator does not export", r.Alert, n)
				}
			}
		}
	}
	if alerts < 6 {
		t.Errorf("%d alerts; drops, no delivery, buffer, agent down and scrape failures need one each", alerts)
	}

	data, err := os.ReadFile(filepath.Join(dir, "monitor.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, doc := range strings.Split(string(data), "\n---\n") {
		var pm struct {
			Kind string `yaml:"kind"`
			Spec struct {
				Endpoints []struct {
					Port string `yaml:"port"`
					Path string `yaml:"path"`
				} `yaml:"podMetricsEndpoints"`
			} `yaml:"spec"`
		}
		if err := yaml.Unmarshal([]byte(doc), &pm); err != nil {
			t.Fatal(err)
		}
		if pm.Kind != "PodMonitor" {
			continue
		}
		if len(pm.Spec.Endpoints) != 1 || pm.Spec.Endpoints[0].Port != flow.MetricsPortName || pm.Spec.Endpoints[0].Path != flow.MetricsPath {
			t.Errorf("PodMonitor endpoints %+v, want port %s path %s", pm.Spec.Endpoints, flow.MetricsPortName, flow.MetricsPath)
		}
	}
}

func readYAML(t *testing.T, path string, into any) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(data, into); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}
