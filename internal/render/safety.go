package render

import (
	"reflect"
	"strconv"
	"strings"

	"github.com/logplane/logplane/internal/fluentbit"
)

// unsafeField finds the first string inside v (a spec) that Fluent Bit would read as
// more than text, and returns its field path and why; "" when every string is safe.
// The API server refuses such values already; this guards input that never passed it
// (`logplane render` on files), so that one bad value leaves out one resource instead
// of breaking a whole configuration.
func unsafeField(v any) (path, why string) {
	return walkStrings(reflect.ValueOf(v), "spec")
}

func walkStrings(v reflect.Value, path string) (string, string) {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			return walkStrings(v.Elem(), path)
		}
	case reflect.String:
		if why := fluentbit.Check(v.String()); why != "" {
			return path, why
		}
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			f := v.Type().Field(i)
			if !f.IsExported() {
				continue
			}
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			p := path
			if name != "" {
				p = path + "." + name
			}
			if fp, why := walkStrings(v.Field(i), p); why != "" {
				return fp, why
			}
		}
	case reflect.Slice:
		for i := 0; i < v.Len(); i++ {
			if fp, why := walkStrings(v.Index(i), path+"["+strconv.Itoa(i)+"]"); why != "" {
				return fp, why
			}
		}
	case reflect.Map:
		iter := v.MapRange()
		for iter.Next() {
			p := path + "[" + iter.Key().String() + "]"
			if why := fluentbit.Check(iter.Key().String()); why != "" {
				return p, why
			}
			if fp, why := walkStrings(iter.Value(), p); why != "" {
				return fp, why
			}
		}
	}
	return "", ""
}
