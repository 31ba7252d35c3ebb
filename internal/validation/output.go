package validation

import (
	"k8s.io/apimachinery/pkg/util/validation/field"

	v1 "github.com/logplane/logplane/api/v1alpha1"
)

// LogOutputSpec checks what CEL cannot express in a tenant destination. CEL expresses
// every rule of OutputSpec today; the function exists so that the first rule it
// cannot lands where both gates already call it.
func LogOutputSpec(*v1.OutputSpec) field.ErrorList { return nil }

// ClusterLogOutputSpec checks what CEL cannot express in a platform destination: the
// allowedNamespaces selector, which the API server stores unchecked (a CRD schema has
// no type for selectors). One that does not parse would admit no namespace, silently.
// rawParameters keys are not checked here: CEL rules generated from internal/rawparams
// refuse them at admission, and the renderer reports them with a reason of their own
// (RawParameterRefused).
func ClusterLogOutputSpec(spec *v1.ClusterLogOutputSpec) field.ErrorList {
	return PodSelector(spec.AllowedNamespaces, field.NewPath("spec", "allowedNamespaces"))
}
