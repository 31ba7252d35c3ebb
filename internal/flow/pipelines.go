package flow

import (
	"cmp"
	"slices"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/logplane/logplane/api/v1alpha1"
	"github.com/logplane/logplane/internal/alias"
)

// PipelineKey identifies a pipeline as its output aliases name it.
type PipelineKey struct{ Kind, Namespace, Name string }

// OutputKey identifies an output of a pipeline (a LogOutput lives in the pipeline's
// namespace).
type OutputKey struct{ Kind, Name string }

// Measure is one pipeline's share of a cycle.
type Measure struct {
	// Outputs are per-second rates per output, summed over pods.
	Outputs map[OutputKey]OutputCounters
	// BufferUsed is the fullest of its outputs' buffers in percent, FullestBuffer
	// the output that has it.
	BufferUsed    float64
	FullestBuffer OutputKey
}

// ByPipeline regroups a cycle's sections by the pipeline their alias names. Sections
// logplane did not name (shared inputs, Fluent Bit's own) are not anyone's.
func ByPipeline(c Cycle) map[PipelineKey]*Measure {
	out := map[PipelineKey]*Measure{}
	get := func(o alias.Output) (*Measure, OutputKey) {
		key := PipelineKey{Kind: o.PipelineKind, Namespace: o.Namespace, Name: o.Pipeline}
		m := out[key]
		if m == nil {
			m = &Measure{Outputs: map[OutputKey]OutputCounters{}}
			out[key] = m
		}
		return m, OutputKey{Kind: o.OutputKind, Name: o.Output}
	}
	for name, rates := range c.Rates {
		if o, ok := alias.Decode(name); ok {
			m, k := get(o)
			m.Outputs[k] = m.Outputs[k].Add(rates)
		}
	}
	for name, used := range c.BufferUsed {
		if o, ok := alias.Decode(name); ok {
			m, k := get(o)
			if used > m.BufferUsed || used == m.BufferUsed && cmpOutputs(k, m.FullestBuffer) < 0 {
				m.BufferUsed, m.FullestBuffer = used, k
			}
		}
	}
	return out
}

// ReportedPipelines are the pipelines some process showed this cycle, whether or not
// they have rates yet.
func ReportedPipelines(c Cycle) map[PipelineKey]bool {
	out := map[PipelineKey]bool{}
	for name := range c.Reported {
		if o, ok := alias.Decode(name); ok {
			out[PipelineKey{Kind: o.PipelineKind, Namespace: o.Namespace, Name: o.Pipeline}] = true
		}
	}
	return out
}

// Judge turns a pipeline's measure into the throughput its status shows and its
// FlowHealthy verdict. notMeasurable gives, for outputs whose counters do not mean
// delivery (S3 acknowledges a record once it is buffered on the node), the reason
// shown instead of figures; their records count in no total.
func Judge(m *Measure, window time.Duration, notMeasurable map[OutputKey]string, generation int64, now time.Time) (*v1.Throughput, metav1.Condition) {
	t := &v1.Throughput{WindowSeconds: int32(window.Round(time.Second).Seconds())}
	at := metav1.NewTime(now)
	t.LastMeasured = &at
	var total OutputCounters
	keys := make([]OutputKey, 0, len(m.Outputs))
	for k := range m.Outputs {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, cmpOutputs)
	for _, k := range keys {
		o := v1.OutputThroughput{Kind: k.Kind, Name: k.Name}
		if why, ok := notMeasurable[k]; ok {
			o.NotMeasurable = why
		} else {
			o.Figures = Figures(m.Outputs[k], 1)
			total = total.Add(m.Outputs[k])
		}
		t.Outputs = append(t.Outputs, o)
	}
	t.Figures = Figures(total, 1)
	obs := Observation{Window: window, Output: total, BufferUsed: m.BufferUsed}
	if m.BufferUsed > 0 {
		obs.FullestBuffer = m.FullestBuffer.Kind + "/" + m.FullestBuffer.Name
	}
	return t, FlowCondition(obs, generation)
}

func cmpOutputs(a, b OutputKey) int {
	return cmp.Or(cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.Name, b.Name))
}
