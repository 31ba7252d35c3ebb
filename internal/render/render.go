// Package render turns a snapshot of logplane resources into Fluent Bit configuration:
// one configuration per LogAgent (a DaemonSet), one for the cluster-wide events
// collector, and one per LogPipeline that tails files through a sidecar. It is a pure
// function of its input — no clock, no client, no randomness, no map order — and every
// resource that cannot render is left out and reported, without touching the others.
package render

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"slices"
	"strconv"
	"sync"

	v1 "github.com/logplane/logplane/api/v1alpha1"
	"github.com/logplane/logplane/internal/alias"
	"github.com/logplane/logplane/internal/conditions"
	"github.com/logplane/logplane/internal/fluentbit"
	"github.com/logplane/logplane/internal/snapshot"
)

// MainFile is the file Fluent Bit is started with; others are included from it.
const MainFile = "fluent-bit.yaml"

// File is one generated configuration file.
type File struct {
	Name    string
	Content []byte
}

// Config is one Fluent Bit configuration and the secret material it refers to.
type Config struct {
	Files       []File
	Env         []EnvVar
	SecretFiles []SecretFile
	AWSProfiles []AWSProfile
	// Pipelines carried by this configuration.
	Pipelines []Ref
	// Hash identifies the configuration: it changes if and only if a byte of it does.
	Hash string
	// ReadsJournal says the configuration reads the node's systemd journal at
	// JournalPath, which must then exist in the pod.
	ReadsJournal bool
}

// AgentConfig is the configuration of one LogAgent's DaemonSet.
type AgentConfig struct {
	Agent string
	Config
	// Usage is what its pipelines claim of the agent's budgets.
	Usage v1.BudgetUsage
}

// SidecarConfig is the configuration of the file-tailing sidecar of one LogPipeline.
type SidecarConfig struct {
	Pipeline Ref
	Config
}

// Result is everything rendered from one snapshot.
type Result struct {
	Agents []AgentConfig
	// Events is the single-replica events collector's configuration; nil when no
	// pipeline reads Kubernetes events.
	Events   *Config
	Sidecars []SidecarConfig
	Problems []Problem
}

// Render renders s with nothing remembered. It does not modify s.
func Render(s *snapshot.Snapshot) *Result {
	res, _ := renderGuarded(s, nil, nil, nil)
	return res
}

// RenderHolding renders s without the pipelines and outputs in held, each reported
// with its problem (none when the problem has no Reason): the canary holds back
// changes that are not proven yet, or that Fluent Bit refused.
func RenderHolding(s *snapshot.Snapshot, held map[Ref]Problem) *Result {
	res, _ := renderGuarded(s, nil, nil, held)
	return res
}

// render renders s, leaving out the resources in excluded (see guard.go) and held.
func render(s *snapshot.Snapshot, memo *Renderer, excluded map[Ref]string, held map[Ref]Problem) *Result {
	s = sortedCopy(s)
	// The checks run while the snapshot is indexed.
	prechecked := precheck(s, memo)
	r := newResolver(s)
	r.memo = memo
	r.excluded = excluded
	r.held = held
	r.prechecked = prechecked()
	pipelines := r.resolve()
	res := &Result{}

	byAgent := map[string][]*pipeline{}
	var events []*pipeline
	for _, p := range pipelines {
		if p.Containers != nil || p.Node != nil {
			byAgent[p.Agent] = append(byAgent[p.Agent], p)
		}
		if p.Events != nil {
			events = append(events, p)
		}
		if p.Files != nil {
			cfg, probs := renderSidecar(p)
			res.Problems = append(res.Problems, probs...)
			if cfg != nil {
				res.Sidecars = append(res.Sidecars, SidecarConfig{Pipeline: p.Ref, Config: *cfg})
			}
		}
	}
	agents := []string{v1.DefaultAgentName}
	for _, a := range s.Agents {
		agents = append(agents, a.Name)
	}
	slices.Sort(agents)
	for _, name := range slices.Compact(agents) {
		spec := v1.LogAgentSpec{}
		if a := r.index.Agent(name); a != nil {
			spec = a.Spec
		}
		cfg, usage, probs := renderAgent(name, spec, s.OperatorNamespace, byAgent[name], memo)
		res.Problems = append(res.Problems, probs...)
		res.Agents = append(res.Agents, AgentConfig{Agent: name, Config: *cfg, Usage: usage})
	}
	if len(events) > 0 {
		cfg, probs := renderEvents(events)
		res.Problems = append(res.Problems, probs...)
		res.Events = cfg
	}
	res.Problems = append(r.problems, res.Problems...)
	slices.SortStableFunc(res.Problems, func(a, b Problem) int { return compareRefs(a.Ref, b.Ref) })
	return res
}

// sortedCopy returns a copy of s with the lists whose order could show in the result
// sorted, leaving s as it was (Sort puts a list out of order into a new slice). The
// long lists need no order: outputs, Secrets and namespaces are only looked up, or
// gathered and then sorted, and the resolved pipelines are sorted by identity.
func sortedCopy(s *snapshot.Snapshot) *snapshot.Snapshot {
	c := *s
	c.Pipelines, c.Outputs, c.Secrets, c.Namespaces = nil, nil, nil, nil
	c.Sort()
	c.Pipelines, c.Outputs, c.Secrets, c.Namespaces = s.Pipelines, s.Outputs, s.Secrets, s.Namespaces
	return &c
}

// builder accumulates one configuration file set.
type builder struct {
	parsers *parsers
	// memo remembers sections across renders; nil remembers nothing.
	memo *Renderer
	// jobs are the pipelines whose outputs were added since the last flush.
	jobs []*job
	// outputs are encoded once each, so that a section that cannot be written fails
	// alone and splitting a long list costs nothing more.
	outputs []encodedOutput
	// pipelines that got at least one output section, in the order added.
	rendered []Ref
	problems []Problem
	// sectionCreds are the credentials of the sections in use, gathered when the file
	// is finished.
	sectionCreds []*credentials
	// budget bounds each LogPipeline's configuration bytes; nil bounds nothing (the
	// events collector and sidecars are not shared with other tenants' pipelines).
	budget *budgetLimits
}

func newBuilder(memo *Renderer) *builder {
	return &builder{parsers: newParsers(), memo: memo}
}

// addOutputs adds every output of p with the given match and the processors procs
// appends to its second argument (called only when some section is not remembered).
// Sections are encoded at the next flush; an output that fails to render is then
// reported and skipped.
func (b *builder) addOutputs(p *pipeline, m match, procs processorsFunc, filesystem bool) {
	j := &job{p: p, m: m, procs: procs, filesystem: filesystem}
	if b.budget != nil && p.Ref.Namespace != "" {
		j.maxBytes = b.budget.pipelineBytes
	}
	if b.memo != nil {
		j.hits = make([]*memoSection, len(p.Outputs))
		for i, o := range p.Outputs {
			j.hits[i] = b.memo.section(j.key(o))
		}
	}
	b.jobs = append(b.jobs, j)
}

// key is what the section of output o is remembered by.
func (j *job) key(o *output) sectionKey {
	key := sectionKey{pipeline: objectVersion{j.p.Ref, j.p.Version}, output: objectVersion{o.Ref, o.Version},
		match: j.m, filesystem: j.filesystem}
	if o.Policy != nil {
		key.policy = objectVersion{Ref{Kind: "RetentionPolicy", Name: o.Policy.Name}, o.Policy.ResourceVersion}
	}
	return key
}

// flush encodes the sections added since the last flush that are not remembered, and
// adds every section to the file in the order added.
func (b *builder) flush() {
	var todo []*job
	for _, j := range b.jobs {
		if j.hits == nil || slices.Contains(j.hits, nil) {
			todo = append(todo, j)
		}
	}
	for _, c := range encodeJobs(todo, b.parsers.prefix, b.memo != nil) {
		b.sectionCreds = append(b.sectionCreds, c)
	}
	n := len(b.outputs)
	for _, j := range b.jobs {
		n += len(j.p.Outputs)
	}
	b.outputs = slices.Grow(b.outputs, n-len(b.outputs))
	b.rendered = slices.Grow(b.rendered, len(b.jobs))
	for _, j := range b.jobs {
		b.add(j)
	}
	b.jobs = nil
}

// add adds the sections of one job, as they were remembered or encoded.
func (b *builder) add(j *job) {
	p := j.p
	if !b.withinPipelineBytes(j) {
		return
	}
	for i, o := range p.Outputs {
		if hit := j.hit(i); hit != nil {
			if !b.fits(p, o, hit.data, hit.procs) {
				continue
			}
			b.use(p, o, hit)
			b.markRendered(p.Ref)
			continue
		}
		if j.procsErr != nil {
			b.problems = append(b.problems, problem(p.Ref, conditions.ReasonUnsafeValue, "spec.filters", j.procsErr.Error()))
			return
		}
		e := j.sections[i]
		if e.err != nil {
			b.problems = append(b.problems, problem(o.Ref, conditions.ReasonOutputInvalid, o.Ref, e.err.Error()),
				problem(p.Ref, conditions.ReasonOutputInvalid, o.Ref, "see its status"))
			continue
		}
		if !b.fits(p, o, e.data, j.procsData) {
			continue
		}
		if b.memo == nil {
			b.outputs = append(b.outputs, encodedOutput{pipeline: p, output: o, data: e.data, procs: j.procsData})
			for _, def := range j.parsers {
				b.parsers.add(def)
			}
		} else {
			section := &memoSection{data: e.data, procs: j.procsData, creds: e.creds, parsers: j.parsers}
			b.memo.remember(j.key(o), section)
			b.use(p, o, section)
		}
		b.markRendered(p.Ref)
	}
}

// fits reports whether an output section fits in a file by itself (no number of
// shards holds one that does not), and otherwise reports the pipeline: its processors
// (filters and label selection, written into each of its sections) are what grows
// past a file. The message names the output and gives both sizes.
func (b *builder) fits(p *pipeline, o *output, data, procs []byte) bool {
	if sectionFits(data, procs) {
		return true
	}
	b.problems = append(b.problems, problem(p.Ref, conditions.ReasonConfigTooLarge, "The section for output "+o.Ref.String(),
		fmt.Sprintf("it takes %d bytes (%d of them the pipeline's filters and selection), more than the %d bytes one configuration file (a Secret) holds",
			len(data)+len(procs), len(procs), maxFileBytes-len(outputsHeader))))
	return false
}

// withinPipelineBytes reports whether a LogPipeline's sections together stay within its
// namespace's pipelineConfigBytes budget, and otherwise reports the pipeline and leaves
// all of them out. Sections that failed to encode are reported by add and not counted.
func (b *builder) withinPipelineBytes(j *job) bool {
	if j.maxBytes == 0 || j.procsErr != nil {
		return true
	}
	size := 0
	for i := range j.p.Outputs {
		if hit := j.hit(i); hit != nil {
			size += len(hit.data) + len(hit.procs)
		} else if e := j.sections[i]; e.err == nil {
			size += len(e.data) + len(j.procsData)
		}
	}
	if size <= j.maxBytes {
		return true
	}
	b.problems = append(b.problems, problem(j.p.Ref, conditions.ReasonOverBudget, b.budget.agent,
		fmt.Sprintf("its output sections take %d bytes of configuration", size),
		fmt.Sprintf("%d bytes per pipeline", j.maxBytes), b.budget.agent, "perNamespace.pipelineConfigBytes"))
	return false
}

// sectionFits reports whether an output section fits in a shard file by itself.
func sectionFits(data, procs []byte) bool {
	return len(outputsHeader)+len(data)+len(procs) <= maxFileBytes
}

func (b *builder) markRendered(ref Ref) {
	if n := len(b.rendered); n == 0 || b.rendered[n-1] != ref {
		b.rendered = append(b.rendered, ref)
	}
}

// use adds an encoded section and what it needs to the file being built.
func (b *builder) use(p *pipeline, o *output, s *memoSection) {
	b.outputs = append(b.outputs, encodedOutput{pipeline: p, output: o, data: s.data, procs: s.procs, memo: s})
	if len(s.creds.env)+len(s.creds.files)+len(s.creds.profiles) > 0 {
		b.sectionCreds = append(b.sectionCreds, s.creds)
	}
	for _, def := range s.parsers {
		b.parsers.add(def)
	}
}

// finish marshals the configuration, splitting output sections into included files
// when one file would not fit in a Secret.
func (b *builder) finish(main fluentbit.Config) (*Config, error) {
	b.flush()
	main.Parsers = append(main.Parsers, b.parsers.list()...)
	fs, err := splitFiles(main, b.outputs, b.memo)
	if err != nil {
		return nil, err
	}
	cfg := &Config{}
	var h hash.Hash
	if len(fs.files) > 1 {
		// A sharded configuration is megabytes: its files are hashed (from their
		// sections), joined and their credentials gathered at once, each taking a while.
		var wg sync.WaitGroup
		var c catcher
		wg.Add(2)
		goCaught(&wg, &c, fs.digest)
		goCaught(&wg, &c, func() { b.gatherCredentials(cfg) })
		fs.join()
		wg.Wait()
		c.raise()
		fs.remember()
		h = hashDigests(fs.files, fs.digests)
	} else {
		h = hashFiles(fs.files)
		b.gatherCredentials(cfg)
	}
	cfg.Files = fs.files
	// Pipelines are added in order (sorted only as a safeguard), each one's sections together.
	cfg.Pipelines = b.rendered
	if !slices.IsSortedFunc(cfg.Pipelines, compareRefs) {
		slices.SortFunc(cfg.Pipelines, compareRefs)
		cfg.Pipelines = slices.Compact(cfg.Pipelines)
	}
	cfg.Hash = hashRest(h, cfg)
	return cfg, nil
}

// gatherCredentials lists the secret material of the sections in use in cfg.
func (b *builder) gatherCredentials(cfg *Config) {
	cfg.Env = gather(b.sectionCreds, func(c *credentials) map[string]EnvVar { return c.env })
	cfg.SecretFiles = gather(b.sectionCreds, func(c *credentials) map[string]SecretFile { return c.files })
	cfg.AWSProfiles = gather(b.sectionCreds, func(c *credentials) map[string]AWSProfile { return c.profiles })
}

// Config.Hash is SHA-256 over the files (hashFiles), then every reference to secret
// material (hashRest).

// hashFiles writes the files to a new SHA-256: one file whole (writeFiles), several
// as their digests (fileDigest), so that a shard file a Renderer remembers is not
// hashed again.
func hashFiles(files []File) hash.Hash {
	h := sha256.New()
	if len(files) == 1 {
		writeFiles(h, files)
		return h
	}
	digests := make([]digest, len(files))
	for i, f := range files {
		digests[i] = fileDigest(f)
	}
	return hashDigests(files, digests)
}

// digest is a file's SHA-256 (fileDigest).
type digest [sha256.Size]byte

// fileDigest is SHA-256 over what writeFiles writes of f alone.
func fileDigest(f File) digest {
	h := sha256.New()
	writeFiles(h, []File{f})
	return digest(h.Sum(nil))
}

// hashDigests writes each file's name, size and digest to a new SHA-256.
func hashDigests(files []File, digests []digest) hash.Hash {
	h := sha256.New()
	line := make([]byte, 0, 256)
	for i, f := range files {
		line = append(appendFileLine(line[:0], f.Name, len(f.Content)), ' ')
		line = append(hex.AppendEncode(line, digests[i][:]), '\n')
		h.Write(line)
	}
	return h
}

// writeFiles writes the files, with their names and sizes, to h.
func writeFiles(h hash.Hash, files []File) {
	line := make([]byte, 0, 256)
	for _, f := range files {
		h.Write(append(appendFileLine(line[:0], f.Name, len(f.Content)), '\n'))
		h.Write(f.Content)
	}
}

// appendFileLine appends the line that names a file in a hash: "file NAME SIZE".
func appendFileLine(dst []byte, name string, size int) []byte {
	dst = append(append(append(dst, "file "...), name...), ' ')
	return strconv.AppendInt(dst, int64(size), 10)
}

// hashRest adds the references to secret material to h, the files written, and sums.
func hashRest(h hash.Hash, c *Config) string {
	line := make([]byte, 0, 256)
	source := func(kind, name string, s SecretSource) {
		line = append(append(append(append(line[:0], kind...), ' '), name...), ' ')
		line = append(append(append(append(append(line, s.Namespace...), '/'), s.Name...), '/'), s.Key...)
		h.Write(append(line, '\n'))
	}
	for _, e := range c.Env {
		source("env", e.Name, e.Source)
	}
	for _, f := range c.SecretFiles {
		source("secretfile", f.Path, f.Source)
	}
	for _, p := range c.AWSProfiles {
		fmt.Fprintf(h, "awsprofile %s %+v %+v\n", p.Name, p.AccessKeyID, p.SecretAccessKey)
	}
	return hex.EncodeToString(h.Sum(nil))[:20]
}

func isClusterOutput(o *output) bool { return o.Ref.Kind == alias.ClusterLogOutput }
