package snapshot

import (
	"reflect"
	"strconv"
	"strings"
	"sync"

	v1 "github.com/logplane/logplane/api/v1alpha1"
)

// Walking specs by reflection lets checks cover every field the API will ever have;
// a per-type plan of the fields (computed once) keeps it cheap enough to run on every
// object of every render.

type fieldPlan struct {
	index int
	name  string // JSON name; "" for inlined structs
}

var plans sync.Map // reflect.Type → []fieldPlan

func fieldsOf(t reflect.Type) []fieldPlan {
	if p, ok := plans.Load(t); ok {
		return p.([]fieldPlan)
	}
	var fs []fieldPlan
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
		fs = append(fs, fieldPlan{index: i, name: name})
	}
	plans.Store(t, fs)
	return fs
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

// visitor is called for every string (and map key) and every SecretKeyRef; returning
// true stops the walk.
type visitor struct {
	onString func(s string, path []pathElem) bool
	onRef    func(r v1.SecretKeyRef, path []pathElem)
}

func (vis *visitor) walk(v reflect.Value, path []pathElem) bool {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			return vis.walk(v.Elem(), path)
		}
	case reflect.String:
		return vis.onString != nil && vis.onString(v.String(), path)
	case reflect.Struct:
		if v.Type() == secretKeyRefType && vis.onRef != nil {
			vis.onRef(v.Interface().(v1.SecretKeyRef), path)
		}
		for _, f := range fieldsOf(v.Type()) {
			p := path
			if f.name != "" {
				p = append(path, pathElem{name: f.name})
			}
			if vis.walk(v.Field(f.index), p) {
				return true
			}
		}
	case reflect.Slice:
		for i := 0; i < v.Len(); i++ {
			if vis.walk(v.Index(i), append(path, pathElem{index: i})) {
				return true
			}
		}
	case reflect.Map:
		iter := v.MapRange()
		for iter.Next() {
			p := append(path, pathElem{name: iter.Key().String()})
			if vis.onString != nil && vis.onString(iter.Key().String(), p) || vis.walk(iter.Value(), p) {
				return true
			}
		}
	}
	return false
}

// FindString returns the path of the first string inside v (a spec, or a pointer to
// one) for which bad returns true, and whether there was one.
func FindString(v any, bad func(string) bool) (string, bool) {
	var found []pathElem
	vis := &visitor{onString: func(s string, path []pathElem) bool {
		if bad(s) {
			found = append([]pathElem(nil), path...)
			return true
		}
		return false
	}}
	if vis.walk(reflect.ValueOf(v), make([]pathElem, 0, 8)) {
		return render(found), true
	}
	return "", false
}
