package flow

import (
	"testing"

	v1 "github.com/logplane/logplane/api/v1alpha1"
)

const web, audit = "lp.LogPipeline.team-a.web.o0", "lp.ClusterLogPipeline.audit.o0"

func TestDeltaBetweenRealCaptures(t *testing.T) {
	t00, t10 := parseFixture(t, "t00.prom"), parseFixture(t, "t10.prom")
	d := Delta(t00, t10)
	if got := d[web].Records; got < 450 || got > 550 {
		t.Errorf("web delivered %v records in ~10 s at 50/s", got)
	}
	if d[audit].Records != 0 || d[audit].Dropped == 0 {
		t.Errorf("audit: %+v; its sink answers 500, so records are dropped, not delivered", d[audit])
	}
	f := Figures(d[audit], 10)
	if f.DropRatioBasisPoints != 10000 {
		t.Errorf("audit drop ratio %d bp, want 10000 (all dropped)", f.DropRatioBasisPoints)
	}
}

// After a hot reload every counter restarts from zero; the delta must be what was
// counted since, never negative and never the whole history again.
func TestDeltaAcrossHotReload(t *testing.T) {
	t20, after := parseFixture(t, "t20.prom"), parseFixture(t, "t24-after-reload.prom")
	d := Delta(t20, after)
	if d[web] != after.Outputs[web] {
		t.Errorf("delta %+v, want the post-reload counters %+v", d[web], after.Outputs[web])
	}
	for name, c := range d {
		if c.Records < 0 || c.Dropped < 0 || c.Retried < 0 || c.Bytes < 0 || c.Errors < 0 {
			t.Errorf("%s: negative delta %+v", name, c)
		}
	}
}

func TestDelta(t *testing.T) {
	s := func(uptime, reloads float64, records float64) *Sample {
		return &Sample{Uptime: uptime, HotReloads: reloads, Outputs: map[string]OutputCounters{"o": {Records: records}}}
	}
	cases := []struct {
		name       string
		prev, cur  *Sample
		wantRecord float64
	}{
		{"steady", s(10, 0, 100), s(20, 0, 160), 60},
		{"series reset", s(10, 0, 100), s(20, 0, 30), 30},
		{"process restart with a counter above its old value", s(100, 0, 100), s(5, 0, 150), 150},
		{"hot reload", s(10, 0, 100), s(20, 1, 120), 120},
		{"new section", &Sample{Outputs: map[string]OutputCounters{}}, s(20, 0, 40), 40},
	}
	for _, tc := range cases {
		if got := Delta(tc.prev, tc.cur)["o"].Records; got != tc.wantRecord {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.wantRecord)
		}
	}
}

func TestFigures(t *testing.T) {
	cases := []struct {
		name    string
		c       OutputCounters
		seconds float64
		want    v1.Figures
	}{
		{"rates round to two significant figures", OutputCounters{Records: 305, Bytes: 30500, Retried: 14}, 30,
			v1.Figures{RecordsPerSecond: 10, BytesPerSecond: 1000, RetriedRecordsPerSecond: 0}},
		{"a steady rate reads the same", OutputCounters{Records: 1241 * 30, Bytes: 1e6}, 30,
			v1.Figures{RecordsPerSecond: 1200, BytesPerSecond: 33000}},
		{"a small ratio keeps its figures", OutputCounters{Records: 99877, Dropped: 123}, 30,
			v1.Figures{RecordsPerSecond: 3300, DroppedRecordsPerSecond: 4, DropRatioBasisPoints: 12}},
		{"drop ratio of what was offered", OutputCounters{Records: 900, Dropped: 100}, 10,
			v1.Figures{RecordsPerSecond: 90, DroppedRecordsPerSecond: 10, DropRatioBasisPoints: 1000}},
		{"nothing offered", OutputCounters{}, 30, v1.Figures{}},
		{"empty window", OutputCounters{Records: 5}, 0, v1.Figures{}},
	}
	for _, tc := range cases {
		if got := Figures(tc.c, tc.seconds); got != tc.want {
			t.Errorf("%s: %+v, want %+v", tc.name, got, tc.want)
		}
	}
}
