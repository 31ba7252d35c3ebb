package render

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/logplane/logplane/internal/fluentbit"
	"github.com/logplane/logplane/internal/snapshot"
	"github.com/logplane/logplane/internal/validation"
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

// validateSpec runs the checks both gates share (validation.Spec, which the admission
// webhook runs too) on the spec of a pipeline or an output, and returns the first
// refused field (its path below spec) and why.
func validateSpec(spec any) (path, why string) {
	errs := validation.Spec(spec)
	if len(errs) == 0 {
		return "", ""
	}
	// The same first error on every render, whatever order a map was walked in: a
	// status message must not move for nothing.
	detail := func(e *field.Error) string {
		if v, ok := e.BadValue.(string); ok && v != "" {
			return fmt.Sprintf("%q: %s", v, e.Detail)
		}
		return e.Detail
	}
	first := slices.MinFunc(errs, func(a, b *field.Error) int {
		return cmp.Or(cmp.Compare(a.Field, b.Field), cmp.Compare(detail(a), detail(b)))
	})
	return strings.TrimPrefix(first.Field, "spec."), detail(first)
}

// isUnsafe is the test of scanSpec, the one the webhook runs (validation.Text); a
// function value of its own, so that a walk allocates no closure.
var isUnsafe = validation.IsUnsafeText
