package fluentbit

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// Value is what a key is set to. Only the constructors below make one, so every value
// that reaches a file has been through the same checks.
type Value struct {
	kind   valueKind
	scalar string  // numbers and booleans
	parts  []part  // text: literal pieces and environment references
	items  []Value // lists
}

type valueKind int

const (
	kindText valueKind = iota
	kindNumber
	kindBool
	kindList
)

// part is a piece of text: literal, or a reference to an environment variable.
type part struct {
	literal string
	env     string
}

// String is literal text. Fluent Bit expands "${NAME}" inside any value from its
// environment, so literal text must never contain it; see Check.
func String(s string) Value {
	if s == "" {
		return Value{kind: kindText}
	}
	return Value{kind: kindText, parts: []part{{literal: s}}}
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
func Env(name string) Value { return Value{kind: kindText, parts: []part{{env: name}}} }

// Concat joins text values, such as a header name and a secret token.
func Concat(values ...Value) Value {
	v := Value{kind: kindText}
	for _, x := range values {
		v.parts = append(v.parts, x.parts...)
	}
	return v
}

// List is a key repeated once per item (grep rules, labels).
func List(items ...string) Value {
	v := Value{kind: kindList}
	for _, it := range items {
		v.items = append(v.items, String(it))
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
		return len(v.parts) == 0
	case kindList:
		return len(v.items) == 0
	}
	return v.scalar == ""
}

// Check reports why literal text is unsafe in a Fluent Bit file, or "" when it is safe.
// The API's CEL rules already refuse these values; this is the second line of defence
// for input that did not pass through the API server (logplane render on files).
func Check(s string) string {
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
	// Condition applies to processors only.
	Condition *Condition
}

// Set appends a key; a zero-length string is skipped so that optional fields can be
// passed through without an if around each one.
func (s *Section) Set(key string, v Value) {
	if v.empty() {
		return
	}
	s.Params = append(s.Params, Param{Key: key, Value: v})
}

// sortedParams returns the params in write order and fails on a duplicate key, which
// Fluent Bit would silently resolve one way or the other.
func (s Section) sortedParams() ([]Param, error) {
	ps := append([]Param(nil), s.Params...)
	sort.SliceStable(ps, func(i, j int) bool { return ps[i].Key < ps[j].Key })
	for i := 1; i < len(ps); i++ {
		if ps[i].Key == ps[i-1].Key {
			return nil, fmt.Errorf("section %s: key %q set twice", s.Name, ps[i].Key)
		}
	}
	return ps, nil
}
