// Package retention enforces a RetentionPolicy's retention at the destinations that
// store logs: the pure planning (what each destination can hold, whether a change would
// delete data, the lifecycle documents to write) and one applier per destination kind
// that reads and writes the setting through the destination's own API.
package retention

import (
	"fmt"
	"strconv"
	"strings"
)

// Days is a retention period in whole days. Forever is a destination that keeps logs
// without limit, which is also what a destination with no retention setting does.
type Days int32

// Forever keeps logs without limit.
const Forever Days = 0

// daysPerYear follows the API's definition of a year (1y = 365d).
const daysPerYear = 365

// Parse reads a policy's retention: a whole number of days (90d) or years (1y).
func Parse(s string) (Days, error) {
	if len(s) < 2 {
		return 0, fmt.Errorf("retention %q must be a whole number of days or years, such as 30d or 1y", s)
	}
	n, err := strconv.ParseInt(s[:len(s)-1], 10, 32)
	if err != nil || n < 1 || strings.HasPrefix(s, "+") || strings.HasPrefix(s, "0") {
		return 0, fmt.Errorf("retention %q must be a whole number of days or years, such as 30d or 1y", s)
	}
	switch s[len(s)-1] {
	case 'd':
	case 'y':
		n *= daysPerYear
	default:
		return 0, fmt.Errorf("retention %q must end in d (days) or y (years)", s)
	}
	if n > 1<<30 {
		return 0, fmt.Errorf("retention %q is too long", s)
	}
	return Days(n), nil
}

// String is the form status reports: "90d", or "forever".
func (d Days) String() string {
	if d == Forever {
		return "forever"
	}
	return strconv.Itoa(int(d)) + "d"
}

// Shorter reports whether d keeps logs for less time than o.
func (d Days) Shorter(o Days) bool {
	switch {
	case d == Forever:
		return false
	case o == Forever:
		return true
	}
	return d < o
}
