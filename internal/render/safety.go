package render

import (
	"github.com/logplane/logplane/internal/fluentbit"
	"github.com/logplane/logplane/internal/snapshot"
)

// unsafeField finds the first string inside v (a spec) that Fluent Bit would read as
// more than text, and returns its field path and why; "" when every string is safe.
// The API server refuses such values already; this guards input that never passed it
// (`logplane render` on files), so that one bad value leaves out one resource instead
// of breaking a whole configuration.
func unsafeField(v any) (path, why string) {
	path, _ = snapshot.FindString(v, func(s string) bool {
		why = fluentbit.Check(s)
		return why != ""
	})
	return path, why
}

// scanSpec is unsafeField and, when every string is safe, the spec's Secret references,
// in one walk.
func scanSpec(v any) (path, why string, refs []snapshot.SecretRef) {
	path, _, refs = snapshot.Scan(v, func(s string) bool {
		why = fluentbit.Check(s)
		return why != ""
	})
	return path, why, refs
}
