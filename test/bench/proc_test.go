package main

import (
	"testing"
	"time"
)

func TestParseStat(t *testing.T) {
	cases := []struct {
		name string
		stat string
		want time.Duration
		err  bool
	}{
		{"plain", "1234 (logplane) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 37 0 0 20 0 8 0 100 1000 200", 2870 * time.Millisecond, false},
		// The command name may hold spaces and parentheses; fields count after the last ')'.
		{"odd command name", "1234 (a) b (c) S 1 1234 1234 0 -1 4194560 100 0 0 0 3 4 0 0 20 0 8", 70 * time.Millisecond, false},
		{"truncated", "1234 (x) S 1 2", 0, true},
		{"no command", "1234 x S", 0, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := parseStat([]byte(c.stat))
			if (err != nil) != c.err || got != c.want {
				t.Errorf("got %v, %v; want %v, error %v", got, err, c.want, c.err)
			}
		})
	}
}

func TestParseHWM(t *testing.T) {
	got, err := parseHWM([]byte("Name:\tlogplane\nVmPeak:\t 1000 kB\nVmHWM:\t   61952 kB\nVmRSS:\t 50000 kB\n"))
	if err != nil || got != 61952*1024 {
		t.Errorf("got %d, %v", got, err)
	}
	if _, err := parseHWM([]byte("Name:\tx\n")); err == nil {
		t.Error("want an error without VmHWM")
	}
}

// series builds samples every 100ms from cumulative CPU milliseconds.
func series(start time.Time, cpuMs ...int) []cpuSample {
	out := make([]cpuSample, len(cpuMs))
	for i, c := range cpuMs {
		out[i] = cpuSample{At: start.Add(time.Duration(i) * 100 * time.Millisecond), CPU: time.Duration(c) * time.Millisecond}
	}
	return out
}

func repeat(v, n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = v
	}
	return out
}

func TestIdleSince(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	ramp := []int{0, 100, 200, 300, 400} // busy: a full core for 0.4s
	cases := []struct {
		name    string
		cpu     []int
		from    time.Duration
		ok      bool
		start   time.Duration
		knownAt time.Duration
	}{
		{"idle from the first sample", repeat(0, 25), 0, true, 0, 2 * time.Second},
		{"busy, then idle", append(ramp, repeat(400, 25)...), 0, true, 400 * time.Millisecond, 2400 * time.Millisecond},
		{"not long enough yet", append(ramp, repeat(400, 15)...), 0, false, 0, 0},
		// 30ms over 2s is 1.5%: idle. 50ms is 2.5%: not.
		{"slow trickle below 2%", []int{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 30}, 0, true, 0, 2 * time.Second},
		{"slow trickle above 2%", []int{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 50}, 0, false, 0, 0},
		{"window starts no earlier than from", repeat(0, 40), time.Second, true, time.Second, 3 * time.Second},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			start, known, ok := idleSince(series(t0, c.cpu...), t0.Add(c.from), idleWindow, idleFraction)
			if ok != c.ok {
				t.Fatalf("ok = %v, want %v", ok, c.ok)
			}
			if ok && (!start.Equal(t0.Add(c.start)) || !known.Equal(t0.Add(c.knownAt))) {
				t.Errorf("idle from %v (known %v), want %v (known %v)", start.Sub(t0), known.Sub(t0), c.start, c.knownAt)
			}
		})
	}
}

func TestCPUAt(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s := series(t0, 10, 20, 30)
	for _, c := range []struct {
		at   time.Duration
		want time.Duration
	}{{-time.Second, 10 * time.Millisecond}, {0, 10 * time.Millisecond}, {150 * time.Millisecond, 20 * time.Millisecond}, {time.Hour, 30 * time.Millisecond}} {
		if got := cpuAt(s, t0.Add(c.at)); got != c.want {
			t.Errorf("cpuAt(%v) = %v, want %v", c.at, got, c.want)
		}
	}
}
