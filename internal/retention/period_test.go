package retention

import (
	"testing"
)

func TestParse(t *testing.T) {
	cases := []struct {
		in      string
		want    Days
		wantErr bool
	}{
		{"1d", 1, false},
		{"30d", 30, false},
		{"90d", 90, false},
		{"1y", 365, false},
		{"5y", 1825, false},
		{"99999d", 99999, false},
		{"99y", 36135, false},
		{"0d", 0, true},
		{"01d", 0, true},
		{"+1d", 0, true},
		{"-1d", 0, true},
		{"1w", 0, true},
		{"d", 0, true},
		{"", 0, true},
		{"1.5y", 0, true},
		{"30", 0, true},
		{"9999999999d", 0, true},
	}
	for _, c := range cases {
		got, err := Parse(c.in)
		if (err != nil) != c.wantErr || got != c.want {
			t.Errorf("Parse(%q) = %v, %v; want %v, error %v", c.in, got, err, c.want, c.wantErr)
		}
	}
}

// FuzzParse: whatever the input, a parsed retention is positive and prints back to a
// value Parse reads as the same number of days.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"30d", "1y", "0d", "99y", "1e3d", " 1d"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := Parse(s)
		if err != nil {
			return
		}
		if d <= 0 {
			t.Fatalf("Parse(%q) = %d", s, d)
		}
		again, err := Parse(d.String())
		if err != nil || again != d {
			t.Fatalf("Parse(%q) = %v, but %q reads back as %v, %v", s, d, d.String(), again, err)
		}
	})
}

func TestDaysShorter(t *testing.T) {
	cases := []struct {
		a, b Days
		want bool
	}{
		{30, 90, true},
		{90, 30, false},
		{30, 30, false},
		{30, Forever, true},
		{Forever, 30, false},
		{Forever, Forever, false},
	}
	for _, c := range cases {
		if got := c.a.Shorter(c.b); got != c.want {
			t.Errorf("%v.Shorter(%v) = %v, want %v", c.a, c.b, got, c.want)
		}
	}
}

func TestCloudWatchRetention(t *testing.T) {
	cases := []struct {
		requested, want Days
	}{
		{1, 1},
		{2, 3},
		{30, 30},
		{31, 60},
		{90, 90},
		{365, 365},
		{366, 400},
		{730, 731},      // 2y
		{1825, 1827},    // 5y: the audit class
		{3653, 3653},    // the longest value
		{3654, Forever}, // beyond it only "never expire" keeps logs long enough
		{36135, Forever},
		{Forever, Forever},
	}
	for _, c := range cases {
		if got := CloudWatchRetention(c.requested); got != c.want {
			t.Errorf("CloudWatchRetention(%v) = %v, want %v", c.requested, got, c.want)
		}
	}
}

func TestDecide(t *testing.T) {
	cases := []struct {
		name      string
		now       Observed
		effective Days
		allow     bool
		wantState string
		wantApply bool
	}{
		{"already enforced", Observed{Days: 30}, 30, false, "Enforced", false},
		{"enforced but stale shape is rewritten", Observed{Days: 30, Stale: true}, 30, false, "Enforced", true},
		// Forever to any limit deletes what is older: the attack of issue 19 item 5, a
		// CloudWatch group with no retention and a 30-day policy.
		{"forever to a limit is shortening, blocked", Observed{Days: Forever}, 30, false, "ShorteningBlocked", false},
		{"forever to a limit with allowShortening", Observed{Days: Forever}, 30, true, "Enforced", true},
		{"a destination that does not exist yet holds nothing", Observed{Days: Forever, Empty: true}, 30, false, "Enforced", true},
		{"longer is applied", Observed{Days: 30}, 90, false, "Enforced", true},
		{"longer up to forever is applied", Observed{Days: 3653}, Forever, false, "Enforced", true},
		{"shorter is blocked", Observed{Days: 365}, 30, false, "ShorteningBlocked", false},
		{"shorter is blocked even when stale", Observed{Days: 365, Stale: true}, 30, false, "ShorteningBlocked", false},
		{"shorter with allowShortening is applied", Observed{Days: 365}, 30, true, "Enforced", true},
		{"forever to forever", Observed{Days: Forever}, Forever, false, "Enforced", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := Decide(c.now, c.effective, c.allow)
			if string(d.State) != c.wantState || d.Apply != c.wantApply || d.Current != c.now.Days || d.Effective != c.effective {
				t.Errorf("Decide(%+v, %v, %v) = %+v; want state %s, apply %v", c.now, c.effective, c.allow, d, c.wantState, c.wantApply)
			}
		})
	}
}

func TestParseAge(t *testing.T) {
	cases := []struct {
		in      string
		want    Days
		wantErr bool
	}{
		{"30d", 30, false},
		{"0d", 1, false},
		{"24h", 1, false},
		{"25h", 2, false}, // rounded up: never read an edited value as shorter
		{"1440m", 1, false},
		{"86400s", 1, false},
		{"86400001ms", 2, false},
		{"30", 0, true},
		{"-1d", 0, true},
		{"1.5d", 0, true},
		{"9223372036854775807s", 0, true}, // would overflow when rounded up
		{"1073741824d", 1 << 30, false},
	}
	for _, c := range cases {
		got, err := parseAge(c.in)
		if (err != nil) != c.wantErr || got != c.want {
			t.Errorf("parseAge(%q) = %v, %v; want %v, error %v", c.in, got, err, c.want, c.wantErr)
		}
	}
}

// FuzzParseAge: ages read from a destination's stored policy (which anyone may have
// edited) never panic, and a readable one is at least a day.
func FuzzParseAge(f *testing.F) {
	for _, s := range []string{"30d", "25h", "0ms", "9223372036854775807s", "-1d", "d"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := parseAge(s)
		if err == nil && d < 1 {
			t.Fatalf("parseAge(%q) = %d", s, d)
		}
	})
}
