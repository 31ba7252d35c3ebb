package snapshot

import (
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
	vis.walkAny(v)
	return refs
}

// Scan walks v once for both questions a renderer asks of a spec: the path of the
// first string for which bad returns true (found reports whether there was one), and,
// when there is none, every SecretKeyRef as SecretRefs lists them.
func Scan(v any, bad func(string) bool) (path string, found bool, refs []SecretRef) {
	var at []pathElem
	vis := &visitor{
		onString: func(s string, path []pathElem) bool {
			if bad(s) {
				at = append([]pathElem(nil), path...)
				return true
			}
			return false
		},
		onRef: func(r v1.SecretKeyRef, path []pathElem) {
			refs = append(refs, SecretRef{Path: render(path), Ref: r})
		},
	}
	if vis.walkAny(v) {
		return render(at), true, nil
	}
	return "", false, refs
}
