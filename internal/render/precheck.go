package render

import (
	"runtime"
	"sync"

	"github.com/logplane/logplane/internal/alias"
)

// precheck runs the unsafe-value checks of the pipelines and outputs that are not
// remembered, on every processor, when there are many: each is a walk over a spec,
// and a fleet has thousands. Checking is pure, so the results are the same as checking
// each spec when it is reached; results land by position, so nothing depends on
// scheduling.
func (r *resolver) precheck() {
	if r.memo != nil && len(r.memo.checks) > 0 {
		return // after its first render, a Renderer remembers nearly every check
	}
	type item struct {
		spec     any
		wantRefs bool
	}
	var items []item
	for i := range r.snap.ClusterPipelines {
		cp := &r.snap.ClusterPipelines[i]
		if r.memo.remembered(Ref{Kind: alias.ClusterLogPipeline, Name: cp.Name}, cp.ResourceVersion) == nil {
			items = append(items, item{&cp.Spec, false})
		}
	}
	for i := range r.snap.Pipelines {
		lp := &r.snap.Pipelines[i]
		if r.memo.remembered(Ref{Kind: alias.LogPipeline, Namespace: lp.Namespace, Name: lp.Name}, lp.ResourceVersion) == nil {
			items = append(items, item{&lp.Spec, false})
		}
	}
	for i := range r.snap.Outputs {
		lo := &r.snap.Outputs[i]
		if r.memo.remembered(Ref{Kind: alias.LogOutput, Namespace: lo.Namespace, Name: lo.Name}, lo.ResourceVersion) == nil {
			items = append(items, item{&lo.Spec, true})
		}
	}
	workers := min(runtime.GOMAXPROCS(0), len(items)/256)
	if workers < 2 {
		return // checked when reached
	}
	results := make([]*checkResult, len(items))
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < len(items); i += workers {
				results[i] = runCheck(items[i].spec, items[i].wantRefs)
			}
		}()
	}
	wg.Wait()
	r.prechecked = make(map[any]*checkResult, len(items))
	for i, it := range items {
		r.prechecked[it.spec] = results[i]
	}
}
