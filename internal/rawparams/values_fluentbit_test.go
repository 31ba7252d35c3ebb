package rawparams

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/logplane/logplane/test/fbrun"
)

// required is the least configuration each plugin with value rules starts with
// (nothing is reached at start: 127.0.0.1:9 refuses, AWS plugins ask no endpoint
// before a flush).
var required = map[string]string{
	"http":             "host: 127.0.0.1\nport: 9",
	"loki":             "host: 127.0.0.1\nport: 9",
	"opentelemetry":    "host: 127.0.0.1\nport: 9",
	"forward":          "host: 127.0.0.1\nport: 9",
	"syslog":           "host: 127.0.0.1\nport: 9\nmode: udp",
	"s3":               "bucket: b\nregion: us-east-1\nstore_dir: $DATA/s3",
	"kinesis_firehose": "region: us-east-1\ndelivery_stream: d",
	"kinesis_streams":  "region: us-east-1\nstream: s",
}

// Every value a rule accepts starts the plugin in the real Fluent Bit, in lower and
// upper case, and a value outside the rule stops it at start: the rules are exactly
// what Fluent Bit refuses.
func TestValueRulesAgainstFluentBit(t *testing.T) {
	bin := fbrun.Binary(t)
	type run struct {
		plugin, key, value string
		starts             bool
	}
	var runs []run
	for _, plugin := range valueRulePlugins() {
		for key, rule := range valueRules[plugin] {
			for _, v := range rule.values {
				runs = append(runs, run{plugin, key, v, true})
			}
			runs = append(runs, run{plugin, key, strings.ToUpper(rule.values[0]), !rule.exact}, run{plugin, key, "bogus", false})
		}
	}
	for key, rule := range valueRules["*"] {
		for _, v := range rule.values {
			runs = append(runs, run{"http", key, v, true})
		}
		runs = append(runs, run{"http", key, "bogus", false})
	}
	// Two at a time: each run is a Fluent Bit process.
	slots := make(chan struct{}, 2)
	var wg sync.WaitGroup
	results := make([]string, len(runs))
	for i, r := range runs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			slots <- struct{}{}
			defer func() { <-slots }()
			started, log := start(t, bin, r.plugin, r.key, r.value)
			switch refused := CheckValue(r.plugin, r.key, r.value) != ""; {
			case started != r.starts:
				results[i] = fmt.Sprintf("%s %s: %q started %v, want %v:\n%s", r.plugin, r.key, r.value, started, r.starts, log)
			case started == refused:
				results[i] = fmt.Sprintf("%s %s: %q started %v, and CheckValue refuses it: %v", r.plugin, r.key, r.value, started, refused)
			}
		}()
	}
	wg.Wait()
	for _, r := range results {
		if r != "" {
			t.Error(r)
		}
	}
	t.Logf("%d runs of Fluent Bit", len(runs))
}

// start runs Fluent Bit with one output of plugin that sets key to value, and
// reports whether every plugin initialised (the stream processor starts last), or
// Fluent Bit's log when it did not.
func start(t *testing.T, bin, plugin, key, value string) (bool, string) {
	dir := t.TempDir()
	var out strings.Builder
	out.WriteString("service:\n  flush: 1\n  log_level: info\npipeline:\n  inputs:\n    - name: dummy\n  outputs:\n")
	fmt.Fprintf(&out, "    - name: %s\n      match: '*'\n", plugin)
	for line := range strings.SplitSeq(strings.ReplaceAll(required[plugin], "$DATA", dir), "\n") {
		fmt.Fprintf(&out, "      %s\n", line)
	}
	fmt.Fprintf(&out, "      %s: %s\n", key, value)
	cfg := filepath.Join(dir, "fluent-bit.yaml")
	if err := os.WriteFile(cfg, []byte(out.String()), 0o644); err != nil {
		t.Error(err)
		return false, ""
	}
	cmd := exec.Command(bin, "-c", cfg)
	var log fbrun.Buffer
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Error(err)
		return false, ""
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	deadline := time.After(15 * time.Second)
	for {
		select {
		case <-done:
			return false, log.String()
		case <-deadline:
			_ = cmd.Process.Kill()
			<-done
			return false, "did not start within 15s:\n" + log.String()
		case <-time.After(50 * time.Millisecond):
		}
		if strings.Contains(log.String(), "stream processor started") {
			_ = cmd.Process.Kill()
			<-done
			return true, ""
		}
	}
}
