package fluentbit

import (
	"fmt"
	"strconv"
)

// Config is one Fluent Bit YAML configuration file.
type Config struct {
	Service []Param
	// Includes are further files, relative to this one, merged into the configuration.
	Includes         []string
	Parsers          []Section
	MultilineParsers []Section
	Inputs           []Section
	Filters          []Section
	Outputs          []Section
}

// validKey reports a key Fluent Bit reads as it is written: lowercase letters,
// digits, '_', '.' and '-', starting with a letter. (A loop: this runs for every key
// of every section, and a regexp here was a tenth of the render time.)
func validKey(k string) bool {
	if k == "" || k[0] < 'a' || k[0] > 'z' {
		return false
	}
	for i := 1; i < len(k); i++ {
		c := k[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-') {
			return false
		}
	}
	return true
}

// validEnvName reports a variable name as Fluent Bit's ${NAME} syntax reads it.
func validEnvName(k string) bool {
	if k == "" || k[0] >= '0' && k[0] <= '9' {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// Marshal writes the file. Every string is double-quoted, so that no value — whatever
// characters it holds — can start a new key, section or document. Literal text is
// checked once more (see Check); a failure names the section and key.
func (c Config) Marshal() ([]byte, error) {
	w := &writer{}
	if len(c.Includes) > 0 {
		w.key(0, "includes")
		w.nl()
		for _, inc := range c.Includes {
			if why := Check(inc); why != "" {
				return nil, fmt.Errorf("include %q: %s", inc, why)
			}
			w.dash(2)
			w.quoted(inc)
			w.nl()
		}
	}
	if len(c.Service) > 0 {
		params, err := Section{Name: "service", Params: c.Service}.sortedParams()
		if err != nil {
			return nil, err
		}
		w.key(0, "service")
		w.nl()
		if err := w.params(2, "service", params); err != nil {
			return nil, err
		}
	}
	for _, group := range []struct {
		key      string
		sections []Section
	}{{"parsers", c.Parsers}, {"multiline_parsers", c.MultilineParsers}} {
		if len(group.sections) > 0 {
			w.key(0, group.key)
			w.nl()
			if err := w.sections(2, group.sections); err != nil {
				return nil, err
			}
		}
	}
	if len(c.Inputs)+len(c.Filters)+len(c.Outputs) > 0 {
		w.key(0, "pipeline")
		w.nl()
	}
	for _, group := range []struct {
		key      string
		sections []Section
	}{{"inputs", c.Inputs}, {"filters", c.Filters}, {"outputs", c.Outputs}} {
		if len(group.sections) > 0 {
			w.key(2, group.key)
			w.nl()
			if err := w.sections(outputsIndent, group.sections); err != nil {
				return nil, err
			}
		}
	}
	return w.buf, nil
}

// EncodeOutput writes one output section exactly as Marshal writes it inside the
// outputs list, so that a caller can size and split a long list across files while
// encoding each section once.
func EncodeOutput(s Section) ([]byte, error) {
	var e Encoder
	return e.Output(s)
}

// Encoder encodes output sections like EncodeOutput, carving them out of shared
// blocks of memory: thousands of sections cost a few allocations instead of one each.
// The zero value is ready to use.
type Encoder struct {
	free []byte
	// block is the size of the next block: small at first, for small files.
	block int
}

const maxEncoderBlock = 64 << 10

// Output encodes s. The result is never written again; appending to it copies it.
func (e *Encoder) Output(s Section) ([]byte, error) {
	w := e.start()
	if err := w.section(outputsIndent, s); err != nil {
		return nil, err
	}
	return e.done(w), nil
}

// Head encodes s without its shared processors, which end every output section that
// has them: Head(s) followed by s.SharedProcessors.Bytes() is Output(s). Sections that
// share processors can so be kept, and joined, without a copy of them each.
func (e *Encoder) Head(s Section) ([]byte, error) {
	w := e.start()
	w.withoutShared = true
	if err := w.section(outputsIndent, s); err != nil {
		return nil, err
	}
	return e.done(w), nil
}

// start returns a writer over the free end of the current block.
func (e *Encoder) start() *writer {
	if cap(e.free) < 4096 {
		e.block = min(max(2*e.block, 8<<10), maxEncoderBlock)
		e.free = make([]byte, 0, e.block)
	}
	return &writer{buf: e.free[:0]}
}

// done returns what w wrote, and keeps it out of the free space when it is there.
func (e *Encoder) done(w *writer) []byte {
	n := len(w.buf)
	if n > 0 && cap(w.buf) == cap(e.free) {
		e.free = e.free[n:n]
	}
	return w.buf[:n:n]
}

// outputsIndent is where items of pipeline.outputs (and inputs, filters) start.
const outputsIndent = 4

// MarshalWithOutputs writes c with outputs given pre-encoded by EncodeOutput, in
// place of c.Outputs. The result equals Marshal with the same sections as c.Outputs.
func (c Config) MarshalWithOutputs(outputs [][]byte) ([]byte, error) {
	c.Outputs = nil
	data, err := c.Marshal()
	if err != nil || len(outputs) == 0 {
		return data, err
	}
	size := len(data) + 32
	for _, o := range outputs {
		size += len(o)
	}
	out := make([]byte, 0, size)
	out = append(out, data...)
	if len(c.Inputs) == 0 && len(c.Filters) == 0 {
		out = append(out, "pipeline:\n"...)
	}
	out = append(out, "  outputs:\n"...)
	for _, o := range outputs {
		out = append(out, o...)
	}
	return out, nil
}

// text joins the parts of a text value, checking literal pieces for anything unsafe
// and environment names for validity.
func (v Value) text() (string, error) {
	w := &writer{}
	if err := w.text(v); err != nil {
		return "", err
	}
	t, err := strconv.Unquote(string(w.buf))
	if err != nil {
		// The writer's escapes are a subset of Go's; this would be a bug.
		return "", fmt.Errorf("cannot read back %s: %w", w.buf, err)
	}
	return t, nil
}
