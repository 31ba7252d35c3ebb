package snapshot

import (
	"maps"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	v1 "github.com/logplane/logplane/api/v1alpha1"
)

// Walking specs by reflection lets checks cover every field the API will ever have.
// A plan per type (computed once) says where strings and Secret references can be,
// so that a walk skips numbers and flags and never inspects a type twice: it runs on
// every object of every render.

// plan is how to walk one type.
type plan struct {
	kind   reflect.Kind
	isRef  bool    // a v1.SecretKeyRef
	elem   *plan   // pointer, slice and map values
	fields []field // structs: the fields that can hold a string
	// empty: no value of this type holds a string or a reference.
	empty bool
}

type field struct {
	index int
	name  string // JSON name; "" for inlined structs
	plan  *plan
}

// The plans are read without a lock (walks run on every processor at once) from a
// map that is replaced, never changed, when a new type is planned.
var (
	plansMu sync.Mutex
	plans   atomic.Pointer[map[reflect.Type]*plan]
)

func planOf(t reflect.Type) *plan {
	if m := plans.Load(); m != nil {
		if p := (*m)[t]; p != nil {
			return p
		}
	}
	plansMu.Lock()
	defer plansMu.Unlock()
	next := map[reflect.Type]*plan{}
	if m := plans.Load(); m != nil {
		maps.Copy(next, *m)
	}
	p := buildPlan(next, t)
	plans.Store(&next)
	return p
}

// buildPlan plans t into plans. A type refers to itself only through a pointer, slice
// or map, whose plan is registered before its element is built.
func buildPlan(plans map[reflect.Type]*plan, t reflect.Type) *plan {
	if p := plans[t]; p != nil {
		return p
	}
	p := &plan{kind: t.Kind()}
	plans[t] = p
	switch t.Kind() {
	case reflect.String, reflect.Interface:
	case reflect.Pointer, reflect.Slice, reflect.Array, reflect.Map:
		p.elem = buildPlan(plans, t.Elem())
		p.empty = p.elem.empty && (t.Kind() != reflect.Map || t.Key().Kind() != reflect.String)
	case reflect.Struct:
		p.isRef = t == secretKeyRefType
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
			if strings.Contains(opts, "inline") || f.Anonymous && name == "" {
				name = ""
			} else if name == "" {
				name = f.Name
			}
			fp := buildPlan(plans, f.Type)
			if !fp.empty {
				p.fields = append(p.fields, field{index: i, name: name, plan: fp})
			}
		}
		p.empty = !p.isRef && len(p.fields) == 0
	default:
		p.empty = true
	}
	return p
}

// pathElem is one step of a field path: a field name, or a list index when name is "".
type pathElem struct {
	name  string
	index int
}

func render(path []pathElem) string {
	var b strings.Builder
	b.WriteString("spec")
	for _, e := range path {
		if e.name != "" {
			b.WriteByte('.')
			b.WriteString(e.name)
		} else {
			b.WriteString("[" + strconv.Itoa(e.index) + "]")
		}
	}
	return b.String()
}

var secretKeyRefType = reflect.TypeOf(v1.SecretKeyRef{})

// The fields of a SecretKeyRef, by index.
var refName, refKey = fieldIndex(secretKeyRefType, "Name"), fieldIndex(secretKeyRefType, "Key")

func fieldIndex(t reflect.Type, name string) int {
	f, ok := t.FieldByName(name)
	if !ok || len(f.Index) != 1 || f.Type.Kind() != reflect.String {
		panic("snapshot: " + t.String() + " has no string field " + name)
	}
	return f.Index[0]
}

// visitor looks at every string (and map key) and every SecretKeyRef of a value.
type visitor struct {
	// bad stops the walk at the first string it returns true for; found is the path.
	bad        func(string) bool
	found      []pathElem
	foundValue string
	// refs collects the SecretKeyRefs when wantRefs is set.
	wantRefs bool
	refs     []SecretRef
	// path is where the walk keeps its field path, deep enough for every spec.
	path [12]pathElem
}

func (vis *visitor) onString(s string, path []pathElem) bool {
	if vis.bad != nil && vis.bad(s) {
		vis.found, vis.foundValue = append([]pathElem(nil), path...), s
		return true
	}
	return false
}

func (vis *visitor) walk(v reflect.Value, p *plan, path []pathElem) bool {
	if p.empty {
		return false
	}
	switch p.kind {
	case reflect.Pointer:
		if !v.IsNil() {
			return vis.walk(v.Elem(), p.elem, path)
		}
	case reflect.Interface:
		if !v.IsNil() {
			e := v.Elem()
			return vis.walk(e, planOf(e.Type()), path)
		}
	case reflect.String:
		return vis.onString(v.String(), path)
	case reflect.Struct:
		if p.isRef && vis.wantRefs {
			// Field by field: boxing the struct through Interface would allocate.
			ref := v1.SecretKeyRef{Name: v1.ResourceName(v.Field(refName).String()), Key: v.Field(refKey).String()}
			vis.refs = append(vis.refs, SecretRef{Path: render(path), Ref: ref})
		}
		for _, f := range p.fields {
			q := path
			if f.name != "" {
				q = append(path, pathElem{name: f.name})
			}
			if vis.walk(v.Field(f.index), f.plan, q) {
				return true
			}
		}
	case reflect.Slice, reflect.Array:
		for i := 0; i < v.Len(); i++ {
			if vis.walk(v.Index(i), p.elem, append(path, pathElem{index: i})) {
				return true
			}
		}
	case reflect.Map:
		// Entries are walked in key order, so that the first bad string, and the order
		// of the references, are the same on every walk (a status message that moved
		// with map order would be rewritten for nothing).
		if m, ok := v.Interface().(map[string]string); ok {
			return vis.walkLabels(m, path)
		}
		keys := v.MapKeys()
		slices.SortFunc(keys, func(a, b reflect.Value) int { return strings.Compare(a.String(), b.String()) })
		for _, k := range keys {
			q := append(path, pathElem{name: k.String()})
			if vis.onString(k.String(), q) || vis.walk(v.MapIndex(k), p.elem, q) {
				return true
			}
		}
	}
	return false
}

// walkLabels walks the usual map (labels) without reflection, which copies every key
// and value, and sorts its keys only when one of its strings is bad.
func (vis *visitor) walkLabels(m map[string]string, path []pathElem) bool {
	if vis.bad == nil {
		return false
	}
	for k, x := range m {
		if vis.bad(k) || vis.bad(x) {
			for _, k := range slices.Sorted(maps.Keys(m)) {
				q := append(path, pathElem{name: k})
				if vis.onString(k, q) || vis.onString(m[k], q) {
					return true
				}
			}
		}
	}
	return false
}

func (vis *visitor) walkAny(v any) bool {
	rv := reflect.ValueOf(v)
	if !rv.IsValid() {
		return false
	}
	return vis.walk(rv, planOf(rv.Type()), vis.path[:0])
}
