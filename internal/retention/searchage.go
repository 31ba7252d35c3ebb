package retention

import (
	"errors"
	"strconv"
	"strings"
)

// ageString is an Elasticsearch/OpenSearch time value for d days.
func ageString(d Days) string { return strconv.Itoa(int(d)) + "d" }

// parseAge reads an age from a delete phase that may have been edited by hand: days,
// or hours, minutes and seconds rounded up to whole days, so that an edited value is
// never read as shorter than it is (reading it longer only makes logplane more careful).
func parseAge(s string) (Days, error) {
	units := []struct {
		suffix string
		per    int64 // of this unit in a day
	}{{"ms", 86_400_000}, {"d", 1}, {"h", 24}, {"m", 1440}, {"s", 86_400}}
	for _, u := range units {
		num, ok := strings.CutSuffix(s, u.suffix)
		if !ok {
			continue
		}
		n, err := strconv.ParseInt(num, 10, 64)
		if err != nil || n < 0 || n/u.per > 1<<30 {
			break
		}
		return Days(max((n+u.per-1)/u.per, 1)), nil
	}
	return 0, errors.New("an age in the policy is not a number of days or hours") // not the destination's text
}
