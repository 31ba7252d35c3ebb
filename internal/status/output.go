package status

import (
	"slices"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/logplane/logplane/api/v1alpha1"
	"github.com/logplane/logplane/internal/render"
)

// MaxListedPipelines keeps an output's status small however many pipelines use it;
// pipelineCount always has the full number.
const MaxListedPipelines = 100

// OutputVerdict is what the default agent's latest render says about one output.
type OutputVerdict struct {
	// Config is the ConfigGenerated condition; its observedGeneration is the
	// generation that was rendered.
	Config metav1.Condition
	// Pipelines are the first MaxListedPipelines pipelines using the output, sorted.
	Pipelines     []v1.ObjectReference
	PipelineCount int32
}

// NewOutputVerdict keeps the first MaxListedPipelines of the sorted users.
func NewOutputVerdict(config metav1.Condition, users []v1.ObjectReference) OutputVerdict {
	return OutputVerdict{Config: config, Pipelines: users[:min(len(users), MaxListedPipelines)], PipelineCount: int32(len(users))}
}

func (v OutputVerdict) same(o OutputVerdict) bool {
	return sameCondition(v.Config, o.Config) && v.PipelineCount == o.PipelineCount && slices.Equal(v.Pipelines, o.Pipelines)
}

// PublishOutputs replaces the verdicts on every output, and notifies the outputs whose
// verdict changed, appeared or went away. Only the default agent publishes them: it
// renders whenever an output, or the set of pipelines using one, changes.
func (b *Board) PublishOutputs(verdicts map[render.Ref]OutputVerdict) {
	b.mu.Lock()
	var changed []render.Ref
	for ref := range b.outputs {
		if _, still := verdicts[ref]; !still {
			delete(b.outputs, ref)
			changed = append(changed, ref)
		}
	}
	for ref, v := range verdicts {
		if old, ok := b.outputs[ref]; !ok || !old.same(v) {
			b.outputs[ref] = v
			changed = append(changed, ref)
		}
	}
	b.mu.Unlock()
	b.notify(changed)
}

// Output returns the output's verdict; ok is false until a render has judged it.
func (b *Board) Output(ref render.Ref) (v OutputVerdict, ok bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	v, ok = b.outputs[ref]
	return v, ok
}

// ApplyOutput composes an output's status from its verdict, in place, and reports
// whether anything a user reads changed. Conditions of other types (the retention
// controller's) are left alone.
func ApplyOutput(st *v1.OutputStatus, v OutputVerdict) bool {
	gen := v.Config.ObservedGeneration
	changed := SetConditions(&st.Conditions, v.Config, Ready(gen, v.Config))
	if !slices.Equal(st.Pipelines, v.Pipelines) && (len(st.Pipelines) > 0 || len(v.Pipelines) > 0) {
		st.Pipelines, changed = slices.Clone(v.Pipelines), true
	}
	if st.PipelineCount != v.PipelineCount {
		st.PipelineCount, changed = v.PipelineCount, true
	}
	if st.ObservedGeneration != gen {
		st.ObservedGeneration, changed = gen, true
	}
	return changed
}
