package main

import "testing"

func TestPipelinesInConfig(t *testing.T) {
	want := map[string]bool{"bench-team-000/app-0000": true, "bench-team-000/app-0001": true, "bench-team-001/app-0002": true}
	// A configuration sharded over two Secrets; one pipeline has two outputs, a
	// cluster pipeline and a pipeline nobody asked about are not counted.
	config := map[string]map[string][]byte{
		"logplane-agent-default-config-0": {
			"fluent-bit.yaml": []byte(`pipeline:
  outputs:
    - name: "loki"
      alias: "lp_lpl_bench-team-000_app-0000_lout_out-0"
    - name: "s3"
      alias: "lp_lpl_bench-team-000_app-0000_clout_platform-0"
    - name: "s3"
      alias: "lp_clpl__audit_clout_platform-0"
    - name: "kafka"
      alias: "lp_lpl_other_app-9_lout_out-1"
`)},
		"logplane-agent-default-config-1": {"outputs-1.yaml": []byte(`      alias: lp_lpl_bench-team-001_app-0002_lout_out-2`)},
	}
	if got := pipelinesInConfig(config, want); got != 2 {
		t.Errorf("got %d pipelines, want 2", got)
	}
	if !configContains(config, "out-2") || configContains(config, "bench-edit-0001-z") {
		t.Error("configContains is wrong")
	}
}
