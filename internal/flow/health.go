package flow

import (
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/logplane/logplane/internal/conditions"
)

// Observation is what a pipeline's figures over one window show.
type Observation struct {
	// Window is how long the counts cover; zero when no agent could be read.
	Window time.Duration
	// Output is the pipeline's output sections summed over every pod.
	Output OutputCounters
	// InputBytes is how much its inputs read in the window (shared inputs included:
	// it tells whether logs are arriving at all).
	InputBytes float64
	// BufferGrowing is true when the filesystem buffer grew through the whole window.
	BufferGrowing bool
	// ProbeError says why the agents' metrics could not be read.
	ProbeError string
}

// FlowCondition judges one window. The checks run in order and the first that holds
// decides: losing everything is worse than losing some, which is worse than delivering
// nothing while logs arrive (records may still be retried), which is worse than a
// backlog building up.
func FlowCondition(o Observation, generation int64) metav1.Condition {
	window := o.Window.String()
	c := o.Output
	switch {
	// Without numbers there is nothing to judge; say why rather than guess.
	case o.ProbeError != "" || o.Window <= 0:
		return conditions.New(conditions.TypeFlowHealthy, metav1.ConditionUnknown, conditions.ReasonProbingFailed, generation,
			orDefault(o.ProbeError, "no measurement window yet"))
	case c.Dropped > 0 && c.Records == 0:
		return conditions.New(conditions.TypeFlowHealthy, metav1.ConditionFalse, conditions.ReasonAllDataDropped, generation,
			window, fmt.Sprintf("%.0f records", c.Dropped))
	case c.Dropped > 0:
		return conditions.New(conditions.TypeFlowHealthy, metav1.ConditionFalse, conditions.ReasonSomeDataDropped, generation,
			fmt.Sprintf("%.2f%%", c.Dropped/(c.Dropped+c.Records)*100), window)
	case c.Records == 0 && o.InputBytes > 0:
		return conditions.New(conditions.TypeFlowHealthy, metav1.ConditionFalse, conditions.ReasonNoLogsDelivered, generation, window)
	case o.BufferGrowing:
		return conditions.New(conditions.TypeFlowHealthy, metav1.ConditionFalse, conditions.ReasonBufferFillingUp, generation,
			"its outputs", "a larger size")
	}
	return conditions.New(conditions.TypeFlowHealthy, metav1.ConditionTrue, conditions.ReasonFlowHealthy, generation, window)
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}
