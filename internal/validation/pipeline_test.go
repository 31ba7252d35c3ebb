package validation

import (
	"strings"
	"testing"

	v1 "github.com/logplane/logplane/api/v1alpha1"
)

// One throttle per pipeline; a second is refused where it stands.
func TestFiltersAllowOneThrottle(t *testing.T) {
	throttle := v1.Filter{Type: v1.FilterThrottle, Throttle: &v1.ThrottleFilter{Records: 10}}
	grep := v1.Filter{Type: v1.FilterGrep, Grep: &v1.GrepFilter{Include: []v1.FieldMatch{{Field: "log", Regex: "x"}}}}
	for _, c := range []struct {
		filters []v1.Filter
		want    string
	}{
		{[]v1.Filter{throttle}, ""},
		{[]v1.Filter{throttle, grep}, ""},
		{[]v1.Filter{throttle, grep, throttle}, "spec.filters[2].throttle"},
		{[]v1.Filter{throttle, throttle, throttle}, "spec.filters[1].throttle"},
	} {
		errs := LogPipelineSpec(&v1.LogPipelineSpec{Filters: c.filters})
		switch {
		case c.want == "" && len(errs) > 0:
			t.Errorf("%d filters: %v", len(c.filters), errs)
		case c.want != "" && (len(errs) != 1 || errs[0].Field != c.want || !strings.Contains(errs[0].Detail, "at most one throttle")):
			t.Errorf("%d filters: %v, want one error at %s", len(c.filters), errs, c.want)
		}
	}
}
