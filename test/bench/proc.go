package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// userHZ is the unit of utime and stime in /proc/<pid>/stat; Linux fixes it at 100 for
// user space whatever the kernel's own tick rate.
const userHZ = 100

// Idle means using less than idleFraction of one core over idleWindow.
const (
	idleWindow   = 2 * time.Second
	idleFraction = 0.02
	sampleEvery  = 100 * time.Millisecond
)

// cpuSample is the process's cumulative CPU time at a moment.
type cpuSample struct {
	At  time.Time
	CPU time.Duration
}

// procStat reads utime+stime from /proc/<pid>/stat.
func procStat(pid int) (time.Duration, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	return parseStat(data)
}

// parseStat reads utime (field 14) and stime (field 15). The command name (field 2)
// is in parentheses and may hold spaces, so fields are counted after its last ')'.
func parseStat(data []byte) (time.Duration, error) {
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return 0, errors.New("malformed /proc stat: no ')'")
	}
	f := strings.Fields(string(data[i+1:]))
	if len(f) < 13 {
		return 0, errors.New("malformed /proc stat: too few fields")
	}
	var ticks int64
	for _, s := range f[11:13] {
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("malformed /proc stat: %w", err)
		}
		ticks += v
	}
	return time.Duration(ticks) * time.Second / userHZ, nil
}

// peakRSS reads VmHWM, the resident set's high-water mark, in bytes.
func peakRSS(pid int) (int64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	return parseHWM(data)
}

func parseHWM(data []byte) (int64, error) {
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			f := strings.Fields(rest)
			if len(f) != 2 || f[1] != "kB" {
				return 0, fmt.Errorf("malformed VmHWM line %q", line)
			}
			kb, err := strconv.ParseInt(f[0], 10, 64)
			if err != nil {
				return 0, err
			}
			return kb * 1024, nil
		}
	}
	return 0, errors.New("no VmHWM in /proc status")
}

// sampler records one process's CPU time every sampleEvery and its peak RSS, until
// the process ends or stop is called. Peak RSS must be read while the process lives.
type sampler struct {
	pid     int
	mu      sync.Mutex
	samples []cpuSample
	hwm     int64
	cancel  context.CancelFunc
	done    chan struct{}
}

func startSampler(pid int) *sampler {
	ctx, cancel := context.WithCancel(context.Background())
	s := &sampler{pid: pid, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		t := time.NewTicker(sampleEvery)
		defer t.Stop()
		for {
			if !s.sample() {
				return
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return s
}

// sample takes one sample; false once the process is gone.
func (s *sampler) sample() bool {
	now := time.Now()
	cpu, err := procStat(s.pid)
	if err != nil {
		return false
	}
	hwm, err := peakRSS(s.pid)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.samples = append(s.samples, cpuSample{At: now, CPU: cpu})
	if err == nil && hwm > s.hwm {
		s.hwm = hwm
	}
	return true
}

func (s *sampler) stop() {
	s.cancel()
	<-s.done
}

// snapshot returns the samples so far and the peak RSS.
func (s *sampler) snapshot() ([]cpuSample, int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]cpuSample(nil), s.samples...), s.hwm
}

// cpuAt is the CPU time of the last sample at or before t (the first sample when t
// precedes them all).
func cpuAt(samples []cpuSample, t time.Time) time.Duration {
	var c time.Duration
	for i, s := range samples {
		if i > 0 && s.At.After(t) {
			break
		}
		c = s.CPU
	}
	return c
}

// idleSince finds the earliest sample at or after from that starts a window of at
// least window during which the process used less than fraction of a core. It returns
// the window's start (when the process went idle) and end (when that became known).
func idleSince(samples []cpuSample, from time.Time, window time.Duration, fraction float64) (start, known time.Time, ok bool) {
	j := 0
	for i, a := range samples {
		if a.At.Before(from) {
			continue
		}
		if j < i {
			j = i
		}
		for j < len(samples) && samples[j].At.Sub(a.At) < window {
			j++
		}
		if j == len(samples) {
			return time.Time{}, time.Time{}, false
		}
		b := samples[j]
		if float64(b.CPU-a.CPU) < fraction*float64(b.At.Sub(a.At)) {
			return a.At, b.At, true
		}
	}
	return time.Time{}, time.Time{}, false
}

// waitIdle waits until the process has been idle for a window that starts at or after
// from, and returns when it went idle and when that was known.
func (s *sampler) waitIdle(ctx context.Context, from time.Time, timeout time.Duration) (start, known time.Time, err error) {
	deadline := time.After(timeout)
	for {
		samples, _ := s.snapshot()
		if start, known, ok := idleSince(samples, from, idleWindow, idleFraction); ok {
			return start, known, nil
		}
		select {
		case <-s.done:
			return time.Time{}, time.Time{}, errors.New("the operator exited")
		case <-ctx.Done():
			return time.Time{}, time.Time{}, ctx.Err()
		case <-deadline:
			return time.Time{}, time.Time{}, fmt.Errorf("the operator was not idle within %v", timeout)
		case <-time.After(sampleEvery):
		}
	}
}
