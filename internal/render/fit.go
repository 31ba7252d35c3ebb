package render

import (
	"errors"
	"fmt"
	"slices"

	"github.com/logplane/logplane/internal/conditions"
)

// A configuration's files are bounded (maxFileBytes each, maxShards shard files), and
// what the API admits is not: one tenant may create any number of pipelines, each as
// large as the CRD allows. When the pipelines do not fit together, the largest are left
// out, each with ConfigTooLarge on its own status, and the rest render: whoever takes
// the most room goes first, so that one tenant cannot push out the many who fit.

// renderFitting calls render with pipelines, then again without those a
// *tooLargeError says to leave out, until the configuration fits. what names the
// configuration in problems; agent says whether multiline rules and node inputs go to
// its main file (the agent's do; the events collector's has only parsers).
func renderFitting(what string, pipelines []*pipeline, agent bool, render func([]*pipeline) (*Config, []Problem, error)) (*Config, []Problem) {
	var left []Problem
	for {
		cfg, probs, err := render(pipelines)
		if err == nil {
			return cfg, append(probs, left...)
		}
		var tl *tooLargeError
		if !errors.As(err, &tl) {
			// Only a bug in the renderer gets here: every value was checked on the way in.
			panic(fmt.Sprintf("render: %s's configuration does not marshal: %v", what, err))
		}
		out := tl.leaveOut
		if tl.mainExcess > 0 {
			out = heaviestInMain(pipelines, tl.mainExcess, agent)
		}
		if len(out) == 0 {
			panic(fmt.Sprintf("render: %s's configuration does not fit with no pipeline to leave out: %v", what, err))
		}
		kept := pipelines[:0:0]
		for _, p := range pipelines {
			size, gone := out[p]
			if !gone {
				kept = append(kept, p)
				continue
			}
			if tl.mainExcess > 0 {
				left = append(left, problem(p.Ref, conditions.ReasonConfigTooLarge, "The pipeline", fmt.Sprintf(
					"the parsers, multiline rules and node inputs of %s's pipelines take more than the %d bytes of its main file, and this pipeline's (about %d bytes) are among the largest",
					what, maxFileBytes, size)))
			} else {
				left = append(left, problem(p.Ref, conditions.ReasonConfigTooLarge, "The pipeline", fmt.Sprintf(
					"%s's output sections need more than %d files of %d bytes, and this pipeline's (%d bytes) are among the largest in a full file",
					what, maxShards, maxFileBytes, size)))
			}
		}
		pipelines = kept
	}
}

// heaviestInMain chooses the pipelines that put the most in the main file, until
// together they account for excess bytes (by mainWeight, an estimate: the caller
// renders again and comes back if that was not enough).
func heaviestInMain(pipelines []*pipeline, excess int, agent bool) map[*pipeline]int {
	type weighed struct {
		p *pipeline
		w int
	}
	list := make([]weighed, 0, len(pipelines))
	for _, p := range pipelines {
		if w := mainWeight(p, agent); w > 0 {
			list = append(list, weighed{p, w})
		}
	}
	slices.SortFunc(list, func(a, b weighed) int {
		if a.w != b.w {
			return b.w - a.w
		}
		return compareRefs(a.p.Ref, b.p.Ref)
	})
	out := map[*pipeline]int{}
	for _, x := range list {
		if excess <= 0 {
			break
		}
		out[x.p] = x.w
		excess -= x.w
	}
	return out
}

// mainWeight is about how many bytes p puts in its configuration's main file: the
// parsers of its parse filters and, on an agent, its multiline rules (once per
// container input, with the namespaces they apply to) and node inputs. Equal parsers
// and rules are written once however many pipelines use them, so this counts high
// for shared ones.
func mainWeight(p *pipeline, agent bool) int {
	const section = 64 // a section's name, keys and quoting
	w := 0
	for _, f := range p.Filters {
		switch {
		case f.Parse != nil:
			w += section + len(deref(f.Parse.Regex)) + len(deref(f.Parse.TimeKey)) + len(deref(f.Parse.TimeFormat))
		case f.Multiline != nil && agent && p.Containers != nil:
			rule := section + len(f.Multiline.Field)
			for _, ns := range p.Namespaces.Only {
				rule += len(ns) + 8
			}
			w += len(containerShards) * rule
		}
	}
	if agent && p.Node != nil {
		for _, u := range p.Node.SystemdUnits {
			w += len(u) + 24 // "- _SYSTEMD_UNIT=…" and a match alternative
		}
		for _, f := range p.Node.Files {
			w += len(f) + 1
		}
	}
	return w
}
