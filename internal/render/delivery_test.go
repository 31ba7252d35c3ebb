package render

import (
	"fmt"
	"maps"
	"math"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"

	v1 "github.com/logplane/logplane/api/v1alpha1"
	"github.com/logplane/logplane/internal/fluentbit"
)

func TestRetryLimit(t *testing.T) {
	cases := []struct {
		d    time.Duration
		want string
	}{
		{0, "no_limits"},
		{time.Second, "1"},
		// retries 1..4 wait on average 8.5, 11, 23.5 and 33.5 s (cap reached at n = 4).
		{8 * time.Second, "1"},
		{20 * time.Second, "2"},
		{time.Minute, "4"},
		{10 * time.Minute, "20"},
		{time.Hour, "110"},
		{24 * time.Hour, "2581"},
	}
	for _, tc := range cases {
		if got := retryLimit(tc.d).String(); got != tc.want {
			t.Errorf("retryLimit(%v) = %s, want %s", tc.d, got, tc.want)
		}
	}
}

// The count is worked out as stepping through the retries would, and in no time for
// the longest budget the API admits (or Go can hold).
func TestRetryLimitMatchesSteppingThrough(t *testing.T) {
	stepped := func(d time.Duration) string {
		var waited float64
		for n := 1; ; n++ {
			waited += (schedulerBase+float64(min(schedulerCap, schedulerBase<<min(n, 30))))/2 + 1
			if waited >= d.Seconds() {
				return fmt.Sprint(n)
			}
		}
	}
	ds := []time.Duration{1, time.Millisecond, 8500 * time.Millisecond, 8500*time.Millisecond + 1, 77 * time.Second,
		time.Hour, 8760 * time.Hour}
	for i := range 2000 {
		ds = append(ds, time.Duration(i)*time.Second/2, time.Duration(i)*time.Second/2+1, time.Duration(i)*7919*time.Millisecond)
	}
	for _, d := range ds {
		if d <= 0 {
			continue
		}
		if got, want := computeRetryLimit(d).String(), stepped(d); got != want {
			t.Errorf("computeRetryLimit(%v) = %s, stepping through gives %s", d, got, want)
		}
	}
	// Fluent Bit reads retry_limit with atoi: any Go duration gives an int.
	if got := computeRetryLimit(math.MaxInt64).String(); got != "275324541" {
		t.Errorf("computeRetryLimit(max) = %s, want 275324541 (under 2³¹)", got)
	}
}

func TestSizeForFluentBitIsBytes(t *testing.T) {
	for in, want := range map[string]string{"1Gi": "1073741824", "500M": "500000000", "64Mi": "67108864"} {
		if got := sizeForFluentBit(resource.MustParse(in)); got != want {
			t.Errorf("%s → %s, want %s", in, got, want)
		}
	}
}

// Every output's disk buffer is bounded by its class: through the engine's chunks when
// the input buffers on the filesystem, through s3's own key always (s3 buffers on disk
// by itself).
func TestDeliveryBoundsTheDiskBuffer(t *testing.T) {
	d := delivery{buffer: resource.MustParse("10Mi"), retry: defaultRetry}
	for _, tc := range []struct {
		name       string
		t          v1.OutputType
		filesystem bool
		want       map[string]string
	}{
		{"http, memory input", v1.OutputHTTP, false, map[string]string{}},
		{"http, filesystem input", v1.OutputHTTP, true, map[string]string{"storage.total_limit_size": "10485760"}},
		{"s3, memory input", v1.OutputS3, false, map[string]string{"store_dir_limit_size": "10485760"}},
		{"s3, filesystem input", v1.OutputS3, true, map[string]string{"store_dir_limit_size": "10485760"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var s fluentbit.Section
			setDelivery(&s, d, tc.filesystem, tc.t)
			got := map[string]string{}
			for _, p := range s.Params {
				if p.Key != "retry_limit" {
					got[p.Key] = p.Value.String()
				}
			}
			if !maps.Equal(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}
