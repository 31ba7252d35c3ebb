package sidecar

import (
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/logplane/logplane/api/v1alpha1"
	"github.com/logplane/logplane/internal/conditions"
)

func TestSidecarCondition(t *testing.T) {
	cases := []struct {
		name     string
		counts   v1.SidecarCounts
		rendered bool
		status   metav1.ConditionStatus
		reason   string
		message  string
	}{
		{"not rendered wins over counts", v1.SidecarCounts{Injected: 3}, false, metav1.ConditionFalse, conditions.ReasonSidecarNotConfigured, "not injected"},
		{"all current", v1.SidecarCounts{Injected: 3}, true, metav1.ConditionTrue, conditions.ReasonSidecarsCurrent, "3 selected pods"},
		{"no pods yet", v1.SidecarCounts{}, true, metav1.ConditionTrue, conditions.ReasonSidecarsCurrent, "0 selected pods"},
		{"outdated", v1.SidecarCounts{Injected: 1, Outdated: 2}, true, metav1.ConditionFalse, conditions.ReasonSidecarsOutdated, "Of 3 selected pods, 2 run an older"},
		{"missing", v1.SidecarCounts{Injected: 1, Missing: 1}, true, metav1.ConditionFalse, conditions.ReasonSidecarsOutdated, "1 have no sidecar; restart their workloads"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := SidecarCondition(tc.counts, tc.rendered, 7)
			if c.Type != conditions.TypeSidecarsCurrent || c.Status != tc.status || c.Reason != tc.reason || c.ObservedGeneration != 7 || !strings.Contains(c.Message, tc.message) {
				t.Fatalf("got %+v", c)
			}
		})
	}
}
