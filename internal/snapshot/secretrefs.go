package snapshot

import (
	"reflect"
	"strconv"
	"strings"

	v1 "github.com/logplane/logplane/api/v1alpha1"
)

// SecretRef is a Secret key an object refers to, with the field path that holds it
// (for messages such as "spec.loki.basicAuth.password").
type SecretRef struct {
	Path string
	Ref  v1.SecretKeyRef
}

var secretKeyRefType = reflect.TypeOf(v1.SecretKeyRef{})

// SecretRefs lists every SecretKeyRef inside v (a spec struct or pointer to one), in
// field order. It walks the types by reflection so that a destination added to the API
// can never forget to declare its credentials.
func SecretRefs(v any) []SecretRef {
	var refs []SecretRef
	walk(reflect.ValueOf(v), "spec", &refs)
	return refs
}

func walk(v reflect.Value, path string, refs *[]SecretRef) {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			walk(v.Elem(), path, refs)
		}
	case reflect.Struct:
		if v.Type() == secretKeyRefType {
			*refs = append(*refs, SecretRef{Path: path, Ref: v.Interface().(v1.SecretKeyRef)})
			return
		}
		for i := 0; i < v.NumField(); i++ {
			f := v.Type().Field(i)
			if !f.IsExported() {
				continue
			}
			name, inline := jsonName(f)
			p := path
			if !inline {
				p = path + "." + name
			}
			walk(v.Field(i), p, refs)
		}
	case reflect.Slice:
		for i := 0; i < v.Len(); i++ {
			walk(v.Index(i), path+"["+strconv.Itoa(i)+"]", refs)
		}
	}
}

func jsonName(f reflect.StructField) (name string, inline bool) {
	tag := f.Tag.Get("json")
	name, opts, _ := strings.Cut(tag, ",")
	if strings.Contains(opts, "inline") || f.Anonymous && name == "" {
		return "", true
	}
	if name == "" {
		name = f.Name
	}
	return name, false
}
