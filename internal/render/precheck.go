package render

import (
	"sync"

	"github.com/logplane/logplane/internal/alias"
	"github.com/logplane/logplane/internal/snapshot"
)

// precheck starts the unsafe-value checks of the pipelines and outputs of s that memo
// does not remember, on every processor, when there are many: each is a walk over a
// spec, and a fleet has thousands. It returns a function that waits for the results,
// by spec, for the resolver (nil when nothing was checked ahead). Checking is pure,
// so the results are those of checking each spec when it is reached, and they land
// by position, so nothing depends on scheduling.
func precheck(s *snapshot.Snapshot, memo *Renderer) func() map[any]*checkResult {
	none := func() map[any]*checkResult { return nil }
	if memo != nil && len(memo.checks) > 0 {
		return none // after its first render, a Renderer remembers nearly every check
	}
	type item struct {
		spec     any
		wantRefs bool
	}
	items := make([]item, 0, len(s.ClusterPipelines)+len(s.Pipelines)+len(s.Outputs))
	for i := range s.ClusterPipelines {
		cp := &s.ClusterPipelines[i]
		if memo.remembered(Ref{Kind: alias.ClusterLogPipeline, Name: cp.Name}, cp.ResourceVersion) == nil {
			items = append(items, item{&cp.Spec, false})
		}
	}
	for i := range s.Pipelines {
		lp := &s.Pipelines[i]
		if memo.remembered(Ref{Kind: alias.LogPipeline, Namespace: lp.Namespace, Name: lp.Name}, lp.ResourceVersion) == nil {
			items = append(items, item{&lp.Spec, false})
		}
	}
	for i := range s.Outputs {
		lo := &s.Outputs[i]
		if memo.remembered(Ref{Kind: alias.LogOutput, Namespace: lo.Namespace, Name: lo.Name}, lo.ResourceVersion) == nil {
			items = append(items, item{&lo.Spec, true})
		}
	}
	if workersFor(len(items), 256) < 2 {
		return none // checked when reached
	}
	// One allocation for all results: a Renderer keeps them (only after its first
	// render, when nearly all are new anyway).
	results := make([]checkResult, len(items))
	var wg sync.WaitGroup
	var c catcher
	wg.Add(1)
	goCaught(&wg, &c, func() {
		parallel(len(items), 256, func(i int) { results[i] = runCheck(items[i].spec, items[i].wantRefs) })
	})
	return func() map[any]*checkResult {
		// Where each result lands is known before it is there: the index is built
		// while the checks run.
		byspec := make(map[any]*checkResult, len(items))
		for i, it := range items {
			byspec[it.spec] = &results[i]
		}
		wg.Wait()
		c.raise()
		return byspec
	}
}
