package flow

import (
	"fmt"
	"math"
	"strconv"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/logplane/logplane/internal/conditions"
)

// Observation is what a pipeline's figures over one window show.
type Observation struct {
	// Window is how long the rates cover; zero when no agent could be read twice.
	Window time.Duration
	// Output is the pipeline's measurable output sections, per second, summed over
	// every pod.
	Output OutputCounters
	// FullestBuffer names the output whose buffer is fullest, and BufferUsed says how
	// full it is in percent of its limit.
	FullestBuffer string
	BufferUsed    float64
	// ProbeError says why the agents' metrics could not be read.
	ProbeError string
}

// BufferWarning is how full (percent of its limit) an output's buffer may grow before
// the pipeline reports BufferFillingUp: past half, an outage of the same length again
// loses records.
const BufferWarning = 50

// FlowCondition judges one window. The checks run in order and the first that holds
// decides: losing everything is worse than losing some, which is worse than delivering
// nothing while records are offered (and retried), which is worse than a backlog
// building up. "Offered" is read from the pipeline's own outputs (retries and errors)
// rather than the agent's input: the agent's input flows for every tenant, so a quiet
// namespace must not look like a broken destination. Messages hold no figures that
// move with every window, not even the window's length (those are in
// status.throughput), so an unchanged verdict
// writes nothing.
func FlowCondition(o Observation, generation int64) metav1.Condition {
	c := o.Output
	switch {
	// Without numbers there is nothing to judge; say why rather than guess.
	case o.ProbeError != "" || o.Window <= 0:
		return conditions.New(conditions.TypeFlowHealthy, metav1.ConditionUnknown, conditions.ReasonProbingFailed, generation,
			orDefault(o.ProbeError, "no measurement window yet"))
	case c.Dropped > 0 && c.Records == 0:
		return conditions.New(conditions.TypeFlowHealthy, metav1.ConditionFalse, conditions.ReasonAllDataDropped, generation)
	case c.Dropped > 0:
		return conditions.New(conditions.TypeFlowHealthy, metav1.ConditionFalse, conditions.ReasonSomeDataDropped, generation,
			percent(c.Dropped/(c.Dropped+c.Records)))
	case c.Records == 0 && (c.Retried > 0 || c.Errors > 0):
		return conditions.New(conditions.TypeFlowHealthy, metav1.ConditionFalse, conditions.ReasonNoLogsDelivered, generation)
	case o.BufferUsed >= BufferWarning:
		return conditions.New(conditions.TypeFlowHealthy, metav1.ConditionFalse, conditions.ReasonBufferFillingUp, generation,
			o.FullestBuffer, fmt.Sprintf("%d%% of its limit", int(o.BufferUsed/10)*10))
	case c.Records == 0:
		return conditions.New(conditions.TypeFlowHealthy, metav1.ConditionTrue, conditions.ReasonNoRecords, generation)
	}
	return conditions.New(conditions.TypeFlowHealthy, metav1.ConditionTrue, conditions.ReasonFlowHealthy, generation)
}

// percent shows a ratio with two significant figures ("0.012%", "1.2%", "35%"), so
// that the message changes only when the loss does.
func percent(ratio float64) string {
	v := ratio * 100
	if v >= 10 {
		return fmt.Sprintf("%.0f%%", v)
	}
	return strconv.FormatFloat(v, 'g', 2, 64) + "%"
}

// significant rounds x to two significant figures.
func significant(x float64) float64 {
	if x == 0 || math.IsInf(x, 0) || math.IsNaN(x) {
		return x
	}
	scale := math.Pow(10, math.Floor(math.Log10(math.Abs(x)))-1)
	return math.Round(x/scale) * scale
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}
