package validation

import (
	"fmt"

	"k8s.io/apimachinery/pkg/util/validation/field"

	v1 "github.com/logplane/logplane/api/v1alpha1"
	"github.com/logplane/logplane/internal/fluentbit"
	"github.com/logplane/logplane/internal/rawparams"
	"github.com/logplane/logplane/internal/snapshot"
)

// Spec runs the checks of one kind on spec, a pointer to the spec of a LogPipeline,
// ClusterLogPipeline, LogOutput or ClusterLogOutput: what Fluent Bit would refuse or
// could not survive, beyond what CEL expresses. The admission webhook and the
// renderer both call it, so that the two gates cannot drift apart.
func Spec(spec any) field.ErrorList {
	switch s := spec.(type) {
	case *v1.LogPipelineSpec:
		return LogPipelineSpec(s)
	case *v1.ClusterLogPipelineSpec:
		return ClusterLogPipelineSpec(s)
	case *v1.OutputSpec:
		return LogOutputSpec(s)
	case *v1.ClusterLogOutputSpec:
		return ClusterLogOutputSpec(s)
	}
	panic(fmt.Sprintf("validation: no checks for %T", spec))
}

// Text returns the first string in spec that Fluent Bit would read as more than text
// (a line break, '${', a NUL, invalid UTF-8), or nil. CEL refuses most such values
// already, but not in every string field (a NUL passes every rule), and the renderer
// refuses them as UnsafeValue; the webhook runs this for the same answer at
// admission. The renderer runs the same test in the walk that also collects Secret
// references (render.scanSpec).
func Text(spec any) field.ErrorList {
	path, value, found, _ := snapshot.Scan(spec, IsUnsafeText, false)
	if !found {
		return nil
	}
	return field.ErrorList{field.Invalid(field.NewPath(path), value, fluentbit.Check(value))}
}

// IsUnsafeText reports whether Fluent Bit would read s as more than text.
func IsUnsafeText(s string) bool { return fluentbit.Check(s) != "" }

// LogOutputSpec checks what CEL cannot express in a tenant destination (OutputSpec).
func LogOutputSpec(spec *v1.OutputSpec) field.ErrorList { return OutputSpec(spec) }

// ClusterLogOutputSpec checks what CEL cannot express in a platform destination: the
// allowedNamespaces selector, which the API server stores unchecked (a CRD schema has
// no type for selectors; one that does not parse would admit no namespace, silently),
// and the values of rawParameters that Fluent Bit refuses at start. rawParameters keys
// are not checked here: CEL rules generated from internal/rawparams refuse them at
// admission, and the renderer reports them as RawParameterRefused.
func ClusterLogOutputSpec(spec *v1.ClusterLogOutputSpec) field.ErrorList {
	errs := OutputSpec(&spec.OutputSpec)
	errs = append(errs, PodSelector(spec.AllowedNamespaces, field.NewPath("spec", "allowedNamespaces"))...)
	if plugin, ok := rawparams.OutputPlugins[string(spec.Type)]; ok {
		for i, kv := range spec.RawParameters {
			if why := rawparams.CheckValue(plugin, kv.Key, string(kv.Value)); why != "" {
				errs = append(errs, field.Invalid(field.NewPath("spec", "rawParameters").Index(i).Child("value"), string(kv.Value),
					fmt.Sprintf("key %s %s", kv.Key, why)))
			}
		}
	}
	return errs
}
