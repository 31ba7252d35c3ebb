package render

import (
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"
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

func TestSizeForFluentBitIsBytes(t *testing.T) {
	for in, want := range map[string]string{"1Gi": "1073741824", "500M": "500000000", "64Mi": "67108864"} {
		if got := sizeForFluentBit(resource.MustParse(in)); got != want {
			t.Errorf("%s → %s, want %s", in, got, want)
		}
	}
}
