package flow

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
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
