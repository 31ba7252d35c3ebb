package agent

import (
	"testing"
	"time"
)

func TestRolloutsPaceABurst(t *testing.T) {
	r := &Rollouts{Interval: 10 * time.Second}
	t0 := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	steps := []struct {
		name       string
		agent      string
		want, live string
		at         time.Duration
		wantHash   string
		wantWait   time.Duration
	}{
		{"a new DaemonSet takes the hash", "default", "h1", "", 0, "h1", 0},
		{"the first change after a quiet spell rolls out", "default", "h2", "h1", time.Second, "h2", 0},
		{"a change 3s later waits", "default", "h3", "h2", 4 * time.Second, "h2", 7 * time.Second},
		{"a cache that lags behind does not roll back", "default", "h3", "h1", 4 * time.Second, "h2", 7 * time.Second},
		{"back to the hash rolled out: nothing to wait for", "default", "h2", "h2", 5 * time.Second, "h2", 0},
		{"another agent is paced on its own", "edge", "e2", "e1", 5 * time.Second, "e2", 0},
		{"its next change waits", "edge", "e3", "e2", 6 * time.Second, "e2", 9 * time.Second},
		{"once the interval has passed, the latest goes out", "default", "h4", "h2", 11 * time.Second, "h4", 0},
		{"and the interval starts again", "default", "h5", "h4", 12 * time.Second, "h4", 9 * time.Second},
	}
	for _, s := range steps {
		hash, wait := r.TemplateHash(s.agent, s.want, s.live, t0.Add(s.at))
		if hash != s.wantHash || wait != s.wantWait {
			t.Errorf("%s: %s, wait %v; want %s, wait %v", s.name, hash, wait, s.wantHash, s.wantWait)
		}
	}
	var off *Rollouts
	if hash, wait := off.TemplateHash("default", "b", "a", t0); hash != "b" || wait != 0 {
		t.Errorf("no pacing configured: %s, %v", hash, wait)
	}
}

// A rollback puts the last healthy hash on the template outside pacing; the next
// paced change must then hold that hash, never the failed one it replaced.
func TestRolloutsRememberARollback(t *testing.T) {
	r := &Rollouts{Interval: 10 * time.Second}
	t0 := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	r.TemplateHash("default", "healthy", "", t0)
	if hash, _ := r.TemplateHash("default", "failing", "healthy", t0.Add(20*time.Second)); hash != "failing" {
		t.Fatalf("the change did not roll out: %s", hash)
	}
	r.Put("default", "healthy", t0.Add(25*time.Second))
	if hash, wait := r.TemplateHash("default", "next", "healthy", t0.Add(26*time.Second)); hash != "healthy" || wait != 9*time.Second {
		t.Errorf("after a rollback, a change within the interval holds %s (wait %v); want healthy, 9s", hash, wait)
	}
}
