package render

import (
	"fmt"
	"slices"

	v1 "github.com/logplane/logplane/api/v1alpha1"
	"github.com/logplane/logplane/internal/alias"
	"github.com/logplane/logplane/internal/snapshot"
)

// The controller renders every pipeline at once, so a bug that one resource sets off
// would fail every render — and stop every tenant's configuration and status — until
// that resource is deleted; controller-runtime recovering the panic does not help, the
// next try panics again. A render that panics is therefore taken apart: the resources
// that make it panic are found by rendering halves of them, and the whole is rendered
// without them, each reported RenderFailed on its own status.

// renderGuarded renders s without the resources in excluded and without those found
// to make the render panic, which it returns (with why). It panics only when no
// resource alone makes the render panic (a bug in what they share), with the first
// panic.
func renderGuarded(s *snapshot.Snapshot, memo *Renderer, excluded map[Ref]string, held map[Ref]Problem) (*Result, map[Ref]string) {
	res, failure := tryRender(s, memo, excluded, held)
	if failure == nil {
		return res, nil
	}
	// What a Renderer remembered half-way through may be inconsistent.
	memo.forget()
	found := isolate(s, excluded, held)
	if len(found) == 0 {
		panic(failure)
	}
	all := make(map[Ref]string, len(excluded)+len(found))
	for _, m := range []map[Ref]string{excluded, found} {
		for ref, why := range m {
			all[ref] = why
		}
	}
	if res, failure = tryRender(s, memo, all, held); failure != nil {
		memo.forget()
		panic(failure)
	}
	return res, found
}

// tryRender renders, returning a panic instead of panicking.
func tryRender(s *snapshot.Snapshot, memo *Renderer, excluded map[Ref]string, held map[Ref]Problem) (res *Result, failure any) {
	defer func() {
		if v := recover(); v != nil {
			res, failure = nil, v
		}
	}()
	return render(s, memo, excluded, held), nil
}

// isolate finds the pipelines and outputs of s that make a render panic by
// themselves: it renders halves of them, and halves of the halves that panic. A
// pipeline is rendered with the outputs it refers to, as it would be in the whole.
func isolate(s *snapshot.Snapshot, excluded map[Ref]string, held map[Ref]Problem) map[Ref]string {
	var candidates []Ref
	add := func(ref Ref) {
		_, isHeld := held[ref]
		if _, ok := excluded[ref]; !ok && !isHeld {
			candidates = append(candidates, ref)
		}
	}
	for _, p := range s.ClusterPipelines {
		add(Ref{Kind: alias.ClusterLogPipeline, Name: p.Name})
	}
	for _, p := range s.Pipelines {
		add(Ref{Kind: alias.LogPipeline, Namespace: p.Namespace, Name: p.Name})
	}
	for _, o := range s.ClusterOutputs {
		add(Ref{Kind: alias.ClusterLogOutput, Name: o.Name})
	}
	for _, o := range s.Outputs {
		add(Ref{Kind: alias.LogOutput, Namespace: o.Namespace, Name: o.Name})
	}
	found := map[Ref]string{}
	var search func([]Ref)
	search = func(refs []Ref) {
		if len(refs) == 0 {
			return
		}
		_, failure := tryRender(subset(s, refs), nil, excluded, held)
		switch {
		case failure == nil:
		case len(refs) == 1:
			found[refs[0]] = describe(failure)
		default:
			search(refs[:len(refs)/2])
			search(refs[len(refs)/2:])
		}
	}
	search(candidates)
	return found
}

// subset is s with only the pipelines and outputs in refs, and the outputs those
// pipelines refer to; everything else is kept.
func subset(s *snapshot.Snapshot, refs []Ref) *snapshot.Snapshot {
	keep := make(map[Ref]bool, len(refs))
	for _, ref := range refs {
		keep[ref] = true
	}
	c := *s
	c.ClusterPipelines, c.Pipelines, c.ClusterOutputs, c.Outputs = nil, nil, nil, nil
	for _, p := range s.ClusterPipelines {
		if keep[Ref{Kind: alias.ClusterLogPipeline, Name: p.Name}] {
			c.ClusterPipelines = append(c.ClusterPipelines, p)
			keepClusterOutputs(keep, p.Spec.ClusterOutputRefs)
		}
	}
	for _, p := range s.Pipelines {
		if keep[Ref{Kind: alias.LogPipeline, Namespace: p.Namespace, Name: p.Name}] {
			c.Pipelines = append(c.Pipelines, p)
			keepClusterOutputs(keep, p.Spec.ClusterOutputRefs)
			for _, name := range p.Spec.OutputRefs {
				keep[Ref{Kind: alias.LogOutput, Namespace: p.Namespace, Name: string(name)}] = true
			}
		}
	}
	for _, o := range s.ClusterOutputs {
		if keep[Ref{Kind: alias.ClusterLogOutput, Name: o.Name}] {
			c.ClusterOutputs = append(c.ClusterOutputs, o)
		}
	}
	for _, o := range s.Outputs {
		if keep[Ref{Kind: alias.LogOutput, Namespace: o.Namespace, Name: o.Name}] {
			c.Outputs = append(c.Outputs, o)
		}
	}
	return &c
}

func keepClusterOutputs(keep map[Ref]bool, names []v1.ResourceName) {
	for _, name := range names {
		keep[Ref{Kind: alias.ClusterLogOutput, Name: string(name)}] = true
	}
}

// describe is a panic as a problem's message says it, cut to a length a condition
// message carries well.
func describe(failure any) string {
	msg := fmt.Sprint(failure)
	if len(msg) > 512 {
		msg = msg[:512] + "…"
	}
	return msg
}

// excludedNow returns the remembered failures of the objects in s at the version that
// failed, and forgets the others: an edited object is tried again.
func (r *Renderer) excludedNow(s *snapshot.Snapshot) map[Ref]string {
	if len(r.failed) == 0 {
		return nil
	}
	now := map[Ref]string{}
	still := map[objectVersion]string{}
	for ov, why := range r.failed {
		if slices.Contains(versions(s, ov.ref), ov.version) {
			now[ov.ref] = why
			still[ov] = why
		}
	}
	r.failed = still
	return now
}

// rememberFailed keeps the resources found to fail, by version, so that the next
// renders leave them out without searching again.
func (r *Renderer) rememberFailed(s *snapshot.Snapshot, found map[Ref]string) {
	for ref, why := range found {
		for _, v := range versions(s, ref) {
			if v != "" {
				r.failed[objectVersion{ref, v}] = why
			}
		}
	}
}

// versions lists the resourceVersions of the objects ref names in s (one, unless s
// holds copies).
func versions(s *snapshot.Snapshot, ref Ref) []string {
	var out []string
	switch ref.Kind {
	case alias.ClusterLogPipeline:
		for i := range s.ClusterPipelines {
			if p := &s.ClusterPipelines[i]; p.Name == ref.Name {
				out = append(out, p.ResourceVersion)
			}
		}
	case alias.LogPipeline:
		for i := range s.Pipelines {
			if p := &s.Pipelines[i]; p.Namespace == ref.Namespace && p.Name == ref.Name {
				out = append(out, p.ResourceVersion)
			}
		}
	case alias.ClusterLogOutput:
		for i := range s.ClusterOutputs {
			if o := &s.ClusterOutputs[i]; o.Name == ref.Name {
				out = append(out, o.ResourceVersion)
			}
		}
	case alias.LogOutput:
		for i := range s.Outputs {
			if o := &s.Outputs[i]; o.Namespace == ref.Namespace && o.Name == ref.Name {
				out = append(out, o.ResourceVersion)
			}
		}
	}
	return out
}
