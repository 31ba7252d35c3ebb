package render

import (
	"bytes"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/logplane/logplane/internal/fluentbit"
)

// processorsFunc appends a pipeline's processors to out, defining the parsers they
// use in ps. out and the processors' keys (from keys) are scratch space, reused once
// the processors are encoded.
type processorsFunc func(ps *parsers, keys *sectionKeys, out []fluentbit.Section) []fluentbit.Section

// job is one pipeline's outputs to add to a file: what the sections are made of,
// which of them are remembered, and the others once encoded.
type job struct {
	p          *pipeline
	m          match
	procs      processorsFunc
	filesystem bool
	// maxBytes bounds the bytes of the pipeline's sections together (the
	// pipelineConfigBytes budget); 0 bounds nothing.
	maxBytes int
	// hits are per output: the remembered section, or nil; nil when nothing is
	// remembered (see hit).
	hits []*memoSection

	// Set by encoding: a failure of the shared processors, or the sections (per
	// output; zero for hits) and the parsers the processors use.
	procsErr  error
	sections  []encodedSection
	parsers   []fluentbit.Section
	procsData []byte // the shared processors, which end each section
}

// hit is the remembered section of output i, or nil.
func (j *job) hit(i int) *memoSection {
	if j.hits == nil {
		return nil
	}
	return j.hits[i]
}

type encodedSection struct {
	data  []byte
	creds *credentials
	err   error
}

// encoder is what one goroutine encodes with.
type encoder struct {
	enc     fluentbit.Encoder
	params  []fluentbit.Param
	procs   []fluentbit.Section
	keys    sectionKeys // the keys of procs
	parsers *parsers
	own     *parsers // a pipeline's parsers, reused
	creds   *credentials
	// scratch holds one section's credentials until it is known to be used.
	scratch *credentials
	// pending holds a budgeted pipeline's credentials until all its sections are
	// known to stay within its budget.
	pending *credentials
	// section and env are scratch space for one output section at a time.
	section fluentbit.Section
	env     outputEnv
	// remember: sections are to be remembered, and so get memory and credentials of
	// their own (a section sharing a block with sections long gone would keep the
	// whole block alive).
	remember bool
}

// parallelJobs is the number of jobs below which encoding stays on one goroutine.
const parallelJobs = 64

// encodeJobs encodes the sections of jobs that are not remembered, spreading the jobs
// over the available processors when there are many: each job's result lands in the
// job, so the order of the file never depends on scheduling. It returns the
// credentials the sections refer to, unless they are to be remembered (then each
// section carries its own).
func encodeJobs(jobs []*job, parserPrefix string, remember bool) []*credentials {
	if len(jobs) == 0 {
		return nil
	}
	workers := min(runtime.GOMAXPROCS(0), max(1, len(jobs)/parallelJobs))
	// Outputs usually refer to a Secret each: the maps of an encoder's Secret
	// references are sized for one per section it encodes, not grown thousands of times.
	sections := 0
	for _, j := range jobs {
		sections += len(j.p.Outputs)
	}
	encoders := make([]*encoder, workers)
	for i := range encoders {
		ps := newParsers()
		ps.prefix = parserPrefix
		creds := newCredentials()
		if !remember {
			creds.env = make(map[string]EnvVar, sections/workers)
		}
		creds.ids = make(map[SecretSource]string, sections/workers)
		encoders[i] = &encoder{parsers: ps, creds: creds, remember: remember}
	}
	if workers == 1 {
		for _, j := range jobs {
			encoders[0].encode(j)
		}
	} else {
		// Jobs are taken in small batches: their costs differ.
		const batch = 16
		var next atomic.Int64
		var wg sync.WaitGroup
		var c catcher
		for _, e := range encoders {
			wg.Add(1)
			goCaught(&wg, &c, func() {
				for {
					start := int(next.Add(batch)) - batch
					if start >= len(jobs) {
						return
					}
					for _, j := range jobs[start:min(start+batch, len(jobs))] {
						e.encode(j)
					}
				}
			})
		}
		wg.Wait()
		c.raise()
	}
	if remember {
		return nil
	}
	creds := make([]*credentials, workers)
	for i, e := range encoders {
		creds[i] = e.creds
	}
	return creds
}

// encodeHook, when tests set it, is called before each job is encoded.
var encodeHook func(Ref)

// encode encodes the sections of j that are not remembered.
func (e *encoder) encode(j *job) {
	if encodeHook != nil {
		encodeHook(j.p.Ref)
	}
	if e.own == nil {
		e.own = e.parsers.child()
	}
	own := e.own
	own.defs, own.byName = own.defs[:0], nil
	procs := j.procs(own, &e.keys, e.procs[:0])
	shared, err := e.enc.Processors(procs)
	clear(procs) // nothing of them is kept; let go of what they refer to
	e.procs = procs[:0]
	e.keys.reset()
	if err != nil {
		j.procsErr = err
		return
	}
	j.parsers = own.list()
	j.procsData = shared.Bytes()
	if e.remember {
		j.procsData = bytes.Clone(j.procsData)
	}
	j.sections = make([]encodedSection, len(j.p.Outputs))
	// Without a budget a fitting section's credentials go to the file at once; with one,
	// only once the pipeline's sections together are known to stay within it.
	into, size := e.creds, 0
	if j.maxBytes > 0 && !e.remember {
		if e.pending == nil {
			e.pending = e.creds.sharing()
		}
		into = e.pending
	}
	defer func() {
		if into != e.creds {
			if size <= j.maxBytes {
				e.creds.merge(into)
			}
			into.reset()
		}
	}()
	for i, o := range j.p.Outputs {
		if j.hit(i) != nil {
			continue
		}
		// A section's credentials are its own until it is known to be used: one that
		// fails, or does not fit, must not bring its Secrets into the configuration.
		creds := e.scratchCreds()
		if e.remember {
			creds = e.creds.sharing()
		}
		s := &e.section
		err := fillOutputSection(s, &e.env, j.p, o, j.m, shared, creds, j.filesystem, e.params[:0])
		if s.Params != nil {
			e.params = s.Params[:0]
		}
		var data []byte
		if err == nil {
			data, err = e.enc.Head(*s)
		}
		*s, e.env = fluentbit.Section{}, outputEnv{} // let go of what they refer to
		if e.remember {
			data = bytes.Clone(data)
			creds.ids = nil // the encoder's identifiers; the section needs none once written
		} else {
			if err == nil {
				size += len(data) + len(j.procsData)
			}
			if err == nil && sectionFits(data, j.procsData) {
				into.merge(creds)
			}
			creds.reset()
			creds = nil
		}
		j.sections[i] = encodedSection{data: data, creds: creds, err: err}
	}
}

// scratchCreds are credentials for one section at a time, sharing the encoder's
// identifiers.
func (e *encoder) scratchCreds() *credentials {
	if e.scratch == nil {
		e.scratch = e.creds.sharing()
	}
	return e.scratch
}
