package render

import (
	"github.com/logplane/logplane/internal/fluentbit"
	"github.com/logplane/logplane/internal/snapshot"
)

// scanSpec finds the first string inside v (a spec) that Fluent Bit would read as
// more than text, and returns its field path and why ("" when every string is safe),
// and, with wantRefs and when every string is safe, the spec's Secret references, in
// one walk. The API server refuses such values already; this guards input that never
// passed it (`logplane render` on files), so that one bad value leaves out one
// resource instead of breaking a whole configuration.
func scanSpec(v any, wantRefs bool) (path, why string, refs []snapshot.SecretRef) {
	path, value, found, refs := snapshot.Scan(v, isUnsafe, wantRefs)
	if found {
		why = fluentbit.Check(value)
	}
	return path, why, refs
}

// isUnsafe is the test of scanSpec; a function of its own, so that a walk allocates
// no closure.
func isUnsafe(s string) bool { return fluentbit.Check(s) != "" }
