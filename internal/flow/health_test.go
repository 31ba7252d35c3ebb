package flow

import (
	"math"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/logplane/logplane/internal/conditions"
)

func TestFlowConditionPriority(t *testing.T) {
	w := 30*time.Second + 12*time.Millisecond // scrape jitter must not reach the message
	cases := []struct {
		name    string
		o       Observation
		status  metav1.ConditionStatus
		reason  string
		message string
	}{
		{"metrics unreadable", Observation{ProbeError: "connection refused"}, metav1.ConditionUnknown, conditions.ReasonProbingFailed, "connection refused"},
		{"no window yet", Observation{}, metav1.ConditionUnknown, conditions.ReasonProbingFailed, "no measurement window"},
		{"everything dropped beats a full buffer", Observation{Window: w, Output: OutputCounters{Dropped: 50}, BufferUsed: 90, FullestBuffer: "o"},
			metav1.ConditionFalse, conditions.ReasonAllDataDropped, "last measurement window was dropped"},
		{"some dropped", Observation{Window: w, Output: OutputCounters{Records: 990, Dropped: 10}},
			metav1.ConditionFalse, conditions.ReasonSomeDataDropped, "1% of records in the last measurement window"},
		{"a small loss keeps two figures", Observation{Window: w, Output: OutputCounters{Records: 99877, Dropped: 123}},
			metav1.ConditionFalse, conditions.ReasonSomeDataDropped, "0.12%"},
		{"a large loss", Observation{Window: w, Output: OutputCounters{Records: 10, Dropped: 30}},
			metav1.ConditionFalse, conditions.ReasonSomeDataDropped, "75%"},
		{"retried, none delivered", Observation{Window: w, Output: OutputCounters{Retried: 12}},
			metav1.ConditionFalse, conditions.ReasonNoLogsDelivered, "none were delivered"},
		{"errors, none delivered", Observation{Window: w, Output: OutputCounters{Errors: 1}},
			metav1.ConditionFalse, conditions.ReasonNoLogsDelivered, "retried"},
		{"backlog", Observation{Window: w, Output: OutputCounters{Records: 10}, BufferUsed: 67, FullestBuffer: "LogOutput/loki"},
			metav1.ConditionFalse, conditions.ReasonBufferFillingUp, "LogOutput/loki grew to 60% of its limit"},
		{"a buffer under half is fine", Observation{Window: w, Output: OutputCounters{Records: 10}, BufferUsed: 49},
			metav1.ConditionTrue, conditions.ReasonFlowHealthy, "none were dropped"},
		{"quiet is healthy and says so", Observation{Window: w}, metav1.ConditionTrue, conditions.ReasonNoRecords, "No records"},
		{"delivering", Observation{Window: w, Output: OutputCounters{Records: 300, Retried: 4}},
			metav1.ConditionTrue, conditions.ReasonFlowHealthy, "none were dropped in the last measurement window"},
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

func TestSignificant(t *testing.T) {
	for in, want := range map[float64]float64{0: 0, 7: 7, 12: 12, 1234: 1200, 1250: 1300, 98765: 99000, 0.0123: 0.012} {
		if got := significant(in); math.Abs(got-want) > 1e-12*math.Abs(want) {
			t.Errorf("significant(%v) = %v, want %v", in, got, want)
		}
	}
}
