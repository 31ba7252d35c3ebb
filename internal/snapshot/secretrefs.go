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
	vis := &visitor{wantRefs: true}
	vis.walkAny(v)
	return vis.refs
}

// Scan walks v once for both questions a renderer asks of a spec: the path and value
// of the first string for which bad returns true (found reports whether there was
// one), and, with wantRefs and when there is none, every SecretKeyRef as SecretRefs
// lists them.
func Scan(v any, bad func(string) bool, wantRefs bool) (path, value string, found bool, refs []SecretRef) {
	vis := &visitor{bad: bad, wantRefs: wantRefs}
	if vis.walkAny(v) {
		return render(vis.found), vis.foundValue, true, nil
	}
	return "", "", false, vis.refs
}
