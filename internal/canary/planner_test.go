package canary

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"testing"

	"github.com/logplane/logplane/internal/render"
)

func pipeline(i int) render.Ref {
	return render.Ref{Kind: "LogPipeline", Namespace: fmt.Sprintf("team-%04d", i), Name: "logs"}
}

// fluentBit stands in for the canary: it refuses a candidate when the proven set and
// the candidate's changes together hold a bad version, naming the first.
type fluentBit struct {
	bad  map[Change]bool
	runs int
	// together are pairs of changes that are refused only when both are present.
	together [][2]Change
}

func (f *fluentBit) run(proven Versions, c Candidate) (bool, string) {
	f.runs++
	all := maps.Clone(proven)
	for _, ch := range c.Include {
		all[ch.Ref] = ch.Version
	}
	refs := slices.SortedFunc(maps.Keys(all), compareRefs)
	for _, ref := range refs {
		if f.bad[Change{ref, all[ref]}] {
			return false, "[error] " + ref.String()
		}
	}
	for _, pair := range f.together {
		if all[pair[0].Ref] == pair[0].Version && all[pair[1].Ref] == pair[1].Version {
			return false, "[error] together"
		}
	}
	return true, ""
}

// settle runs the planner until nothing is left to try, checking on the way that no
// candidate ever holds back a proven, unchanged resource.
func settle(t testing.TB, p *Planner, f *fluentBit, current Versions) {
	t.Helper()
	for i := 0; ; i++ {
		if i > 10000 {
			t.Fatal("the search does not end")
		}
		before := maps.Clone(p.Proven())
		c, ok := p.Next(current)
		if !ok {
			return
		}
		for _, ch := range c.Include {
			if v, ok := before[ch.Ref]; ok && v == ch.Version {
				t.Fatalf("candidate includes %s, which is proven and unchanged", ch.Ref)
			}
		}
		if ok, msg := f.run(p.Proven(), c); ok {
			p.Passed()
		} else {
			p.Refused(msg)
		}
	}
}

func versions(n int, version string) Versions {
	v := Versions{}
	for i := range n {
		v[pipeline(i)] = version
	}
	return v
}

func TestPlanner(t *testing.T) {
	for _, tc := range []struct {
		name     string
		proven   Versions
		current  Versions
		bad      []int // indexes of pipelines whose current version is refused
		together [][2]int
		wantRuns int
		// wantRejected are the indexes expected to be named.
		wantRejected []int
	}{
		{name: "nothing changed", proven: versions(4, "1"), current: versions(4, "1"), wantRuns: 0},
		{name: "all good in one run", proven: versions(4, "1"), current: versions(8, "1"), wantRuns: 1},
		{name: "from nothing proven", current: versions(8, "1"), wantRuns: 1},
		{name: "one offender among eight new", proven: Versions{}, current: versions(8, "1"), bad: []int{5},
			// all refused; 0-3 pass; 4-5 refused; 4 passes, so 5 is named without a
			// run; 6-7 pass.
			wantRuns: 5, wantRejected: []int{5}},
		{name: "single change refused", proven: versions(4, "1"), current: merge(versions(4, "1"), Versions{pipeline(9): "1"}),
			bad: []int{9}, wantRuns: 1, wantRejected: []int{9}},
		{name: "two offenders", current: versions(16, "1"), bad: []int{1, 14}, wantRejected: []int{1, 14}, wantRuns: 11},
		{name: "every change refused", current: versions(4, "1"), bad: []int{0, 1, 2, 3}, wantRejected: []int{0, 1, 2, 3}, wantRuns: 8},
		{name: "refused only together: one of the pair is named, the other proven", current: versions(4, "1"),
			together: [][2]int{{0, 3}}, wantRejected: []int{3}, wantRuns: 3},
		{name: "an edited running resource that is refused", proven: versions(4, "1"),
			current: merge(versions(4, "1"), Versions{pipeline(2): "2"}), bad: []int{2}, wantRuns: 1, wantRejected: []int{2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &fluentBit{bad: map[Change]bool{}}
			for _, i := range tc.bad {
				f.bad[Change{pipeline(i), tc.current[pipeline(i)]}] = true
			}
			for _, pair := range tc.together {
				a, b := pipeline(pair[0]), pipeline(pair[1])
				f.together = append(f.together, [2]Change{{a, tc.current[a]}, {b, tc.current[b]}})
			}
			p := NewPlanner(tc.proven)
			settle(t, p, f, tc.current)
			if f.runs != tc.wantRuns {
				t.Errorf("runs = %d, want %d", f.runs, tc.wantRuns)
			}
			var rejected []int
			for ref := range p.Rejected() {
				var i int
				fmt.Sscanf(ref.Namespace, "team-%d", &i)
				rejected = append(rejected, i)
			}
			slices.Sort(rejected)
			if !slices.Equal(rejected, tc.wantRejected) {
				t.Errorf("rejected = %v, want %v", rejected, tc.wantRejected)
			}
			// Everything else is proven at its current version.
			for ref, v := range tc.current {
				_, rej := p.Rejected()[ref]
				if !rej && p.Proven()[ref] != v {
					t.Errorf("%s is neither proven at %s nor rejected", ref, v)
				}
				if rej && p.Proven()[ref] == v {
					t.Errorf("%s is both proven and rejected", ref)
				}
			}
			for ref, r := range p.Rejected() {
				if r.Message == "" || r.Version != tc.current[ref] {
					t.Errorf("rejection of %s = %+v", ref, r)
				}
			}
			if p.Searching() {
				t.Error("still searching after the last candidate")
			}
		})
	}
}

func merge(a, b Versions) Versions {
	out := maps.Clone(a)
	maps.Copy(out, b)
	return out
}

// An edited running resource that is refused keeps its proven version in the
// proven set (the caller renders it at that version), and once fixed goes out.
func TestPlannerKeepsProvenVersionOfRefusedEdit(t *testing.T) {
	f := &fluentBit{bad: map[Change]bool{{pipeline(1), "2"}: true}}
	p := NewPlanner(versions(3, "1"))
	settle(t, p, f, merge(versions(3, "1"), Versions{pipeline(1): "2"}))
	if got := p.Proven()[pipeline(1)]; got != "1" {
		t.Errorf("proven version of the refused edit = %q, want the running 1", got)
	}
	if r := p.Rejected()[pipeline(1)]; r.Version != "2" {
		t.Errorf("rejection = %+v, want version 2", r)
	}
	// The fix: version 3 is tried and proven; the rejection is forgotten.
	runs := f.runs
	settle(t, p, f, merge(versions(3, "1"), Versions{pipeline(1): "3"}))
	if f.runs != runs+1 || p.Proven()[pipeline(1)] != "3" || len(p.Rejected()) != 0 {
		t.Errorf("after the fix: runs %d→%d, proven %q, rejected %v", runs, f.runs, p.Proven()[pipeline(1)], p.Rejected())
	}
	// The same refused version again is not run again.
	runs = f.runs
	cur := merge(versions(3, "1"), Versions{pipeline(1): "3"})
	if _, ok := p.Next(cur); ok || f.runs != runs {
		t.Error("a settled state asks for another run")
	}
}

// Changes that arrive during a search join it without restarting the run in flight,
// and a change to a resource under suspicion takes it out of the search.
func TestPlannerChangesDuringSearch(t *testing.T) {
	f := &fluentBit{bad: map[Change]bool{{pipeline(3), "1"}: true}}
	p := NewPlanner(nil)
	cur := versions(8, "1")
	c, _ := p.Next(cur)
	if len(c.Include) != 8 {
		t.Fatalf("first candidate has %d changes, want 8", len(c.Include))
	}
	// A new pipeline arrives before the verdict: the candidate in flight stays.
	cur[pipeline(8)] = "1"
	if c2, _ := p.Next(cur); len(c2.Include) != 8 {
		t.Fatalf("the run in flight was replaced: %d changes", len(c2.Include))
	}
	ok, msg := f.run(p.Proven(), c)
	if ok {
		t.Fatal("the oracle accepted an offender")
	}
	p.Refused(msg)
	// The suspect is fixed while the search narrows it.
	c, _ = p.Next(cur)
	if len(c.Include) != 4 || !c.Has(pipeline(0)) || !c.Has(pipeline(3)) {
		t.Fatalf("second candidate = %v", c.Include)
	}
	cur[pipeline(3)] = "2"
	settle(t, p, f, cur)
	if len(p.Rejected()) != 0 {
		t.Errorf("rejected %v after the fix", p.Rejected())
	}
	for ref, v := range cur {
		if p.Proven()[ref] != v {
			t.Errorf("%s not proven at %s", ref, v)
		}
	}
	// A deleted proven resource leaves the proven set.
	delete(cur, pipeline(0))
	settle(t, p, f, cur)
	if _, ok := p.Proven()[pipeline(0)]; ok {
		t.Error("a deleted resource is still proven")
	}
}

// A burst of creations is proven in one run, and each offender costs about log2(n)
// runs more, not one run per creation.
func TestBurstRunCount(t *testing.T) {
	const n = 2000
	for _, offenders := range []int{0, 1, 3} {
		runs := burstRuns(t, n, offenders)
		bound := 1 + offenders*(int(math.Ceil(math.Log2(n)))+2)
		t.Logf("%d creations, %d offenders: %d canary runs (bound %d)", n, offenders, runs, bound)
		if runs > bound {
			t.Errorf("%d offenders: %d runs, more than %d", offenders, runs, bound)
		}
	}
}

// burstRuns counts the canary runs that n creations with the given number of
// offenders (spread over the range) take.
func burstRuns(t testing.TB, n, offenders int) int {
	f := &fluentBit{bad: map[Change]bool{}}
	for k := range offenders {
		f.bad[Change{pipeline((k*n)/offenders + n/(2*offenders+1)), "1"}] = true
	}
	p := NewPlanner(nil)
	settle(t, p, f, versions(n, "1"))
	if len(p.Rejected()) != offenders {
		t.Fatalf("found %d offenders, want %d", len(p.Rejected()), offenders)
	}
	return f.runs
}

// BenchmarkBurst reports the canary runs (runs/op) for a burst of 2,000 creations:
// `go test ./internal/canary -bench Burst -run '^$'`.
func BenchmarkBurst(b *testing.B) {
	for _, offenders := range []int{0, 1, 3} {
		b.Run(fmt.Sprintf("offenders=%d", offenders), func(b *testing.B) {
			var runs int
			for b.Loop() {
				runs = burstRuns(b, 2000, offenders)
			}
			b.ReportMetric(float64(runs), "runs/op")
		})
	}
}

// A burst that keeps arriving while canaries run (Argo CD applying 2,000 pipelines, 100
// per canary run) costs a run per wave at most, and each offender its bisection.
func TestBurstArrivingDuringRuns(t *testing.T) {
	const n, wave = 2000, 100
	for _, offenders := range []int{0, 1, 3} {
		f := &fluentBit{bad: map[Change]bool{}}
		for k := range offenders {
			f.bad[Change{pipeline((k*n)/offenders + 7), "1"}] = true
		}
		p := NewPlanner(nil)
		cur := Versions{}
		for arrived := 0; ; {
			// Each canary run takes as long as a wave of creations takes to arrive.
			for i := arrived; i < min(arrived+wave, n); i++ {
				cur[pipeline(i)] = "1"
			}
			arrived = min(arrived+wave, n)
			c, ok := p.Next(cur)
			if !ok {
				if arrived == n {
					break
				}
				continue
			}
			if ok, msg := f.run(p.Proven(), c); ok {
				p.Passed()
			} else {
				p.Refused(msg)
			}
		}
		bound := n/wave + offenders*(int(math.Ceil(math.Log2(n)))+2)
		t.Logf("%d creations in waves of %d, %d offenders: %d canary runs (bound %d)", n, wave, offenders, f.runs, bound)
		if f.runs > bound || len(p.Rejected()) != offenders || len(p.Proven()) != n-offenders {
			t.Errorf("%d runs (bound %d), %d rejected, %d proven", f.runs, bound, len(p.Rejected()), len(p.Proven()))
		}
	}
}
