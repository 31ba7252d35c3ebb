package snapshot

import (
	"reflect"

	v1 "github.com/logplane/logplane/api/v1alpha1"
)

// SecretRef is a Secret key an object refers to, with the field path that holds it
// (for messages such as "spec.loki.basicAuth.password").
type SecretRef struct {
	Path string
	Ref  v1.SecretKeyRef
}

// SecretRefs lists every SecretKeyRef inside v (a spec struct or pointer to one), in
// field order, so that a destination added to the API can never forget to declare
// its credentials.
func SecretRefs(v any) []SecretRef {
	var refs []SecretRef
	vis := &visitor{onRef: func(r v1.SecretKeyRef, path []pathElem) {
		refs = append(refs, SecretRef{Path: render(path), Ref: r})
	}}
	vis.walk(reflect.ValueOf(v), make([]pathElem, 0, 8))
	return refs
}
