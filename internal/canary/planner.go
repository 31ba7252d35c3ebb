// Package canary decides which agent configurations are proven by starting the real
// Fluent Bit before any node gets them, and finds the resources whose changes make
// Fluent Bit refuse a configuration. It is pure: the caller renders each candidate,
// runs it (a canary pod) and reports the verdict.
//
// The planner works on resource versions, not on configurations: the proven set is
// what the last configuration Fluent Bit accepted was rendered from; every resource
// whose version differs from it (new or edited) is a change. A candidate is the
// proven set plus some of the changes; the rest are held back (at their proven
// version when they have one, left out when they are new). A resource that is
// proven and unchanged is in every candidate: it is never held back.
package canary

import (
	"cmp"
	"slices"

	"github.com/logplane/logplane/internal/render"
)

// Versions maps a resource to the version of it that a configuration is rendered
// from (for example its UID and generation).
type Versions map[render.Ref]string

// Change is one resource at the version it has now.
type Change struct {
	Ref     render.Ref
	Version string
}

// Rejection is a version of a resource that makes Fluent Bit refuse the
// configuration, and Fluent Bit's words for it.
type Rejection struct {
	Version string
	Message string
}

// Candidate is a configuration to prove: the proven set with Include added.
type Candidate struct {
	// Include are the changes tried, sorted by Ref.
	Include []Change
}

// Has reports whether the candidate includes ref at the version it has now.
func (c Candidate) Has(ref render.Ref) bool {
	_, ok := slices.BinarySearchFunc(c.Include, ref, func(ch Change, r render.Ref) int { return compareRefs(ch.Ref, r) })
	return ok
}

// group is a set of changes known to contain at least one that the proven set
// refuses, with the message of the refusal that showed it.
type group struct {
	changes []Change
	message string
}

// Planner keeps the proven set and the state of a search for offenders between
// canary runs. Its zero value is not usable; use NewPlanner. It is not safe for
// concurrent use.
type Planner struct {
	proven   Versions
	rejected map[render.Ref]Rejection
	// suspects are groups that each hold an offender relative to proven: the search
	// narrows the first one.
	suspects []group
	// untested are changes not yet tried against proven; they are tried together.
	untested []Change
	// inflight is the candidate handed out and not yet judged.
	inflight *plan
}

// plan is a candidate and how its verdict moves the search.
type plan struct {
	Candidate
	// half: the candidate is the first half of suspects[0]; otherwise it is all of
	// untested.
	half bool
}

// NewPlanner starts from the versions the running configuration is known to be
// rendered from (nil: none, so every resource is a change).
func NewPlanner(proven Versions) *Planner {
	p := &Planner{proven: Versions{}, rejected: map[render.Ref]Rejection{}}
	for ref, v := range proven {
		p.proven[ref] = v
	}
	return p
}

// Next returns the candidate to prove for the resources at current, or false when
// every change is proven or rejected. Asked again before a verdict, it returns the
// same candidate while its changes are still current. Offenders whose version
// changed or that were deleted are forgotten (tried again if they still exist);
// deleted proven resources leave the proven set, since no configuration can hold
// them any more.
func (p *Planner) Next(current Versions) (Candidate, bool) {
	p.sync(current)
	if p.inflight != nil {
		return p.inflight.Candidate, true
	}
	for len(p.suspects) > 0 {
		g := p.suspects[0]
		if len(g.changes) == 1 {
			// Known to be refused on top of proven, alone: an offender, no run needed.
			ch := g.changes[0]
			p.rejected[ch.Ref] = Rejection{Version: ch.Version, Message: g.message}
			p.suspects = p.suspects[1:]
			continue
		}
		p.inflight = &plan{Candidate: Candidate{Include: slices.Clone(g.changes[:len(g.changes)/2])}, half: true}
		return p.inflight.Candidate, true
	}
	if len(p.untested) == 0 {
		return Candidate{}, false
	}
	p.inflight = &plan{Candidate: Candidate{Include: slices.Clone(p.untested)}}
	return p.inflight.Candidate, true
}

// Passed records that Fluent Bit started the candidate Next returned: its changes
// join the proven set.
func (p *Planner) Passed() {
	in := p.inflight
	if in == nil {
		return
	}
	p.inflight = nil
	for _, ch := range in.Include {
		p.proven[ch.Ref] = ch.Version
	}
	if in.half {
		// The rest of the group on top of the new proven set is the configuration that
		// was refused, so it still holds an offender: narrow it without a run.
		p.suspects[0].changes = p.suspects[0].changes[len(in.Include):]
		return
	}
	p.untested = without(p.untested, in.Include)
}

// Refused records that Fluent Bit refused the candidate Next returned, with its
// error message. A candidate with no changes (the proven set alone, after
// deletions) names no offender.
func (p *Planner) Refused(message string) {
	in := p.inflight
	if in == nil {
		return
	}
	p.inflight = nil
	if len(in.Include) == 0 {
		return
	}
	g := group{changes: in.Include, message: message}
	if in.half {
		// The other half is untested against proven: it may hold offenders too, or
		// none (it failed only together with this half).
		rest := p.suspects[0].changes[len(in.Include):]
		p.suspects[0] = g
		p.untested = sortedUnion(p.untested, rest)
		return
	}
	p.untested = without(p.untested, in.Include)
	p.suspects = append(p.suspects, g)
}

// Proven returns the versions the last accepted candidate was rendered from. The map
// is the planner's: do not modify it.
func (p *Planner) Proven() Versions { return p.proven }

// Rejected returns the offenders found, by resource. The map is the planner's.
func (p *Planner) Rejected() map[render.Ref]Rejection { return p.rejected }

// Searching reports whether some change is neither proven nor rejected yet.
func (p *Planner) Searching() bool {
	return p.inflight != nil || len(p.suspects) > 0 || len(p.untested) > 0
}

// sync brings the search up to current: deleted or edited resources leave it, new
// changes join the untested ones.
func (p *Planner) sync(current Versions) {
	for ref := range p.proven {
		if _, ok := current[ref]; !ok {
			delete(p.proven, ref)
		}
	}
	for ref, r := range p.rejected {
		if current[ref] != r.Version {
			delete(p.rejected, ref)
		}
	}
	stale := func(ch Change) bool {
		v, ok := current[ch.Ref]
		return !ok || v != ch.Version || p.proven[ch.Ref] == v
	}
	if p.inflight != nil && slices.ContainsFunc(p.inflight.Include, stale) {
		p.inflight = nil // its verdict would be about versions that are gone
	}
	known := map[render.Ref]bool{}
	var retest []Change
	suspects := p.suspects[:0]
	for i, g := range p.suspects {
		if slices.ContainsFunc(g.changes, stale) {
			// What made the group fail may be what changed: it is no longer known to
			// hold an offender.
			if i == 0 && p.inflight != nil && p.inflight.half {
				p.inflight = nil
			}
			retest = append(retest, slices.DeleteFunc(slices.Clone(g.changes), stale)...)
			continue
		}
		suspects = append(suspects, g)
	}
	p.suspects = suspects
	for _, g := range p.suspects {
		for _, ch := range g.changes {
			known[ch.Ref] = true
		}
	}
	untested := slices.DeleteFunc(p.untested, stale)
	untested = sortedUnion(untested, retest)
	for _, ch := range untested {
		known[ch.Ref] = true
	}
	var fresh []Change
	for ref, v := range current {
		if p.proven[ref] == v && hasVersion(p.proven, ref) || known[ref] {
			continue
		}
		if r, ok := p.rejected[ref]; ok && r.Version == v {
			continue
		}
		fresh = append(fresh, Change{Ref: ref, Version: v})
	}
	// Fresh changes wait for the run in flight rather than restart it: under steady
	// churn a restarted run would never finish.
	slices.SortFunc(fresh, compareChanges)
	p.untested = sortedUnion(untested, fresh)
}

func hasVersion(v Versions, ref render.Ref) bool {
	_, ok := v[ref]
	return ok
}

// without returns list minus the refs in drop (both sorted).
func without(list, drop []Change) []Change {
	gone := make(map[render.Ref]bool, len(drop))
	for _, ch := range drop {
		gone[ch.Ref] = true
	}
	return slices.DeleteFunc(list, func(ch Change) bool { return gone[ch.Ref] })
}

// sortedUnion merges b into a, keeping refs unique and sorted.
func sortedUnion(a, b []Change) []Change {
	if len(b) == 0 {
		return a
	}
	out := append(a, b...)
	slices.SortFunc(out, compareChanges)
	return slices.CompactFunc(out, func(x, y Change) bool { return x.Ref == y.Ref })
}

func compareChanges(a, b Change) int { return compareRefs(a.Ref, b.Ref) }

func compareRefs(a, b render.Ref) int {
	return cmp.Or(cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Name, b.Name))
}
