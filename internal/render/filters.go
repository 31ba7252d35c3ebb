package render

import (
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strconv"
	"strings"

	v1 "github.com/logplane/logplane/api/v1alpha1"
	"github.com/logplane/logplane/internal/fluentbit"
)

// Pipeline filters become processors of the pipeline's output sections: they run on
// the records that output's tag match lets through, and on no one else's. Multiline
// is the exception (Fluent Bit 5.1 runs it only as an input processor); see
// multilineProcessors.

// accessor writes a field for grep: a record-accessor path stays as it is, a plain
// key gets the "$" Fluent Bit would add anyway.
func accessor(f v1.FieldPath) string {
	if len(f) > 0 && f[0] == '$' {
		return string(f)
	}
	return "$" + string(f)
}

// parsers collects the parser definitions a configuration needs, by content.
type parsers struct {
	// defs in the order added; byName indexes them once there are more than a few
	// (a pipeline's own set has one or two, a file's may have thousands).
	defs   []fluentbit.Section
	byName map[string]int
	// prefix starts every parser name. A sidecar runs several pipelines' fragments in
	// one Fluent Bit, which refuses two parsers of one name: each fragment's names
	// carry its pipeline.
	prefix string
	// known is shared by the parser sets of one file, so that a thousand pipelines
	// parsing JSON hash the definition once.
	known map[parserKey]fluentbit.Section
}

// parserKey is what a parser definition is made of: the name prefix and the parse
// filter's format, regex and time settings (field and keepOriginal belong to the
// filter).
type parserKey struct {
	prefix, format, regex, timeKey, timeFormat string
}

func newParsers() *parsers {
	return &parsers{prefix: "lp-", known: map[parserKey]fluentbit.Section{}}
}

// child returns an empty set that shares ps's prefix and definitions.
func (ps *parsers) child() *parsers { return &parsers{prefix: ps.prefix, known: ps.known} }

func (ps *parsers) add(s fluentbit.Section) {
	if ps.byName != nil {
		if i, ok := ps.byName[s.Name]; ok {
			ps.defs[i] = s
			return
		}
	} else {
		for i := range ps.defs {
			if ps.defs[i].Name == s.Name {
				ps.defs[i] = s
				return
			}
		}
		if len(ps.defs) == 8 {
			ps.byName = make(map[string]int, 16)
			for i, d := range ps.defs {
				ps.byName[d.Name] = i
			}
		}
	}
	if ps.byName != nil {
		ps.byName[s.Name] = len(ps.defs)
	}
	ps.defs = append(ps.defs, s)
}

// list returns the definitions sorted by name.
func (ps *parsers) list() []fluentbit.Section {
	out := slices.Clone(ps.defs)
	slices.SortFunc(out, func(a, b fluentbit.Section) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// parserFor returns the name of a parser for a parse filter, defining it on first use.
// The name is derived from the definition, so equal filters share one parser.
func (ps *parsers) parserFor(p *v1.ParseFilter) string {
	key := parserKey{ps.prefix, string(p.Format), deref(p.Regex), deref(p.TimeKey), deref(p.TimeFormat)}
	def, ok := ps.known[key]
	if !ok {
		def = parserDefinition(ps.prefix, p)
		ps.known[key] = def
	}
	ps.add(def)
	return def.Name
}

// deref is optional API text, "" when unset.
func deref[T ~string](p *T) string {
	if p == nil {
		return ""
	}
	return string(*p)
}

// parserDefinition is the parser a parse filter needs, named after its content.
func parserDefinition(prefix string, p *v1.ParseFilter) fluentbit.Section {
	var def fluentbit.Section
	switch p.Format {
	case v1.ParseJSON:
		def.Set("format", fluentbit.String("json"))
	case v1.ParseLogfmt:
		def.Set("format", fluentbit.String("logfmt"))
	case v1.ParseRegex:
		def.Set("format", fluentbit.String("regex"))
		def.Set("regex", str(p.Regex))
	}
	def.Set("time_key", str(p.TimeKey))
	def.Set("time_format", str(p.TimeFormat))
	if p.TimeKey != nil {
		def.Set("time_keep", fluentbit.Bool(true))
	}
	h := sha256.New()
	for _, kv := range def.Params {
		h.Write([]byte(kv.Key + "=" + kv.Value.String() + "\n"))
	}
	def.Name = prefix + hex.EncodeToString(h.Sum(nil))[:12]
	return def
}

// appendFilterProcessors appends a pipeline's filters, except multiline, to out as
// processors.
func appendFilterProcessors(out []fluentbit.Section, filters []v1.Filter, ps *parsers, keys *sectionKeys) []fluentbit.Section {
	out = slices.Grow(out, len(filters)+1)
	for _, f := range filters {
		switch f.Type {
		case v1.FilterGrep:
			out = appendGrepProcessors(out, f.Grep.Include, f.Grep.Exclude, keys)
		case v1.FilterParse:
			s := fluentbit.Section{Name: "parser", Params: keys.room(4)}
			s.Set("key_name", fluentbit.String(string(f.Parse.Field)))
			s.Set("parser", fluentbit.String(ps.parserFor(f.Parse)))
			s.Set("reserve_data", fluentbit.Bool(true))
			s.Set("preserve_key", fluentbit.Bool(f.Parse.KeepOriginal))
			out = append(out, s)
		case v1.FilterAddFields:
			for _, kv := range f.AddFields.Fields {
				s := fluentbit.Section{Name: "content_modifier", Params: keys.room(3)}
				s.Set("action", fluentbit.String("upsert"))
				s.Set("key", fluentbit.String(kv.Key))
				s.Set("value", fluentbit.String(string(kv.Value)))
				out = append(out, s)
			}
		case v1.FilterRemoveFields:
			for _, key := range f.RemoveFields.Fields {
				s := fluentbit.Section{Name: "content_modifier", Params: keys.room(2)}
				s.Set("action", fluentbit.String("delete"))
				s.Set("key", fluentbit.String(key))
				out = append(out, s)
			}
		case v1.FilterThrottle:
			s := fluentbit.Section{Name: "throttle", Params: keys.room(3)}
			s.Set("rate", fluentbit.Int(int64(f.Throttle.Records)))
			s.Set("window", fluentbit.Int(int64(max(f.Throttle.Window, 1))))
			s.Set("interval", fluentbit.String(cmpOr(f.Throttle.Interval, "1s")))
			out = append(out, s)
		}
	}
	return out
}

// grepProcessors keeps records matching every include rule and drops those matching
// any exclude rule. Fluent Bit refuses both kinds in one grep with logical_op, so
// each kind gets its own unit.
func grepProcessors(include, exclude []v1.FieldMatch) []fluentbit.Section {
	return appendGrepProcessors(nil, include, exclude, nil)
}

func appendGrepProcessors(out []fluentbit.Section, include, exclude []v1.FieldMatch, keys *sectionKeys) []fluentbit.Section {
	rules := func(ms []v1.FieldMatch) []string {
		rs := make([]string, len(ms))
		for i, m := range ms {
			rs[i] = accessor(m.Field) + " " + string(m.Regex)
		}
		return rs
	}
	return appendGrepRules(out, rules(include), rules(exclude), keys)
}

// appendGrepRules appends grepProcessors for rules already written as Fluent Bit reads
// them ("$field regex").
func appendGrepRules(out []fluentbit.Section, include, exclude []string, keys *sectionKeys) []fluentbit.Section {
	// Keys in order (logical_op, then regex or exclude), so no sorting is needed.
	if len(include) > 0 {
		out = append(out, fluentbit.Section{Name: "grep", Params: append(keys.room(2),
			fluentbit.Param{Key: "logical_op", Value: fluentbit.String("and")}, fluentbit.Param{Key: "regex", Value: fluentbit.List(include...)})})
	}
	if len(exclude) > 0 {
		out = append(out, fluentbit.Section{Name: "grep", Params: append(keys.room(2),
			fluentbit.Param{Key: "exclude", Value: fluentbit.List(exclude...)}, fluentbit.Param{Key: "logical_op", Value: fluentbit.String("or")})})
	}
	return out
}

// sectionKeys hands out room for processors' keys from one buffer, which the encoder
// reuses once they are encoded: a pipeline's processors then cost no allocation each
// for their keys. A nil sectionKeys allocates.
type sectionKeys struct{ buf []fluentbit.Param }

// room returns an empty list with room for n keys; Section.Set adds within it, and
// only a key past n moves the list elsewhere.
func (k *sectionKeys) room(n int) []fluentbit.Param {
	if k == nil {
		return make([]fluentbit.Param, 0, n)
	}
	if cap(k.buf)-len(k.buf) < n {
		k.buf = make([]fluentbit.Param, 0, max(16, n, 2*cap(k.buf)))
	}
	start := len(k.buf)
	k.buf = k.buf[:start+n]
	return k.buf[start : start : start+n]
}

// reset makes all the room free again; nothing handed out may be in use.
func (k *sectionKeys) reset() {
	clear(k.buf) // let go of what the keys refer to
	k.buf = k.buf[:0]
}

func cmpOr(s, fallback string) string {
	if s == "" {
		return fallback
	}
	return s
}

func itoa(i int) string { return strconv.Itoa(i) }
