package fluentbit

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// writer emits block YAML directly from sections, two spaces per level: sequences
// under a key are indented by two, a mapping inside a sequence item starts on the
// dash's line. (A general YAML encoder was tried first: go.yaml.in/yaml/v3 takes time
// quadratic in the document's size, two seconds for 2,000 pipelines.)
type writer struct {
	buf []byte
	// withoutShared leaves out an output's shared processors (see Encoder.Head).
	withoutShared bool
}

const spaces = "                                                                "

func (w *writer) pad(n int) { w.buf = append(w.buf, spaces[:n]...) }

func (w *writer) nl() { w.buf = append(w.buf, '\n') }

// key writes "key:" at indent.
func (w *writer) key(indent int, k string) {
	w.pad(indent)
	w.buf = append(w.buf, k...)
	w.buf = append(w.buf, ':')
}

// dash writes "- " at indent.
func (w *writer) dash(indent int) {
	w.pad(indent)
	w.buf = append(w.buf, "- "...)
}

func (w *writer) sections(indent int, ss []Section) error {
	for _, s := range ss {
		if err := w.section(indent, s); err != nil {
			return err
		}
	}
	return nil
}

// section writes one list item: name, match and alias first, then the other keys in
// order, then the condition and processors.
func (w *writer) section(indent int, s Section) error {
	params, err := s.sortedParams()
	if err != nil {
		return err
	}
	for _, p := range params {
		switch p.Key {
		case "name", "match", "alias", "processors", "condition":
			return fmt.Errorf("section %s: %q must not be set as a parameter", s.Name, p.Key)
		}
	}
	w.dash(indent)
	w.buf = append(w.buf, "name: "...)
	if err := w.text(String(s.Name)); err != nil {
		return fmt.Errorf("section %s, key name: %w", s.Name, err)
	}
	w.nl()
	inner := indent + 2
	head := make([]Param, 0, 2)
	if s.Match != "" {
		head = append(head, Param{"match", String(s.Match)})
	}
	if s.Alias != "" {
		head = append(head, Param{"alias", String(s.Alias)})
	}
	if err := w.params(inner, s.Name, head); err != nil {
		return err
	}
	if err := w.params(inner, s.Name, params); err != nil {
		return err
	}
	if s.Condition != nil {
		if err := w.condition(inner, s.Condition); err != nil {
			return fmt.Errorf("section %s: %w", s.Name, err)
		}
	}
	if s.SharedProcessors != nil {
		if indent != outputsIndent {
			return fmt.Errorf("section %s: shared processors belong to output sections", s.Name)
		}
		if !w.withoutShared {
			w.buf = append(w.buf, s.SharedProcessors.data...)
		}
	} else if len(s.Processors) > 0 {
		w.key(inner, "processors")
		w.nl()
		w.key(inner+2, "logs")
		w.nl()
		if err := w.sections(inner+4, s.Processors); err != nil {
			return err
		}
	}
	return nil
}

func (w *writer) params(indent int, section string, params []Param) error {
	for _, p := range params {
		if !validKey(p.Key) {
			return fmt.Errorf("section %s: invalid key %q", section, p.Key)
		}
		w.key(indent, p.Key)
		if err := w.value(indent, p.Value); err != nil {
			return fmt.Errorf("section %s, key %s: %w", section, p.Key, err)
		}
	}
	return nil
}

// value writes what follows "key:".
func (w *writer) value(indent int, v Value) error {
	switch v.kind {
	case kindText:
		w.buf = append(w.buf, ' ')
		if err := w.text(v); err != nil {
			return err
		}
		w.nl()
	case kindNumber, kindBool:
		w.buf = append(w.buf, ' ')
		w.buf = append(w.buf, v.scalar...)
		w.nl()
	case kindList:
		if len(v.items) == 0 {
			w.buf = append(w.buf, " []\n"...)
			return nil
		}
		w.nl()
		for _, item := range v.items {
			if item.kind != kindText {
				return fmt.Errorf("list items must be text")
			}
			w.dash(indent + 2)
			if err := w.text(item); err != nil {
				return err
			}
			w.nl()
		}
	default:
		return fmt.Errorf("unknown value kind %d", v.kind)
	}
	return nil
}

// text writes a text value double-quoted. Literal pieces are checked, environment
// names validated, and the result must hold exactly as many "${" as references the
// renderer made: two safe pieces could otherwise meet as "$" + "{".
func (w *writer) text(v Value) error {
	if v.items == nil {
		if plainSafe(v.scalar) {
			w.buf = append(w.buf, '"')
			w.buf = append(w.buf, v.scalar...)
			w.buf = append(w.buf, '"')
			return nil
		}
		if why := Check(v.scalar); why != "" {
			return fmt.Errorf("unsafe value: %s", why)
		}
		w.quoted(v.scalar)
		return nil
	}
	start := len(w.buf)
	w.buf = append(w.buf, '"')
	envs := 0
	for _, p := range v.items {
		if p.kind == kindEnvRef && p.scalar != "" {
			if !validEnvName(p.scalar) {
				return fmt.Errorf("invalid environment variable name %q", p.scalar)
			}
			w.buf = append(w.buf, "${"...)
			w.buf = append(w.buf, p.scalar...)
			w.buf = append(w.buf, '}')
			envs++
			continue
		}
		if why := Check(p.scalar); why != "" {
			return fmt.Errorf("unsafe value: %s", why)
		}
		w.escape(p.scalar)
	}
	w.buf = append(w.buf, '"')
	// Escaping leaves '$' and '{' as they are, so counting on the written bytes is exact.
	if bytes.Count(w.buf[start:], []byte("${")) != envs {
		return fmt.Errorf("unsafe value: pieces join into '${'")
	}
	return nil
}

// quoted writes s double-quoted with YAML escapes, so no content can end the scalar.
func (w *writer) quoted(s string) {
	w.buf = append(w.buf, '"')
	w.escape(s)
	w.buf = append(w.buf, '"')
}

// escape writes s with the escapes of a double-quoted YAML scalar; plain ASCII, the
// common case, is copied in one go.
func (w *writer) escape(s string) {
	if plainASCII(s) {
		w.buf = append(w.buf, s...)
		return
	}
	b := w.buf
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b = append(b, '\\')
			b = utf8.AppendRune(b, r)
		case r == '\n':
			b = append(b, `\n`...)
		case r == '\t':
			b = append(b, `\t`...)
		case r == '\r':
			b = append(b, `\r`...)
		case r < 0x20 || r == 0x7f:
			b = append(b, `\x`...)
			b = append(b, hex2(byte(r))...)
		case r == utf8.RuneError || r == 0xFEFF || r == 0x85 || r == 0x2028 || r == 0x2029 || !unicode.IsPrint(r) && r != ' ':
			if r <= 0xFFFF {
				b = append(b, `\u`...)
				b = append(b, pad4(strconv.FormatUint(uint64(r), 16))...)
			} else {
				b = append(b, `\U`...)
				b = append(b, pad8(strconv.FormatUint(uint64(r), 16))...)
			}
		default:
			b = utf8.AppendRune(b, r)
		}
	}
	w.buf = b
}

func plainASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// plainSafe reports text that is both safe (see Check) and plain ASCII, in one pass:
// nearly every value, which is then copied as it is.
func plainSafe(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '$' && i+1 < len(s) && s[i+1] == '{' {
			return false
		}
	}
	return true
}

func hex2(c byte) string {
	const digits = "0123456789ABCDEF"
	return string([]byte{digits[c>>4], digits[c&0xf]})
}

func pad4(s string) string { return strings.ToUpper(fmt.Sprintf("%04s", s)) }
func pad8(s string) string { return strings.ToUpper(fmt.Sprintf("%08s", s)) }

// EncodedProcessors is a processor list written once for several output sections.
type EncodedProcessors struct{ data []byte }

// Bytes is the list as written at the end of an output section; nil for none.
func (p *EncodedProcessors) Bytes() []byte {
	if p == nil {
		return nil
	}
	return p.data[:len(p.data):len(p.data)]
}

// EncodeProcessors writes ps as the processors of an output section; nil for none.
func EncodeProcessors(ps []Section) (*EncodedProcessors, error) {
	var e Encoder
	return e.Processors(ps)
}

// Processors encodes ps like EncodeProcessors, in the encoder's memory.
func (e *Encoder) Processors(ps []Section) (*EncodedProcessors, error) {
	if len(ps) == 0 {
		return nil, nil
	}
	w := e.start()
	inner := outputsIndent + 2
	w.key(inner, "processors")
	w.nl()
	w.key(inner+2, "logs")
	w.nl()
	if err := w.sections(inner+4, ps); err != nil {
		return nil, err
	}
	return &EncodedProcessors{data: e.done(w)}, nil
}

// condition writes a processor's condition block.
func (w *writer) condition(indent int, c *Condition) error {
	if c.Op != "and" && c.Op != "or" {
		return fmt.Errorf("condition op must be and or or, not %q", c.Op)
	}
	w.key(indent, "condition")
	w.nl()
	w.key(indent+2, "op")
	w.buf = append(w.buf, ' ')
	w.quoted(c.Op)
	w.nl()
	w.key(indent+2, "rules")
	w.nl()
	for _, r := range c.Rules {
		for _, s := range append([]string{r.Field, r.Value}, r.Values...) {
			if why := Check(s); why != "" {
				return fmt.Errorf("condition on %q: unsafe value: %s", r.Field, why)
			}
		}
		w.dash(indent + 4)
		w.buf = append(w.buf, "field: "...)
		w.quoted(r.Field)
		w.nl()
		w.key(indent+6, "op")
		w.buf = append(w.buf, ' ')
		w.quoted(string(r.Op))
		w.nl()
		w.key(indent+6, "value")
		switch r.Op {
		case OpIn, OpNotIn:
			w.nl()
			for _, v := range r.Values {
				w.dash(indent + 8)
				w.quoted(v)
				w.nl()
			}
		case OpEq, OpNeq, OpRegex:
			w.buf = append(w.buf, ' ')
			w.quoted(r.Value)
			w.nl()
		default:
			return fmt.Errorf("unknown condition operator %q", r.Op)
		}
	}
	return nil
}

// validUTF8 reports text YAML can carry: YAML files are Unicode, so bytes that are not
// UTF-8 cannot be written faithfully.
func validUTF8(s string) bool { return utf8.ValidString(s) }
