package render

import (
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"

	v1 "github.com/logplane/logplane/api/v1alpha1"
	"github.com/logplane/logplane/internal/alias"
	"github.com/logplane/logplane/internal/conditions"
	"github.com/logplane/logplane/internal/snapshot"
)

// panicOn makes encoding the named pipelines panic, as a bug would, for one test, and
// counts how often each was encoded.
func panicOn(t *testing.T, names ...string) map[string]int {
	t.Helper()
	var mu sync.Mutex
	calls := map[string]int{}
	encodeHook = func(ref Ref) {
		if slices.Contains(names, ref.Name) {
			mu.Lock()
			calls[ref.Name]++
			mu.Unlock()
			panic("bug set off by " + ref.Name)
		}
	}
	t.Cleanup(func() { encodeHook = nil })
	return calls
}

func without(s *snapshot.Snapshot, names ...string) *snapshot.Snapshot {
	c := *s
	c.Pipelines = slices.DeleteFunc(slices.Clone(s.Pipelines), func(p v1.LogPipeline) bool { return slices.Contains(names, p.Name) })
	return &c
}

// A bug that one pipeline sets off, even in a goroutine of the encoder, leaves out that
// pipeline with RenderFailed; everyone else's configuration is what it would be
// without it.
func TestPanicLeavesOutOnlyThePipelineThatSetsItOff(t *testing.T) {
	if runtime.GOMAXPROCS(0) < 2 {
		t.Log("one processor: the encoder's goroutines are not exercised")
	}
	s := fleet(300) // enough jobs for the encoder to use every processor
	want := Render(without(s, "app-0042", "app-0217"))
	panicOn(t, "app-0042", "app-0217")
	for name, render := range map[string]func(*snapshot.Snapshot) *Result{"Render": Render, "Renderer": NewRenderer().Render} {
		t.Run(name, func(t *testing.T) {
			got := render(s)
			if !sameFiles(got.Agents[0].Files, want.Agents[0].Files) || got.Agents[0].Hash != want.Agents[0].Hash {
				t.Error("the configuration differs from the one without the failing pipelines")
			}
			var failed []string
			for _, p := range got.Problems {
				if p.Reason == conditions.ReasonRenderFailed {
					failed = append(failed, p.Ref.Name)
					if p.Ref.Kind != alias.LogPipeline || !strings.Contains(p.Message, "bug set off by "+p.Ref.Name) {
						t.Errorf("problem %v", p)
					}
				}
			}
			slices.Sort(failed)
			if !slices.Equal(failed, []string{"app-0042", "app-0217"}) {
				t.Errorf("RenderFailed on %v, want app-0042 and app-0217", failed)
			}
		})
	}
}

// A Renderer remembers which version of a resource failed: the next render leaves it
// out without trying it, and an edit tries it again.
func TestRendererRemembersFailuresUntilTheResourceChanges(t *testing.T) {
	s := fleet(20)
	calls := panicOn(t, "app-0007")
	r := NewRenderer()
	first := r.Render(s)
	tried := calls["app-0007"]
	if tried == 0 {
		t.Fatal("the failing pipeline was never encoded")
	}
	second := r.Render(s)
	if calls["app-0007"] != tried {
		t.Errorf("tried again %d times without a change", calls["app-0007"]-tried)
	}
	if !sameFiles(first.Agents[0].Files, second.Agents[0].Files) || !slices.Equal(first.Problems, second.Problems) {
		t.Error("the second render differs from the first")
	}
	s.Pipelines[7].ResourceVersion = "2"
	r.Render(s)
	if calls["app-0007"] == tried {
		t.Error("an edited pipeline was not tried again")
	}
	// Once fixed (a new operator, or a change that avoids the bug), it renders.
	encodeHook = nil
	s.Pipelines[7].ResourceVersion = "3"
	if res := r.Render(s); slices.ContainsFunc(res.Problems, func(p Problem) bool { return p.Reason == conditions.ReasonRenderFailed }) {
		t.Errorf("fixed, still RenderFailed: %v", res.Problems)
	}
}

// A bug that no resource sets off alone is not hidden: the render panics, as before.
func TestPanicOfTheWholeIsRaised(t *testing.T) {
	encodeHook = func(Ref) { panic("always") }
	t.Cleanup(func() { encodeHook = nil })
	s := fleet(4)
	// Every pipeline fails alone: each is left out, nothing panics.
	if res := Render(s); len(res.Agents[0].Pipelines) != 0 {
		t.Errorf("pipelines rendered: %v", res.Agents[0].Pipelines)
	}
	// With nothing to blame, the panic goes up to the reconciler.
	defer func() {
		if recover() == nil {
			t.Error("no panic")
		}
	}()
	var empty snapshot.Snapshot
	renderGuardedPanicking(&empty)
}

// renderGuardedPanicking renders a snapshot whose render panics with no resource to blame.
func renderGuardedPanicking(s *snapshot.Snapshot) {
	old := maxFileBytes
	maxFileBytes = 10 // not even the main file fits, and no pipeline can be left out
	defer func() { maxFileBytes = old }()
	Render(s)
}
