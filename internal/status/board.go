// Package status composes what users read on their pipelines from the verdicts other
// parts of the operator reach: the agent reconciler's render (ConfigGenerated), the
// agents' pods (AgentHealthy) and the flow monitor's figures (FlowHealthy, throughput).
// Each writes its verdicts on a Board; one status reconciler per pipeline reads them
// and writes the pipeline's status when, and only when, it changes. So a render of
// 2,000 pipelines costs no status write for the ones whose verdict stayed the same,
// and two writers never fight over one status.
package status

import (
	"math"
	"sync"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/logplane/logplane/api/v1alpha1"
	"github.com/logplane/logplane/internal/render"
)

// Verdict is what the latest render says about one pipeline.
type Verdict struct {
	// Agent runs the pipeline; "" when none does (file inputs run in sidecars, events
	// in the events collector), and then no AgentHealthy is reported.
	Agent string
	// Sidecar is true when the pipeline runs in the sidecars injected into the pods it
	// selects (LogPipeline input.files).
	Sidecar bool
	// Config is the ConfigGenerated condition; its observedGeneration is the
	// generation that was rendered.
	Config metav1.Condition
	// Rendered is true when the configuration carries the pipeline (perhaps without
	// some of its outputs), so there is a flow to measure.
	Rendered bool
}

// Flow is what the flow monitor measured for one pipeline.
type Flow struct {
	Condition  metav1.Condition
	Throughput *v1.Throughput
}

// Board holds the latest verdicts and tells listeners which pipelines they changed.
// It is safe for concurrent use; listeners are called without the lock held.
type Board struct {
	mu        sync.Mutex
	verdicts  map[render.Ref]Verdict
	publisher map[render.Ref]string // which publisher owns each verdict
	health    map[string]metav1.Condition
	flows     map[render.Ref]Flow
	// unmeasured is the flow verdict of the last cycle for agent-run pipelines it had
	// no figures for; a pipeline rendered since shows it until measured itself.
	unmeasured *Flow
	outputs    map[render.Ref]OutputVerdict
	listeners  map[string]func(render.Ref) // by pipeline or output kind
}

// NewBoard returns an empty board.
func NewBoard() *Board {
	return &Board{verdicts: map[render.Ref]Verdict{}, publisher: map[render.Ref]string{},
		health: map[string]metav1.Condition{}, flows: map[render.Ref]Flow{}, outputs: map[render.Ref]OutputVerdict{}, listeners: map[string]func(render.Ref){}}
}

// Listen registers the function told about changes to pipelines or outputs of one kind.
func (b *Board) Listen(kind string, fn func(render.Ref)) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.listeners[kind] = fn
}

// PublishConfig replaces every verdict publisher made before with verdicts, and
// notifies the pipelines whose verdict changed, appeared or went away.
func (b *Board) PublishConfig(publisher string, verdicts map[render.Ref]Verdict) {
	b.mu.Lock()
	var changed []render.Ref
	for ref, owner := range b.publisher {
		if _, still := verdicts[ref]; owner == publisher && !still {
			delete(b.verdicts, ref)
			delete(b.publisher, ref)
			delete(b.flows, ref)
			changed = append(changed, ref)
		}
	}
	for ref, v := range verdicts {
		old, ok := b.verdicts[ref]
		b.verdicts[ref], b.publisher[ref] = v, publisher
		if !ok || old.Agent != v.Agent || old.Sidecar != v.Sidecar || old.Rendered != v.Rendered || !sameCondition(old.Config, v.Config) {
			changed = append(changed, ref)
		}
	}
	b.mu.Unlock()
	b.notify(changed)
}

// PublishAgentHealth records an agent's AgentHealthy condition and notifies the
// pipelines it runs when it changed.
func (b *Board) PublishAgentHealth(agent string, c metav1.Condition) {
	b.mu.Lock()
	old, ok := b.health[agent]
	b.health[agent] = c
	var changed []render.Ref
	if !ok || !sameCondition(old, c) {
		for ref, v := range b.verdicts {
			if v.Agent == agent {
				changed = append(changed, ref)
			}
		}
	}
	b.mu.Unlock()
	b.notify(changed)
}

// PublishFlow records the flow figures of pipelines, notifying those whose figures
// or condition changed. Pipelines the board no longer knows are ignored.
func (b *Board) PublishFlow(flows map[render.Ref]Flow) {
	b.mu.Lock()
	var changed []render.Ref
	for ref, f := range flows {
		v, known := b.verdicts[ref]
		if !known {
			continue
		}
		// Figures within tolerance keep the ones last told, so that a slow creep
		// still adds up to a change once it passes the tolerance.
		old, ok := b.flowOf(ref, v)
		if !ok || !sameCondition(old.Condition, f.Condition) || !SameFigures(old.Throughput, f.Throughput) {
			b.flows[ref] = f
			changed = append(changed, ref)
		} else if _, own := b.flows[ref]; !own {
			b.flows[ref] = old
		}
	}
	b.mu.Unlock()
	b.notify(changed)
}

// PublishUnmeasured records the verdict a pipeline that runs on an agent shows from
// its first render until a cycle measures it: what the last cycle said of the ones
// it could not measure (no agent pod running, or not reporting the pipeline yet).
// Without it, each new pipeline's status would be written twice: at its render,
// then once more at the next cycle, with that same verdict.
func (b *Board) PublishUnmeasured(f Flow) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.unmeasured = &f
}

// flowOf is the pipeline's own last measurement or, for one that runs on an agent
// and has none yet, the unmeasured verdict. Callers hold b.mu.
func (b *Board) flowOf(ref render.Ref, v Verdict) (Flow, bool) {
	if f, ok := b.flows[ref]; ok {
		return f, true
	}
	if b.unmeasured != nil && v.Rendered && v.Agent != "" {
		return *b.unmeasured, true
	}
	return Flow{}, false
}

// Pipelines lists the pipelines the board knows, with their verdicts.
func (b *Board) Pipelines() map[render.Ref]Verdict {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make(map[render.Ref]Verdict, len(b.verdicts))
	for ref, v := range b.verdicts {
		out[ref] = v
	}
	return out
}

// Entry is everything the board knows about one pipeline.
type Entry struct {
	Verdict Verdict
	// Health is the AgentHealthy condition of the pipeline's agent, if known.
	Health *metav1.Condition
	// Flow is the last measurement, if any.
	Flow *Flow
}

// Get returns the pipeline's entry; ok is false until a render has judged it.
func (b *Board) Get(ref render.Ref) (e Entry, ok bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	v, ok := b.verdicts[ref]
	if !ok {
		return Entry{}, false
	}
	e.Verdict = v
	if h, ok := b.health[v.Agent]; ok && v.Agent != "" {
		e.Health = &h
	}
	if f, ok := b.flowOf(ref, v); ok {
		e.Flow = &f
	}
	return e, true
}

func (b *Board) notify(refs []render.Ref) {
	if len(refs) == 0 {
		return
	}
	b.mu.Lock()
	listeners := make(map[string]func(render.Ref), len(b.listeners))
	for k, fn := range b.listeners {
		listeners[k] = fn
	}
	b.mu.Unlock()
	for _, ref := range refs {
		if fn := listeners[ref.Kind]; fn != nil {
			fn(ref)
		}
	}
}

// sameCondition compares what a user reads, ignoring transition times.
func sameCondition(a, b metav1.Condition) bool {
	return a.Type == b.Type && a.Status == b.Status && a.Reason == b.Reason &&
		a.Message == b.Message && a.ObservedGeneration == b.ObservedGeneration
}

// SameFigures reports whether two measurements show the same flow: every figure
// within 10% of the other, the same outputs, and the same "not measurable" notes.
// When they were taken, and the exact window, do not count: a steady pipeline's
// status is not rewritten on every measurement.
func SameFigures(a, b *v1.Throughput) bool {
	if a == nil || b == nil {
		return a == b
	}
	if !closeFigures(a.Figures, b.Figures) || len(a.Outputs) != len(b.Outputs) {
		return false
	}
	for i := range a.Outputs {
		x, y := a.Outputs[i], b.Outputs[i]
		if x.Kind != y.Kind || x.Name != y.Name || x.NotMeasurable != y.NotMeasurable || !closeFigures(x.Figures, y.Figures) {
			return false
		}
	}
	return true
}

func closeFigures(a, b v1.Figures) bool {
	return near(a.RecordsPerSecond, b.RecordsPerSecond) && near(a.BytesPerSecond, b.BytesPerSecond) &&
		near(a.DroppedRecordsPerSecond, b.DroppedRecordsPerSecond) && near(a.RetriedRecordsPerSecond, b.RetriedRecordsPerSecond) &&
		near(a.ErrorsPerSecond, b.ErrorsPerSecond) && near(int64(a.DropRatioBasisPoints), int64(b.DropRatioBasisPoints))
}

// near is true when a and b differ by at most 10% of the larger; zero is near only
// zero, so the first dropped record always shows.
func near(a, b int64) bool {
	x, y := math.Abs(float64(a)), math.Abs(float64(b))
	return math.Abs(float64(a-b))*10 <= max(x, y)
}
