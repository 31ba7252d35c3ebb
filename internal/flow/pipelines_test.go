package flow

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/logplane/logplane/api/v1alpha1"
	"github.com/logplane/logplane/internal/alias"
	"github.com/logplane/logplane/internal/conditions"
)

var (
	webAlias   = alias.Output{PipelineKind: alias.LogPipeline, Namespace: "team-a", Pipeline: "web", OutputKind: alias.LogOutput, Output: "loki"}
	auditAlias = alias.Output{PipelineKind: alias.ClusterLogPipeline, Pipeline: "audit", OutputKind: alias.ClusterLogOutput, Output: "siem"}
	webKey     = PipelineKey{Kind: alias.LogPipeline, Namespace: "team-a", Name: "web"}
	auditKey   = PipelineKey{Kind: alias.ClusterLogPipeline, Name: "audit"}
)

// fixture reads a real Fluent Bit 5.1.1 capture, renaming its two outputs to
// logplane aliases.
func fixture(t *testing.T, name string) *Sample {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	text := strings.NewReplacer("lp.LogPipeline.team-a.web.o0", webAlias.Encode(),
		"lp.ClusterLogPipeline.audit.o0", auditAlias.Encode()).Replace(string(data))
	s, err := Parse(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestRealCapturesBecomeStatus follows the captures of a real Fluent Bit through the
// tracker into what two pipelines' statuses show: one delivering, one whose
// destination answers 500 so every record is dropped, and a hot reload that starts
// every counter again.
func TestRealCapturesBecomeStatus(t *testing.T) {
	tr := NewTracker()
	t0 := time.Unix(1000, 0)
	steps := []struct {
		file    string
		at      time.Duration
		web     metav1.ConditionStatus
		webRate int64
		audit   string
	}{
		{"t00.prom", 0, "", 0, ""},
		{"t10.prom", 10 * time.Second, metav1.ConditionTrue, 55, conditions.ReasonAllDataDropped},
		{"t20.prom", 20 * time.Second, metav1.ConditionTrue, 50, conditions.ReasonAllDataDropped},
		{"t24-after-reload.prom", 24 * time.Second, metav1.ConditionTrue, 13, conditions.ReasonNoLogsDelivered}, // 500s retried, none dropped yet
	}
	for _, s := range steps {
		c := tr.Observe([]Result{{Target: Target{Key: "agent-0"}, Sample: fixture(t, s.file), At: t0.Add(s.at)}})
		byP := ByPipeline(c)
		if s.web == "" {
			if c.Window != 0 || len(c.Rates) != 0 {
				t.Fatalf("%s: rates from a first sample", s.file)
			}
			continue
		}
		th, cond := Judge(byP[webKey], c.Window, nil, 1, t0.Add(s.at))
		if cond.Status != s.web || th.RecordsPerSecond != s.webRate || th.DroppedRecordsPerSecond != 0 {
			t.Errorf("%s: web %s %s at %d/s (dropped %d/s), want %s at %d/s", s.file, cond.Status, cond.Reason,
				th.RecordsPerSecond, th.DroppedRecordsPerSecond, s.web, s.webRate)
		}
		if len(th.Outputs) != 1 || th.Outputs[0].Name != "loki" || th.Outputs[0].Kind != alias.LogOutput {
			t.Errorf("%s: web outputs %+v", s.file, th.Outputs)
		}
		_, cond = Judge(byP[auditKey], c.Window, nil, 1, t0.Add(s.at))
		if cond.Reason != s.audit {
			t.Errorf("%s: audit %s (%s), want %s", s.file, cond.Reason, cond.Message, s.audit)
		}
	}
}

func TestJudgeLeavesUnmeasurableOutputsOutOfTotals(t *testing.T) {
	m := &Measure{Outputs: map[OutputKey]OutputCounters{
		{Kind: alias.LogOutput, Name: "s3"}:   {Records: 500, Dropped: 5},
		{Kind: alias.LogOutput, Name: "loki"}: {Records: 100, Bytes: 12345},
	}, BufferUsed: 72, FullestBuffer: OutputKey{Kind: alias.LogOutput, Name: "loki"}}
	why := "S3 counts records as delivered once buffered"
	th, cond := Judge(m, 30*time.Second, map[OutputKey]string{{Kind: alias.LogOutput, Name: "s3"}: why}, 2, time.Unix(0, 0))
	want := v1.Figures{RecordsPerSecond: 100, BytesPerSecond: 12000}
	if th.Figures != want {
		t.Errorf("totals %+v, want %+v (S3 left out)", th.Figures, want)
	}
	if th.Outputs[0].Name != "loki" || th.Outputs[1].NotMeasurable != why || th.Outputs[1].RecordsPerSecond != 0 {
		t.Errorf("outputs %+v", th.Outputs)
	}
	if cond.Reason != conditions.ReasonBufferFillingUp || !strings.Contains(cond.Message, "LogOutput/loki") || th.WindowSeconds != 30 {
		t.Errorf("condition %s %q, window %d", cond.Reason, cond.Message, th.WindowSeconds)
	}
}

func TestByPipelineIgnoresForeignSections(t *testing.T) {
	c := Cycle{Rates: map[string]OutputCounters{"tail.0": {Records: 1}, "lp_in_containers": {Records: 9}, webAlias.Encode(): {Records: 3}}}
	got := ByPipeline(c)
	if len(got) != 1 || got[webKey].Outputs[OutputKey{Kind: alias.LogOutput, Name: "loki"}].Records != 3 {
		t.Errorf("got %+v", got)
	}
}
