package fluentbit

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Value is what a key is set to. Only the constructors below make one, so every value
// that reaches a file has been through the same checks.
type Value struct {
	scalar string // numbers, booleans, plain text; a piece's text or variable name
	// items are a list's items, or the pieces of text with environment references:
	// literal text (kindText) and references (kindEnvRef). One field for both keeps
	// a value, and every section's keys, small.
	items []Value
	kind  valueKind
}

type valueKind uint8

const (
	kindText valueKind = iota
	kindNumber
	kindBool
	kindList
	kindEnvRef
)

// String is literal text. Fluent Bit expands "${NAME}" inside any value from its
// environment, so literal text must never contain it; see Check.
func String(s string) Value {
	// Plain text keeps its one piece inline; parts are for text with references.
	return Value{kind: kindText, scalar: s}
}

// Int is a whole number.
func Int(n int64) Value { return Value{kind: kindNumber, scalar: strconv.FormatInt(n, 10)} }

// Bool is on or off.
func Bool(b bool) Value {
	if b {
		return Value{kind: kindBool, scalar: "on"}
	}
	return Value{kind: kindBool, scalar: "off"}
}

// Env refers to an environment variable of the Fluent Bit process, written as
// ${NAME}: the only way a secret reaches the configuration.
func Env(name string) Value {
	return Value{kind: kindText, items: []Value{{kind: kindEnvRef, scalar: name}}}
}

// Concat joins text values, such as a header name and a secret token.
func Concat(values ...Value) Value {
	n := 0
	for _, x := range values {
		n += max(len(x.items), 1)
	}
	v := Value{kind: kindText, items: make([]Value, 0, n)}
	for _, x := range values {
		if x.items == nil {
			if x.scalar != "" {
				v.items = append(v.items, Value{kind: kindText, scalar: x.scalar})
			}
			continue
		}
		v.items = append(v.items, x.items...)
	}
	return v
}

// List is a key repeated once per item (grep rules, labels).
func List(items ...string) Value {
	v := Value{kind: kindList, items: make([]Value, len(items))}
	for i, it := range items {
		v.items[i] = String(it)
	}
	return v
}

// ValueList is a list whose items may hold environment references (headers).
func ValueList(items ...Value) Value { return Value{kind: kindList, items: items} }

// String renders the value as its text appears in a file (lists joined by ", "),
// for tests and messages; unsafe text renders as "<invalid: reason>".
func (v Value) String() string {
	switch v.kind {
	case kindText:
		t, err := v.text()
		if err != nil {
			return "<invalid: " + err.Error() + ">"
		}
		return t
	case kindList:
		items := make([]string, len(v.items))
		for i, it := range v.items {
			items[i] = it.String()
		}
		return strings.Join(items, ", ")
	}
	return v.scalar
}

func (v Value) empty() bool {
	switch v.kind {
	case kindText:
		return len(v.items) == 0 && v.scalar == ""
	case kindList:
		return len(v.items) == 0
	}
	return v.scalar == ""
}

// Check reports why literal text is unsafe in a Fluent Bit file, or "" when it is safe.
// The API's CEL rules already refuse these values; this is the second line of defence
// for input that did not pass through the API server (logplane render on files).
func Check(s string) string {
	if plainText(s) {
		return ""
	}
	switch {
	case strings.ContainsAny(s, "\r\n"):
		return "contains a line break"
	case strings.Contains(s, "${"):
		return "contains '${', which Fluent Bit would expand from its environment"
	case strings.ContainsRune(s, 0):
		return "contains a NUL character"
	case !validUTF8(s):
		return "is not valid UTF-8"
	}
	return ""
}

// plainText reports, in one pass, text that Check passes without looking closer:
// ASCII without control characters or "${". Nearly every value is.
func plainText(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c >= 0x80 || c == '$' && i+1 < len(s) && s[i+1] == '{' {
			return false
		}
	}
	return true
}

// Param is one key of a section.
type Param struct {
	Key   string
	Value Value
}

// Section is an input, filter, output, parser or processor entry. Name and Match are
// written first, then every other key in alphabetical order, so that equal sections
// are always equal bytes.
type Section struct {
	Name       string
	Match      string
	Alias      string
	Params     []Param
	Processors []Section
	// SharedProcessors replaces Processors on output sections that share one list
	// (every output of a pipeline runs the pipeline's filters): encoded once.
	SharedProcessors *EncodedProcessors
	// Condition applies to processors only.
	Condition *Condition
}

// Set adds a key, keeping Params in key order; a zero-length value is skipped so that
// optional fields can be passed through without an if around each one.
func (s *Section) Set(key string, v Value) {
	if v.empty() {
		return
	}
	if s.Params == nil {
		// Room for a typical processor's keys at once, not one reallocation each.
		s.Params = make([]Param, 0, 4)
	}
	i := len(s.Params)
	for i > 0 && s.Params[i-1].Key > key {
		i--
	}
	s.Params = slices.Insert(s.Params, i, Param{Key: key, Value: v})
}

// sortedParams returns the params in write order and fails on a duplicate key, which
// Fluent Bit would silently resolve one way or the other.
func (s Section) sortedParams() ([]Param, error) {
	ps := s.Params
	if !slices.IsSortedFunc(ps, compareParams) {
		ps = slices.Clone(ps)
		slices.SortStableFunc(ps, compareParams)
	}
	for i := 1; i < len(ps); i++ {
		if ps[i].Key == ps[i-1].Key {
			return nil, fmt.Errorf("section %s: key %q set twice", s.Name, ps[i].Key)
		}
	}
	return ps, nil
}

func compareParams(a, b Param) int { return strings.Compare(a.Key, b.Key) }
