package status

import (
	"slices"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/logplane/logplane/api/v1alpha1"
	"github.com/logplane/logplane/internal/conditions"
)

// managed are the condition types a pipeline's status is composed of here; any other
// type on the list belongs to someone else and is left alone.
var managed = []string{conditions.TypeConfigGenerated, conditions.TypeAgentHealthy, conditions.TypeFlowHealthy, conditions.TypeReady}

// Apply composes a pipeline's status from its board entry, in place, and reports
// whether anything a user reads changed. Every condition carries the rendered
// generation, which is also status.observedGeneration: a spec edited since the last
// render shows as not yet observed.
func Apply(st *v1.PipelineStatus, e Entry) bool {
	gen := e.Verdict.Config.ObservedGeneration
	conds := []metav1.Condition{e.Verdict.Config}
	if e.Health != nil {
		conds = append(conds, at(*e.Health, gen))
	}
	if e.Flow != nil {
		conds = append(conds, at(e.Flow.Condition, gen))
	} else if old := meta.FindStatusCondition(st.Conditions, conditions.TypeFlowHealthy); old != nil {
		// Not measured since the operator started: the last verdict stands, so a
		// restart rewrites no status.
		conds = append(conds, at(*old, gen))
	}
	conds = append(conds, Ready(gen, conds...))

	before := slices.Clone(st.Conditions)
	kept := st.Conditions[:0:0]
	for _, c := range st.Conditions {
		if !slices.Contains(managed, c.Type) || slices.ContainsFunc(conds, func(n metav1.Condition) bool { return n.Type == c.Type }) {
			kept = append(kept, c)
		}
	}
	st.Conditions = kept
	for _, c := range conds {
		meta.SetStatusCondition(&st.Conditions, c)
	}
	changed := !equality.Semantic.DeepEqual(before, st.Conditions)
	if st.ObservedGeneration != gen {
		st.ObservedGeneration, changed = gen, true
	}
	// Without a new measurement the last one stays, with the time it was taken.
	if e.Flow != nil && e.Flow.Throughput != nil && !SameFigures(st.Throughput, e.Flow.Throughput) {
		st.Throughput, changed = e.Flow.Throughput.DeepCopy(), true
	}
	return changed
}

// SetConditions applies conds to a status's list and reports whether anything but
// transition times changed.
func SetConditions(list *[]metav1.Condition, conds ...metav1.Condition) bool {
	before := slices.Clone(*list)
	for _, c := range conds {
		meta.SetStatusCondition(list, c)
	}
	return !equality.Semantic.DeepEqual(before, *list)
}

// Ready summarises conditions: the first False, in the order given, decides; then the
// first Unknown among those that must be known. A flow that cannot be measured
// (FlowHealthy Unknown) does not hold Ready back: missing numbers are not a fault of
// the pipeline, and its condition says so on its own.
func Ready(generation int64, conds ...metav1.Condition) metav1.Condition {
	for _, c := range conds {
		if c.Status == metav1.ConditionFalse {
			return as(c, conditions.TypeReady)
		}
	}
	for _, c := range conds {
		if c.Status == metav1.ConditionUnknown && c.Type != conditions.TypeFlowHealthy {
			return as(c, conditions.TypeReady)
		}
	}
	return conditions.New(conditions.TypeReady, metav1.ConditionTrue, conditions.ReasonReady, generation)
}

func as(c metav1.Condition, t string) metav1.Condition {
	c.Type = t
	return c
}

func at(c metav1.Condition, generation int64) metav1.Condition {
	c.ObservedGeneration = generation
	return c
}
