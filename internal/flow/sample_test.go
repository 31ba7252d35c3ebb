package flow

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

func parseFixture(t *testing.T, name string) *Sample {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s, err := Parse(f)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// The captures from a real Fluent Bit 5.1.1 read back as the numbers in them.
func TestParseRealCaptures(t *testing.T) {
	s := parseFixture(t, "t10.prom")
	ok := s.Outputs["lp.LogPipeline.team-a.web.o0"]
	if ok.Records != 550 || ok.Bytes != 41800 || ok.Dropped != 0 || ok.Retried != 56 {
		t.Errorf("healthy output: %+v", ok)
	}
	failing := s.Outputs["lp.ClusterLogPipeline.audit.o0"]
	if failing.Records != 0 || failing.Dropped != 204 || failing.Retried != 550 {
		t.Errorf("failing output: %+v", failing)
	}
	if in := s.Inputs["containers"]; in.Records == 0 || in.Bytes == 0 {
		t.Errorf("input: %+v", in)
	}
	if s.Uptime == 0 {
		t.Error("no uptime")
	}
	after := parseFixture(t, "t24-after-reload.prom")
	if after.HotReloads != 1 || after.Outputs["lp.LogPipeline.team-a.web.o0"].Records >= ok.Records {
		t.Errorf("after the reload: reloads %v, records %v (counters restart from zero)",
			after.HotReloads, after.Outputs["lp.LogPipeline.team-a.web.o0"].Records)
	}
}

func TestParseRejectsGarbage(t *testing.T) {
	if _, err := Parse(strings.NewReader("fluentbit_uptime{ 3\n")); err == nil {
		t.Fatal("accepted malformed exposition")
	}
}

func FuzzParseNeverPanics(f *testing.F) {
	for _, name := range []string{"t00.prom", "t24-after-reload.prom"} {
		data, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(data))
	}
	f.Fuzz(func(t *testing.T, text string) {
		_, _ = Parse(strings.NewReader(text))
	})
}

// sameWanted checks that skipping the families a Sample does not read changes none
// of the ones it does: text parses the same, family by family, before and after.
func sameWanted(t *testing.T, text string) {
	t.Helper()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	full, err := parser.TextToMetricFamilies(strings.NewReader(text))
	if err != nil {
		return // the parser refuses it whole; what it makes of a part does not matter
	}
	parser = expfmt.NewTextParser(model.UTF8Validation)
	kept, err := parser.TextToMetricFamilies(bytes.NewReader(keepWanted([]byte(text))))
	if err != nil {
		t.Fatalf("the wanted lines of a valid exposition do not parse: %v\n%q", err, text)
	}
	for name, f := range kept {
		if !wanted[name] {
			t.Errorf("family %s was kept", name)
		}
		if a, b := familyText(t, f), familyText(t, full[name]); a != b {
			t.Errorf("family %s reads\n%s\nafter filtering, and\n%s\nin the whole text", name, a, b)
		}
	}
	for name := range full {
		if _, ok := kept[name]; wanted[name] && !ok {
			t.Errorf("family %s was skipped", name)
		}
	}
}

func TestKeepWantedChangesNoWantedFamily(t *testing.T) {
	for _, name := range []string{"t00.prom", "t10.prom", "t20.prom", "t24-after-reload.prom"} {
		data, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		sameWanted(t, string(data))
		if kept := len(keepWanted(data)); kept*3 > len(data) {
			t.Errorf("%s: %d of %d bytes kept; the histograms should be gone", name, kept, len(data))
		}
	}
	// Blanks where the text format allows them, and no final newline.
	sameWanted(t, "#\tTYPE  fluentbit_uptime counter\n  fluentbit_uptime{hostname=\"a\"} 7\n# a comment\nfluentbit_build_info 1\nfluentbit_uptime_x 3\nfluentbit_hot_reloaded_times 2")
}

func FuzzKeepWanted(f *testing.F) {
	for _, name := range []string{"t00.prom", "t24-after-reload.prom"} {
		data, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(data))
	}
	f.Add("# HELP fluentbit_uptime x\n# TYPE fluentbit_uptime counter\nfluentbit_uptime 1\n")
	f.Fuzz(sameWanted)
}

func familyText(t *testing.T, f *dto.MetricFamily) string {
	t.Helper()
	if f == nil {
		return "<none>"
	}
	var b strings.Builder
	if _, err := expfmt.MetricFamilyToText(&b, f); err != nil {
		return "<" + err.Error() + ">"
	}
	return b.String()
}
