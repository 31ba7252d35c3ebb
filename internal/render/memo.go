package render

import (
	"bytes"
	"slices"
	"sync"

	"github.com/logplane/logplane/internal/conditions"

	"github.com/logplane/logplane/internal/fluentbit"
	"github.com/logplane/logplane/internal/snapshot"
)

// Renderer renders like Render, and remembers the output sections it encoded and the
// checks it ran, keyed by the resourceVersions of the objects they come from. A
// controller renders after every burst of changes, and most pipelines have not
// changed since the last time: their sections are reused instead of rebuilt. What it
// remembers never changes the result, only the time it takes; objects without a
// resourceVersion (files given to `logplane render`) are never remembered.
type Renderer struct {
	mu sync.Mutex
	// sections are kept per pipeline version: one lookup finds a pipeline's few
	// sections, told apart by the rest of their keys.
	sections map[objectVersion][]*memoSection
	checks   map[objectVersion]*checkResult
	// shards are shard files by their first section.
	shards map[*memoSection]*memoShard
	// failed are the versions of resources whose rendering failed, with why (see
	// guard.go): they are left out without searching again.
	failed map[objectVersion]string
	// epoch counts renders; entries not touched by the latest are dropped after it.
	epoch int
	// How many entries there are, and how many the latest render touched: when every
	// one was, there is nothing to drop and no need to look.
	nsections                      int
	touchedSections, touchedChecks int
	touchedShards                  int
	// salt is the salt of the names of credentials in the remembered sections.
	salt []byte
}

// NewRenderer returns a Renderer with nothing remembered.
func NewRenderer() *Renderer {
	return &Renderer{sections: map[objectVersion][]*memoSection{}, checks: map[objectVersion]*checkResult{},
		shards: map[*memoSection]*memoShard{}, failed: map[objectVersion]string{}}
}

// forget drops every section, check and shard remembered, keeping the failures.
func (r *Renderer) forget() {
	if r == nil {
		return
	}
	r.sections, r.checks, r.shards = map[objectVersion][]*memoSection{}, map[objectVersion]*checkResult{}, map[*memoSection]*memoShard{}
	r.nsections, r.touchedSections, r.touchedChecks, r.touchedShards = 0, 0, 0, 0
}

// objectVersion identifies one version of one object.
type objectVersion struct {
	ref     Ref
	version string
}

// sectionKey is everything an agent's output section is made from: the pipeline's spec
// (its labels, filters and selection), the output's spec, the retention policy's, the
// tag match, and whether the agent buffers on disk.
type sectionKey struct {
	pipeline, output, policy objectVersion
	match                    match
	filesystem               bool
}

// memoSection is an encoded section and what it needs in the rest of the file.
type memoSection struct {
	key         sectionKey
	data, procs []byte
	creds       *credentials
	parsers     []fluentbit.Section
	epoch       int
}

type checkResult struct {
	path, why string
	// reason is the problem's reason when why is set; empty means UnsafeValue.
	reason     string
	secretRefs []snapshot.SecretRef
	epoch      int
}

// Render renders s. It does not modify s; it is safe for concurrent use.
func (r *Renderer) Render(s *snapshot.Snapshot) *Result { return r.RenderHolding(s, nil) }

// RenderHolding renders s as RenderHolding does, remembering as Render does.
func (r *Renderer) RenderHolding(s *snapshot.Snapshot, held map[Ref]Problem) *Result {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !bytes.Equal(r.salt, s.Salt) {
		// Every remembered section names credentials with the old salt.
		clear(r.sections)
		clear(r.shards)
		r.nsections = 0
		r.salt = bytes.Clone(s.Salt)
	}
	r.epoch++
	r.touchedSections, r.touchedChecks, r.touchedShards = 0, 0, 0
	res, found := renderGuarded(s, r, r.excludedNow(s), held)
	r.rememberFailed(s, found)
	if r.touchedSections != r.nsections {
		r.nsections = 0
		for k, list := range r.sections {
			list = slices.DeleteFunc(list, func(m *memoSection) bool { return m.epoch != r.epoch })
			if len(list) == 0 {
				delete(r.sections, k)
			} else {
				r.sections[k] = list
			}
			r.nsections += len(list)
		}
	}
	if r.touchedChecks != len(r.checks) {
		for k, v := range r.checks {
			if v.epoch != r.epoch {
				delete(r.checks, k)
			}
		}
	}
	if r.touchedShards != len(r.shards) {
		for k, v := range r.shards {
			if v.epoch != r.epoch {
				delete(r.shards, k)
			}
		}
	}
	return res
}

// check returns an object's unsafe-value verdict and, for outputs, its Secret
// references, remembered per resourceVersion: both depend only on the spec.
// A result in pre (checked ahead, keyed by spec) is used instead of checking again.
func (r *Renderer) check(ref Ref, version string, spec any, wantRefs bool, pre map[any]*checkResult) *checkResult {
	if c := r.remembered(ref, version); c != nil {
		return c
	}
	c := pre[spec]
	if c == nil {
		checked := runCheck(spec, wantRefs)
		c = &checked
	}
	if r != nil && version != "" {
		c.epoch = r.epoch
		r.checks[objectVersion{ref, version}] = c
		r.touchedChecks++
	}
	return c
}

// remembered returns the remembered check of one version of an object, if any.
func (r *Renderer) remembered(ref Ref, version string) *checkResult {
	if r == nil || version == "" {
		return nil
	}
	c := r.checks[objectVersion{ref, version}]
	if c != nil && c.epoch != r.epoch {
		c.epoch = r.epoch
		r.touchedChecks++
	}
	return c
}

func runCheck(spec any, wantRefs bool) checkResult {
	var c checkResult
	c.path, c.why, c.secretRefs = scanSpec(spec, wantRefs)
	if c.why == "" {
		c.path, c.why = validateSpec(spec)
		if c.why != "" {
			c.reason = conditions.ReasonInvalidValue
		}
	}
	return c
}

// remembers reports whether sections with this key are remembered: only those of
// objects whose versions are known.
func remembers(key sectionKey) bool {
	return key.pipeline.version != "" && key.output.version != "" && (key.policy.ref.Name == "" || key.policy.version != "")
}

// section returns the remembered section for key, if any.
func (r *Renderer) section(key sectionKey) *memoSection {
	if r == nil || !remembers(key) {
		return nil
	}
	for _, m := range r.sections[key.pipeline] {
		if m.key == key {
			if m.epoch != r.epoch {
				m.epoch = r.epoch
				r.touchedSections++
			}
			return m
		}
	}
	return nil
}

func (r *Renderer) remember(key sectionKey, m *memoSection) {
	if r == nil || !remembers(key) {
		return
	}
	m.key, m.epoch = key, r.epoch
	list := r.sections[key.pipeline]
	for i, old := range list {
		if old.key == key {
			list[i] = m
			if old.epoch != r.epoch {
				r.touchedSections++
			}
			return
		}
	}
	r.sections[key.pipeline] = append(list, m)
	r.nsections++
	r.touchedSections++
}
