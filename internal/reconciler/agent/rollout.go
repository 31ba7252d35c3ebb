package agent

import (
	"sync"
	"time"
)

// Rollouts paces the configuration rollouts of agents in Restart mode: each new
// configuration hash on the pod template restarts every agent pod, so a burst of
// changes (Argo CD syncing hundreds of pipelines) must not become a rollout per
// render. The first change after a quiet spell rolls out at once; later ones within
// Interval wait, and the last of them goes out when the interval has passed. The
// configuration Secrets are written at once either way.
type Rollouts struct {
	// Interval is the least time between two rollouts of one agent; zero rolls out
	// every change at once.
	Interval time.Duration
	mu       sync.Mutex
	last     map[string]rollout
}

// rollout is the hash last put on an agent's pod template, and when.
type rollout struct {
	hash string
	at   time.Time
}

// TemplateHash returns the configuration hash the agent's pod template gets now —
// want, or the one last put there while a rollout must wait — and how long until
// want may go out. live is the running DaemonSet's hash ("" when there is none); it
// matters only until this process has put a hash there itself, since the cache may
// lag behind its own writes.
func (r *Rollouts) TemplateHash(agent, want, live string, now time.Time) (hash string, wait time.Duration) {
	if r == nil || r.Interval <= 0 {
		return want, 0
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.last == nil {
		r.last = map[string]rollout{}
	}
	last, known := r.last[agent]
	switch {
	case !known && (live == "" || live == want):
		// A new DaemonSet, or one already current: no pod restarts for it.
		r.last[agent] = rollout{hash: want}
		return want, 0
	case known && want == last.hash:
		return want, 0
	case known && now.Sub(last.at) < r.Interval:
		return last.hash, r.Interval - now.Sub(last.at)
	}
	r.last[agent] = rollout{hash: want, at: now}
	return want, 0
}

// Put records that hash went on the agent's pod template now, outside pacing (a
// rollback), so that pacing never puts back the hash it replaced.
func (r *Rollouts) Put(agent, hash string, now time.Time) {
	if r == nil || r.Interval <= 0 {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.last == nil {
		r.last = map[string]rollout{}
	}
	r.last[agent] = rollout{hash: hash, at: now}
}
