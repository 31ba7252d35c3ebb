// Package flow measures, at a fixed cadence, what every pipeline delivers and drops,
// and puts the figures and the FlowHealthy verdict on the status board. The pipelines'
// status reconciler writes them, and only when a rounded figure or the verdict moves.
package flow

import (
	"context"
	"fmt"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	v1 "github.com/logplane/logplane/api/v1alpha1"
	"github.com/logplane/logplane/internal/alias"
	"github.com/logplane/logplane/internal/conditions"
	"github.com/logplane/logplane/internal/flow"
	"github.com/logplane/logplane/internal/render"
	"github.com/logplane/logplane/internal/status"
)

// Source measures one cycle: rates per output section over a window.
type Source interface {
	Measure(ctx context.Context) (flow.Cycle, error)
}

// SidecarSource is a Source that reads the injected sidecars too. Only then can the
// absence of a file-input pipeline from a cycle mean that no sidecar runs it.
type SidecarSource interface {
	Source
	ReadsSidecars() bool
}

// Monitor runs the measurement loop. It is a manager Runnable that runs on the leader
// only, since it feeds status writes.
type Monitor struct {
	// Client reads outputs from the cache (to tell which are not measurable).
	Client   client.Reader
	Board    *status.Board
	Source   Source
	Interval time.Duration
	// Debounce keeps one odd window from flipping a verdict.
	Debounce *flow.Debouncer
	Metrics  *Metrics
	Now      func() time.Time
}

// NeedLeaderElection makes the monitor run only on the leader.
func (m *Monitor) NeedLeaderElection() bool { return true }

// Start measures every Interval until ctx ends.
func (m *Monitor) Start(ctx context.Context) error {
	t := time.NewTicker(m.Interval)
	defer t.Stop()
	for {
		if err := m.Step(ctx); err != nil {
			log.FromContext(ctx).Error(err, "flow measurement failed")
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Step runs one cycle: measure, judge every pipeline the board knows, publish.
func (m *Monitor) Step(ctx context.Context) error {
	start := m.Now()
	cycle, err := m.Source.Measure(ctx)
	m.Metrics.observeCycle(cycle, err, m.Now().Sub(start))
	if err == nil && cycle.Targets > cycle.Failed && cycle.Window <= 0 {
		return nil // first samples: nothing to judge yet, and no verdict to write
	}
	probeError := probeFailure(cycle, err)
	measured := flow.ByPipeline(cycle)
	reported := flow.ReportedPipelines(cycle)
	sidecars, _ := m.Source.(SidecarSource)
	readsSidecars := sidecars != nil && sidecars.ReadsSidecars()
	// What an agent-run pipeline without figures this cycle shows.
	unmeasured := status.Flow{Condition: conditions.New(conditions.TypeFlowHealthy, metav1.ConditionUnknown, conditions.ReasonProbingFailed, 0,
		"the agents do not report this pipeline yet; they may still be loading the new configuration")}
	if probeError != "" {
		unmeasured.Condition = conditions.New(conditions.TypeFlowHealthy, metav1.ConditionUnknown, conditions.ReasonProbingFailed, 0, probeError)
	}
	flows := map[render.Ref]status.Flow{}
	known := m.Board.Pipelines()
	for ref, v := range known {
		if !v.Rendered {
			continue // not in the configuration: nothing flows, and ConfigGenerated says why
		}
		key := flow.PipelineKey{Kind: ref.Kind, Namespace: ref.Namespace, Name: ref.Name}
		me, ok := measured[key]
		var f status.Flow
		switch {
		case ok && probeError == "":
			f.Throughput, f.Condition = flow.Judge(me, cycle.Window, m.notMeasurable(ctx, ref, me), 0, start)
		case v.Sidecar && readsSidecars:
			var judged bool
			if f.Condition, judged = sidecarsUnmeasured(cycle, err, ref, reported[key]); !judged {
				continue // reported without rates yet: nothing to say (see sidecarsUnmeasured)
			}
		case v.Agent == "":
			continue // runs in the events collector or in sidecars the source does not read
		default:
			f = unmeasured
		}
		f.Condition = m.Debounce.Settle(ref.String(), f.Condition)
		flows[ref] = f
	}
	keep := make(map[string]bool, len(flows))
	for ref := range flows {
		keep[ref.String()] = true
	}
	m.Debounce.Retain(keep)
	m.Metrics.setPipelines(measured)
	m.Board.PublishUnmeasured(unmeasured)
	m.Board.PublishFlow(flows)
	return nil
}

// probeFailure says why nothing can be judged this cycle, or "".
func probeFailure(c flow.Cycle, err error) string {
	switch {
	case err != nil:
		return err.Error()
	case c.Targets == 0:
		return "no agent pod is running"
	case c.Failed == c.Targets && len(c.Errors) == 0:
		return "no Fluent Bit process could be read"
	case c.Failed == c.Targets:
		return strings.Join(c.Errors, "; ")
	}
	return ""
}

// sidecarsUnmeasured says why a file-input pipeline, which runs in the sidecars of
// the pods it selects, has no figures this cycle; judged is false when there is
// nothing to say yet (a sidecar reports it but was read only once, or was not read
// this cycle and its last rates were carried). Only the sidecars of the pipeline's
// namespace count: agents that cannot be read say nothing about it. A failed sidecar
// there may be the one that runs the pipeline, so that comes before concluding that
// no running injected pod runs it.
func sidecarsUnmeasured(c flow.Cycle, err error, ref render.Ref, reported bool) (cond metav1.Condition, judged bool) {
	unknown := func(reason string, args ...any) (metav1.Condition, bool) {
		return conditions.New(conditions.TypeFlowHealthy, metav1.ConditionUnknown, reason, 0, args...), true
	}
	switch {
	case err != nil:
		return unknown(conditions.ReasonProbingFailed, err.Error())
	case reported:
		return metav1.Condition{}, false
	case c.FailedNamespaces[ref.Namespace] != "":
		// Only this namespace's error: another's names a pod its tenant may not see.
		return unknown(conditions.ReasonProbingFailed, fmt.Sprintf("sidecars in namespace %s could not be read (%s)", ref.Namespace, c.FailedNamespaces[ref.Namespace]))
	}
	return unknown(conditions.ReasonNoSidecarsRunning)
}

// notMeasurable names the outputs of a pipeline whose counters do not mean delivery.
func (m *Monitor) notMeasurable(ctx context.Context, ref render.Ref, me *flow.Measure) map[flow.OutputKey]string {
	var out map[flow.OutputKey]string
	for k := range me.Outputs {
		var spec *v1.OutputSpec
		if k.Kind == alias.LogOutput {
			var o v1.LogOutput
			if m.Client.Get(ctx, client.ObjectKey{Namespace: ref.Namespace, Name: k.Name}, &o) == nil {
				spec = &o.Spec
			}
		} else {
			var o v1.ClusterLogOutput
			if m.Client.Get(ctx, client.ObjectKey{Name: k.Name}, &o) == nil {
				spec = &o.Spec.OutputSpec
			}
		}
		if spec != nil && spec.Type == v1.OutputS3 {
			if out == nil {
				out = map[flow.OutputKey]string{}
			}
			out[k] = s3NotMeasurable
		}
	}
	return out
}

const s3NotMeasurable = "Fluent Bit's S3 output counts a record as delivered once it is buffered on the node for upload, so its counters do not show delivery to the bucket."
