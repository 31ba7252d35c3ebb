package render

import (
	"strconv"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"

	v1 "github.com/logplane/logplane/api/v1alpha1"
	"github.com/logplane/logplane/internal/fluentbit"
)

// Retry scheduling, set in the service section of every configuration. Fluent Bit 5.1
// waits before retry n a random whole number of seconds in [base, min(cap, base·2ⁿ)],
// plus one. A one-minute cap keeps a recovered destination from waiting long for
// traffic while still backing off from a failing one.
const (
	schedulerBase = 5
	schedulerCap  = 60
)

// defaultBuffer bounds an output's filesystem buffer when its policy does not.
var defaultBuffer = resource.MustParse("1Gi")

// defaultRetry is the retry budget of an output without a RetentionPolicy.
const defaultRetry = time.Hour

// retryLimit maps a retry duration to Fluent Bit's retry_limit (a count): the smallest
// count whose expected total wait reaches d. With the schedule above that is about
// 30 s per retry once the backoff reaches its cap, e.g. 1h → 110 retries. Zero means
// no limit: records wait in the buffer until delivered or until the buffer is full.
func retryLimit(d time.Duration) fluentbit.Value {
	if d == defaultRetry {
		return defaultRetryLimit
	}
	return computeRetryLimit(d)
}

// defaultRetryLimit is worked out once: nearly every output has it.
var defaultRetryLimit = computeRetryLimit(defaultRetry)

// computeRetryLimit counts in half-seconds, in which every expected wait is whole:
// retry n waits base + min(cap, base·2ⁿ) + 2 half-seconds. Once the backoff reaches its
// cap every retry waits the same, so the count is worked out, not stepped through: a
// retry budget of a year is a million retries.
func computeRetryLimit(d time.Duration) fluentbit.Value {
	if d <= 0 {
		return fluentbit.String("no_limits")
	}
	const half = int64(time.Second / 2)
	target := int64(d) / half // the least half-seconds to wait in all, rounded up
	if int64(d)%half != 0 {
		target++
	}
	var waited, n int64
	for schedulerBase<<n < schedulerCap {
		n++
		waited += int64(schedulerBase + min(schedulerCap, schedulerBase<<n) + 2)
		if waited >= target {
			return fluentbit.Int(n)
		}
	}
	const capped = schedulerBase + schedulerCap + 2
	return fluentbit.Int(n + (target-waited+capped-1)/capped)
}

// delivery is what an output's log class asks of the data plane.
type delivery struct {
	atLeastOnce bool
	buffer      resource.Quantity
	retry       time.Duration
}

func deliveryOf(p *v1.RetentionPolicy) delivery {
	d := delivery{buffer: defaultBuffer, retry: defaultRetry}
	if p == nil {
		return d
	}
	d.atLeastOnce = p.Spec.Delivery == v1.DeliveryAtLeastOnce
	if p.Spec.Buffer.MaxSize != nil {
		d.buffer = *p.Spec.Buffer.MaxSize
	}
	if p.Spec.Retry.MaxDuration != nil {
		d.retry = p.Spec.Retry.MaxDuration.Duration
	}
	return d
}

// setDelivery writes retry_limit and the bound of the output's disk buffer: its class's
// buffer size, so that each output's share of the disk is bounded. That bound is
// storage.total_limit_size when the input buffers on the filesystem, or the plugin's
// own key when it keeps a disk buffer of its own (ownDiskBuffer) whatever the input does.
func setDelivery(s *fluentbit.Section, d delivery, filesystem bool, t v1.OutputType) {
	s.Set("retry_limit", retryLimit(d.retry))
	if key, own := ownDiskBuffer[t]; own {
		s.Set(key, fluentbit.String(sizeForFluentBit(d.buffer)))
	} else if filesystem {
		s.Set("storage.total_limit_size", fluentbit.String(sizeForFluentBit(d.buffer)))
	}
}

// ownDiskBuffer is the key that bounds a plugin's own disk buffer. s3 moves records
// into files under its store_dir as it gets them, so storage.total_limit_size would
// bound next to nothing (Fluent Bit 5.1 warns when it is set) and store_dir would grow
// without limit while uploads fail.
var ownDiskBuffer = map[v1.OutputType]string{v1.OutputS3: "store_dir_limit_size"}

// sizeForFluentBit writes a quantity in bytes, which Fluent Bit reads unambiguously
// (its suffixes are decimal; Kubernetes' Mi/Gi are binary).
func sizeForFluentBit(q resource.Quantity) string {
	return strconv.FormatInt(q.Value(), 10)
}
