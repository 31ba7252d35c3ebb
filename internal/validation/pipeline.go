package validation

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	v1 "github.com/logplane/logplane/api/v1alpha1"
)

// LogPipelineSpec checks what CEL cannot express in a tenant pipeline: regexes as
// Fluent Bit's engine reads them, and label selectors that become record accessors.
// The admission webhook and the renderer both run it (see DESIGN.md, two gates).
func LogPipelineSpec(spec *v1.LogPipelineSpec) field.ErrorList {
	root := field.NewPath("spec")
	errs := Filters(spec.Filters, root.Child("filters"))
	if c := spec.Input.Containers; c != nil {
		errs = append(errs, PodSelector(c.PodSelector, root.Child("input", "containers", "podSelector"))...)
	}
	if f := spec.Input.Files; f != nil {
		errs = append(errs, PodSelector(&f.PodSelector, root.Child("input", "files", "podSelector"))...)
	}
	return errs
}

// ClusterLogPipelineSpec is LogPipelineSpec for platform pipelines.
func ClusterLogPipelineSpec(spec *v1.ClusterLogPipelineSpec) field.ErrorList {
	root := field.NewPath("spec")
	errs := Filters(spec.Filters, root.Child("filters"))
	if c := spec.Input.Containers; c != nil {
		in := root.Child("input", "containers")
		errs = append(errs, PodSelector(c.PodSelector, in.Child("podSelector"))...)
		errs = append(errs, PodSelector(c.Namespaces.Selector, in.Child("namespaces", "selector"))...)
	}
	if e := spec.Input.Events; e != nil {
		errs = append(errs, PodSelector(e.Namespaces.Selector, root.Child("input", "events", "namespaces", "selector"))...)
	}
	return errs
}

// Filters checks every regex of filters: Fluent Bit compiles them when the agent
// starts, and one it refuses stops the agent of every tenant on the node.
func Filters(filters []v1.Filter, fld *field.Path) field.ErrorList {
	var errs field.ErrorList
	regex := func(p *field.Path, pattern v1.Regex, use RegexUse) {
		if err := Regex(string(pattern), use); err != nil {
			errs = append(errs, field.Invalid(p, string(pattern), err.Error()))
		}
	}
	throttles := 0
	for i, f := range filters {
		at := fld.Index(i)
		// Fluent Bit starts a thread per throttle instance, and the renderer writes
		// one per output of the pipeline: more than one per pipeline only costs the
		// shared agent threads (the CRD refuses it; this catches what it admitted
		// before the rule).
		if f.Throttle != nil {
			if throttles++; throttles == 2 {
				errs = append(errs, field.Invalid(at.Child("throttle"), "", "at most one throttle filter per pipeline: each runs a thread of its own, per output, in the agent every tenant of a node shares"))
			}
		}
		if g := f.Grep; g != nil {
			for j, m := range g.Include {
				regex(at.Child("grep", "include").Index(j).Child("regex"), m.Regex, RegexMatch)
			}
			for j, m := range g.Exclude {
				regex(at.Child("grep", "exclude").Index(j).Child("regex"), m.Regex, RegexMatch)
			}
		}
		if p := f.Parse; p != nil && p.Regex != nil {
			regex(at.Child("parse", "regex"), *p.Regex, RegexParse)
		}
	}
	return errs
}

// PodSelector checks a label selector as the API server checks one in a pod spec: a
// key with a quote or a space is no label key, and the renderer writes each key into
// a record accessor ($kubernetes['labels']['<key>']) that Fluent Bit would refuse.
func PodSelector(sel *metav1.LabelSelector, fld *field.Path) field.ErrorList {
	if sel == nil {
		return nil
	}
	return metav1validation.ValidateLabelSelector(sel, metav1validation.LabelSelectorValidationOptions{}, fld)
}
