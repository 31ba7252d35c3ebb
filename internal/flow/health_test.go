package flow

import (
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/logplane/logplane/internal/conditions"
)

func TestFlowConditionPriority(t *testing.T) {
	w := 30 * time.Second
	cases := []struct {
		name    string
		o       Observation
		status  metav1.ConditionStatus
		reason  string
		message string
	}{
		{"metrics unreadable", Observation{ProbeError: "connection refused"}, metav1.ConditionUnknown, conditions.ReasonProbingFailed, "connection refused"},
		{"no window yet", Observation{}, metav1.ConditionUnknown, conditions.ReasonProbingFailed, "no measurement window"},
		{"everything dropped beats a growing buffer", Observation{Window: w, Output: OutputCounters{Dropped: 50}, BufferGrowing: true},
			metav1.ConditionFalse, conditions.ReasonAllDataDropped, "50 records"},
		{"some dropped", Observation{Window: w, Output: OutputCounters{Records: 990, Dropped: 10}},
			metav1.ConditionFalse, conditions.ReasonSomeDataDropped, "1.00%"},
		{"logs arrive, none delivered", Observation{Window: w, InputBytes: 4096},
			metav1.ConditionFalse, conditions.ReasonNoLogsDelivered, "30s"},
		{"backlog", Observation{Window: w, Output: OutputCounters{Records: 10}, BufferGrowing: true},
			metav1.ConditionFalse, conditions.ReasonBufferFillingUp, "does not keep up"},
		{"quiet is healthy", Observation{Window: w}, metav1.ConditionTrue, conditions.ReasonFlowHealthy, ""},
		{"delivering", Observation{Window: w, Output: OutputCounters{Records: 300}, InputBytes: 1e5},
			metav1.ConditionTrue, conditions.ReasonFlowHealthy, "none were dropped"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := FlowCondition(tc.o, 3)
			if c.Status != tc.status || c.Reason != tc.reason || !strings.Contains(c.Message, tc.message) || c.ObservedGeneration != 3 {
				t.Fatalf("got %s %s %q, want %s %s containing %q", c.Status, c.Reason, c.Message, tc.status, tc.reason, tc.message)
			}
		})
	}
}
