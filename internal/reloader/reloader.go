// Package reloader is `logplane reloader`, which runs beside Fluent Bit in HotReload
// mode. Fluent Bit reads its configuration from a directory the reloader owns, not
// from the mounted Secret: when the kubelet swaps the Secret, the reloader waits for
// the swaps to settle, installs the new files while keeping the previous ones, asks
// Fluent Bit to reload and verifies that it did. Fluent Bit tears its old pipeline
// down before a plugin can fail to initialise, and its reload endpoint answers before
// the reload starts; so the verdict comes from hot_reload_count (raised only once the
// new pipeline runs) and from the process staying alive. When Fluent Bit refuses the
// new files, the reloader puts the previous ones back, brings Fluent Bit up on them,
// and holds the refused version back until the Secret changes again; its status
// endpoint and readiness tell the operator.
package reloader

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"
	"github.com/go-logr/logr"
)

// Options configure the reloader.
type Options struct {
	// SourceDir is the mounted Secret directory; the kubelet updates it by swapping
	// its "..data" symlink atomically.
	SourceDir string
	// RunDir is the reloader's writable directory (an emptyDir); Fluent Bit reads
	// RunDir/etc.
	RunDir string
	// Debounce is how long swaps must stop before reloading, so a burst of changes
	// costs one reload.
	Debounce time.Duration
	// Timeout bounds one reload, and one start of Fluent Bit: a reload waits for
	// pending chunks, which can take long during an output outage.
	Timeout time.Duration
	// Settle is how long Fluent Bit must keep running a new configuration before it
	// counts as applied: a plugin can fail in a worker thread just after start.
	Settle time.Duration
	// Poll is how often Fluent Bit is looked at while a verdict is pending.
	Poll time.Duration
	// StateDir is a directory of the node that outlives the pod (a hostPath); "" keeps
	// nothing there. While a version is held back, the refusal and the files Fluent
	// Bit runs instead are kept in it, so that a new pod on the node (after a reboot,
	// an eviction, a rollout for new credentials) starts Fluent Bit on those files,
	// not on the refused ones, which fail on this node the same way at start.
	StateDir string
}

// Outcome is how an attempt to apply a configuration ended.
type Outcome string

const (
	// Applied: Fluent Bit runs the configuration.
	Applied Outcome = "Applied"
	// Refused: Fluent Bit could not run it; it runs the previous one again.
	Refused Outcome = "Refused"
	// Interrupted: no verdict, because the files could not be staged or the reloader
	// is stopping; the next swap, or the reloader's next start, tries again.
	Interrupted Outcome = "Interrupted"
)

// Ways Fluent Bit refuses a configuration, in Status.Reason.
const (
	// ReasonExited: Fluent Bit 5.1.1 logs the plugin's error, then "reloading is
	// aborted and exit", and exits with code 255 about 1 s after the reload began.
	ReasonExited = "Exited"
	// ReasonHalted: Fluent Bit refused the files before stopping anything
	// ("Reloading is halted") and kept its previous pipeline running.
	ReasonHalted = "Halted"
	// ReasonNotStarted: the reload hung, and Fluent Bit, restarted on the new files,
	// did not come up on them.
	ReasonNotStarted = "NotStarted"
)

// Attempt is one try at applying a configuration.
type Attempt struct {
	Version string  `json:"version"`
	Outcome Outcome `json:"outcome"`
	// ReloadedMillis is from the reload request to hot_reload_count rising; 0 when it
	// did not.
	ReloadedMillis int64 `json:"reloadedMillis,omitempty"`
	// VerifiedMillis is from the reload request to the verdict (for an applied
	// configuration, Settle after it ran).
	VerifiedMillis int64 `json:"verifiedMillis"`
	// RestoredMillis is from the verdict of a refusal to Fluent Bit answering on the
	// previous configuration again; 0 when it never stopped.
	RestoredMillis int64 `json:"restoredMillis,omitempty"`
}

// Status is what the reloader reports to the operator on its status endpoint.
type Status struct {
	// Running is the version of the configuration Fluent Bit runs.
	Running string `json:"running"`
	// Refused is the version Fluent Bit refused, while the Secret still holds it.
	Refused string `json:"refused,omitempty"`
	// Reason (ReasonExited, ...) and Message say how it refused.
	Reason  string `json:"reason,omitempty"`
	Message string `json:"message,omitempty"`
	// AttemptedAt is when the refused attempt began: an exit of Fluent Bit since then
	// is part of the refusal, and its log has Fluent Bit's error.
	AttemptedAt *time.Time `json:"attemptedAt,omitempty"`
	// Last is the latest attempt.
	Last *Attempt `json:"last,omitempty"`
}

// Reloader applies configuration swaps to Fluent Bit.
type Reloader struct {
	opts  Options
	fb    FluentBit
	stage stage
	log   logr.Logger

	mu     sync.Mutex
	status Status
	staged bool

	// attempts receives every finished attempt, for tests.
	attempts chan Attempt
}

// New returns a reloader.
func New(opts Options, fb FluentBit, log logr.Logger) *Reloader {
	if opts.Poll == 0 {
		opts.Poll = 100 * time.Millisecond
	}
	return &Reloader{opts: opts, fb: fb, stage: stage{dir: opts.RunDir}, log: log}
}

// Status returns the current status, and whether the configuration is staged yet.
func (r *Reloader) Status() (Status, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.status
	if s.Last != nil {
		last := *s.Last
		s.Last = &last
	}
	return s, r.staged
}

// Run stages the configuration for Fluent Bit's start, then applies every swap until
// ctx ends.
func (r *Reloader) Run(ctx context.Context) error {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("failed to watch: %w", err)
	}
	defer w.Close()
	if err := w.Add(r.opts.SourceDir); err != nil {
		return fmt.Errorf("failed to watch %s: %w", r.opts.SourceDir, err)
	}
	if err := r.init(); err != nil {
		return err
	}
	// A Secret that changed while the reloader was not running is applied now.
	settle := time.After(0)
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-w.Errors:
			return fmt.Errorf("watch failed: %w", err)
		case ev := <-w.Events:
			// Only the atomic swap matters; the files beneath change through it.
			if filepath.Base(ev.Name) == "..data" && ev.Has(fsnotify.Create) {
				settle = time.After(r.opts.Debounce)
			}
		case <-settle:
			settle = nil
			r.apply(ctx)
		}
	}
}

// init makes sure Fluent Bit finds a configuration at start: the Secret's, the first
// time; after a restart of the reloader, the one Fluent Bit already runs.
func (r *Reloader) init() error {
	if !r.stage.exists() {
		files, err := readSource(r.opts.SourceDir)
		if err != nil {
			return err
		}
		if ran, saved, ok := r.heldOnNode(files.Version()); ok {
			// A new pod on a node that refused this version: what ran here instead.
			if err := r.stage.install(ran); err != nil {
				return err
			}
			r.setStaged(ran.Version())
			at := time.Time{}
			if saved.AttemptedAt != nil {
				at = *saved.AttemptedAt
			}
			msg := saved.Message
			if !strings.HasPrefix(msg, refusedBeforePrefix) {
				msg = refusedBeforePrefix + msg
			}
			r.setRefused(saved.Refused, saved.Reason, msg, at)
			r.log.Info("this node refused the mounted configuration before; staged the one that ran here instead",
				"refused", saved.Refused, "version", ran.Version())
			return nil
		}
		if err := r.stage.install(files); err != nil {
			return err
		}
		r.setStaged(files.Version())
		r.forgetOnNode()
		r.log.Info("configuration staged", "version", files.Version())
		return nil
	}
	// A previous configuration still kept means the reloader ended before its verdict:
	// go back to the one known to run, and try the new one again.
	if _, err := os.Stat(r.stage.prev()); err == nil {
		if err := r.stage.restore(); err != nil {
			return err
		}
	}
	files, err := readFiles(r.stage.etc())
	if err != nil {
		return err
	}
	r.setStaged(files.Version())
	var saved Status
	if b, err := os.ReadFile(r.statePath()); err == nil && json.Unmarshal(b, &saved) == nil && saved.Refused != "" {
		r.mu.Lock()
		r.status.Refused, r.status.Reason, r.status.Message, r.status.AttemptedAt = saved.Refused, saved.Reason, saved.Message, saved.AttemptedAt
		r.mu.Unlock()
	}
	return nil
}

func (r *Reloader) setStaged(version string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.status.Running = version
	r.staged = true
}

func (r *Reloader) statePath() string { return filepath.Join(r.opts.RunDir, "state.json") }

// apply decides what a swap asks for: nothing when the Secret holds what runs, or
// what Fluent Bit refused already; an attempt otherwise.
func (r *Reloader) apply(ctx context.Context) {
	files, err := readSource(r.opts.SourceDir)
	if err != nil {
		// The kubelet may have replaced the directory as it was read; its next swap
		// brings another event.
		r.log.Error(err, "failed to read the mounted configuration")
		return
	}
	v := files.Version()
	st, _ := r.Status()
	switch v {
	case st.Running:
		if st.Refused != "" {
			r.log.Info("the mounted configuration is back at the running one; nothing is held back any more", "version", v)
			r.setRefused("", "", "", time.Time{})
		}
		return
	case st.Refused:
		r.log.Info("the mounted configuration is the one Fluent Bit refused; keeping the previous one", "version", v)
		return
	}
	a := r.attempt(ctx, files, v)
	r.mu.Lock()
	r.status.Last = &a
	r.mu.Unlock()
	if r.attempts != nil {
		r.attempts <- a
	}
}

// attempt installs files, has Fluent Bit reload them and judges the result.
func (r *Reloader) attempt(ctx context.Context, files Files, v string) Attempt {
	pid0, p0 := r.fb.PID(), r.fb.Probe(ctx)
	if err := r.stage.install(files); err != nil {
		r.log.Error(err, "failed to stage the new configuration")
		return Attempt{Version: v, Outcome: Interrupted}
	}
	if pid0 == 0 || !p0.Up {
		// No pipeline runs to protect: Fluent Bit is starting or restarting, and reads
		// the new files when it does.
		r.applied(v)
		r.log.Info("configuration staged for Fluent Bit's next start", "version", v)
		return Attempt{Version: v, Outcome: Applied}
	}
	began := time.Now()
	rctx, cancel := context.WithTimeout(ctx, r.opts.Timeout)
	if err := r.fb.Reload(rctx); err != nil {
		// The verdict comes from what Fluent Bit does, not from this answer.
		r.log.Error(err, "reload request failed")
	}
	cancel()
	verdict, reloaded := r.verifyReload(ctx, pid0, p0, began)
	if ctx.Err() != nil {
		// Stopping: prev/ stays, and the next start goes back to it (see init).
		return Attempt{Version: v, Outcome: Interrupted}
	}
	if verdict == hung {
		// Neither done nor failed: a reload waits for pending chunks, which an output
		// outage can make endless. A start proves the files as well as a reload.
		r.log.Info("reload did not finish; restarting Fluent Bit on the new configuration", "timeout", r.opts.Timeout)
		if err := r.fb.Terminate(pid0); err != nil {
			r.log.Error(err, "failed to restart Fluent Bit")
		}
		_, ok := r.awaitStart(ctx, pid0)
		switch {
		case ctx.Err() != nil:
			return Attempt{Version: v, Outcome: Interrupted}
		case ok:
			verdict = done
		default:
			verdict = notStarted
		}
	}
	a := Attempt{Version: v, ReloadedMillis: reloaded.Milliseconds(), VerifiedMillis: time.Since(began).Milliseconds()}
	if verdict == done {
		r.applied(v)
		a.Outcome = Applied
		r.log.Info("configuration reloaded and verified", "version", v, "reloadedMillis", a.ReloadedMillis, "verifiedMillis", a.VerifiedMillis)
		return a
	}
	a.Outcome = Refused
	a.RestoredMillis = r.refuse(ctx, v, verdict, pid0, began)
	return a
}

type verdict int

const (
	done verdict = iota
	exited
	halted
	hung
	notStarted
)

// verifyReload watches Fluent Bit after a reload request until it knows how the
// reload ended, and how long hot_reload_count took to rise.
func (r *Reloader) verifyReload(ctx context.Context, pid0 int, p0 Probe, began time.Time) (verdict, time.Duration) {
	var reloaded time.Duration
	for time.Since(began) < r.opts.Timeout {
		if !sleep(ctx, r.opts.Poll) {
			return hung, reloaded
		}
		// An exit during the reload is Fluent Bit's way to refuse: the new pipeline
		// failed to start and the old one was already gone.
		if r.fb.PID() != pid0 {
			return exited, reloaded
		}
		if reloaded > 0 {
			if time.Since(began)-reloaded >= r.opts.Settle {
				return done, reloaded
			}
			continue
		}
		if p := r.fb.Probe(ctx); p.Up && p.Count > p0.Count {
			reloaded = time.Since(began)
		}
	}
	if reloaded > 0 {
		return done, reloaded
	}
	// Still the same process, answering with the same count, and its uptime never
	// started again: the old pipeline ran on and the new files were never loaded.
	p := r.fb.Probe(ctx)
	if p.Up && p.Count == p0.Count && p.Uptime >= p0.Uptime+int64(time.Since(began).Seconds())-1 {
		return halted, 0
	}
	return hung, 0
}

// awaitStart waits for a Fluent Bit other than old to answer and keep answering for
// Settle; it returns when that process first answered.
func (r *Reloader) awaitStart(ctx context.Context, old int) (time.Time, bool) {
	deadline := time.Now().Add(r.opts.Timeout)
	var cur int
	var upSince time.Time
	for time.Now().Before(deadline) {
		pid := r.fb.PID()
		switch {
		case pid == 0 || pid == old:
			cur, upSince = 0, time.Time{}
		case pid != cur:
			cur, upSince = pid, time.Time{}
		case !r.fb.Probe(ctx).Up:
			upSince = time.Time{}
		case upSince.IsZero():
			upSince = time.Now()
		case time.Since(upSince) >= r.opts.Settle:
			return upSince, true
		}
		if !sleep(ctx, r.opts.Poll) {
			return time.Time{}, false
		}
	}
	return time.Time{}, false
}

// refuse puts the previous configuration back and brings Fluent Bit up on it; it
// returns how long that took (0 when Fluent Bit never stopped running it).
func (r *Reloader) refuse(ctx context.Context, v string, why verdict, pid0 int, attempted time.Time) int64 {
	began := time.Now()
	if err := r.stage.restore(); err != nil {
		r.log.Error(err, "failed to restore the previous configuration")
	}
	msg := map[verdict]string{
		exited:     "Fluent Bit exited while reloading it: a plugin failed to initialise (the fluent-bit container's last termination message has Fluent Bit's error)",
		halted:     fmt.Sprintf("Fluent Bit did not load it: hot_reload_count did not rise within %s and the previous pipeline kept running", r.opts.Timeout),
		notStarted: fmt.Sprintf("the reload did not finish within %s, and Fluent Bit restarted on it did not keep running", r.opts.Timeout),
	}[why]
	reason := map[verdict]string{exited: ReasonExited, halted: ReasonHalted, notStarted: ReasonNotStarted}[why]
	r.setRefused(v, reason, msg, attempted)
	r.log.Info("Fluent Bit refused the new configuration; restored the previous one", "version", v, "reason", reason, "message", msg)
	if why == halted {
		return 0
	}
	// Whatever Fluent Bit runs now started before the restore (the kubelet can be
	// quicker than the poll) and read either the refused files, on which it fails at
	// start as it failed the reload and ends by itself, or the restored ones, on which
	// it runs. Either way it is left alone: ending it would make it exit with code 0,
	// and the kubelet keeps Fluent Bit's error only for an error exit. Only a process
	// that neither ends nor serves within Timeout is ended.
	up, ok := r.awaitStart(ctx, pid0)
	if pid := r.fb.PID(); !ok && pid != 0 {
		r.log.Info("Fluent Bit neither ends nor serves; restarting it on the restored configuration", "waited", r.opts.Timeout)
		if err := r.fb.Terminate(pid); err != nil {
			r.log.Error(err, "failed to restart Fluent Bit")
		}
		up, ok = r.awaitStart(ctx, pid)
	}
	if !ok {
		r.log.Info("Fluent Bit is not running the restored configuration yet", "waited", r.opts.Timeout)
		return time.Since(began).Milliseconds()
	}
	ms := up.Sub(began).Milliseconds()
	r.log.Info("Fluent Bit runs the previous configuration again", "restoredMillis", ms, "settledMillis", time.Since(began).Milliseconds())
	return ms
}

func (r *Reloader) applied(v string) {
	if err := r.stage.commit(); err != nil {
		r.log.Error(err, "failed to drop the previous configuration")
	}
	r.mu.Lock()
	r.status.Running = v
	r.mu.Unlock()
	r.setRefused("", "", "", time.Time{})
}

// setRefused records the refused version, on disk too, so that a restarted reloader
// does not try it again.
func (r *Reloader) setRefused(v, reason, msg string, at time.Time) {
	r.mu.Lock()
	r.status.Refused, r.status.Reason, r.status.Message, r.status.AttemptedAt = v, reason, msg, nil
	if v != "" {
		at := at.UTC().Truncate(time.Millisecond)
		r.status.AttemptedAt = &at
	}
	saved := r.status
	saved.Running, saved.Last = "", nil
	r.mu.Unlock()
	b, _ := json.Marshal(saved)
	if err := os.WriteFile(r.statePath(), b, 0o644); err != nil && !errors.Is(err, os.ErrNotExist) {
		r.log.Error(err, "failed to save the reloader's state")
	}
	if v == "" {
		r.forgetOnNode()
		return
	}
	if err := r.keepOnNode(b); err != nil {
		r.log.Error(err, "failed to keep the refusal on the node; a new pod here would start on the refused configuration")
	}
}

// refusedBeforePrefix marks a refusal a new pod found on its node: Fluent Bit's own
// error was in the termination message of the earlier pod, not of this one.
const refusedBeforePrefix = "refused on this node by an earlier agent pod: "

// The node's copy (Options.StateDir): ran/ holds the files Fluent Bit runs while a
// version is held back, refused.json the refusal. The files go first and the refusal
// last, and the refusal goes first when it is over, so a refusal on the node always
// has its files.
func (r *Reloader) nodeRan() stage          { return stage{dir: filepath.Join(r.opts.StateDir, "ran")} }
func (r *Reloader) nodeRefusalPath() string { return filepath.Join(r.opts.StateDir, "refused.json") }

// keepOnNode saves the refusal (state, as JSON) and the files etc/ holds now, the
// restored ones.
func (r *Reloader) keepOnNode(state []byte) error {
	if r.opts.StateDir == "" {
		return nil
	}
	files, err := readFiles(r.stage.etc())
	if err != nil {
		return err
	}
	if err := os.MkdirAll(r.nodeRan().dir, 0o700); err != nil {
		return err
	}
	if err := r.nodeRan().install(files); err != nil {
		return err
	}
	if err := r.nodeRan().commit(); err != nil {
		return err
	}
	tmp := r.nodeRefusalPath() + ".tmp"
	if err := os.WriteFile(tmp, state, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, r.nodeRefusalPath())
}

// forgetOnNode drops the node's refusal: nothing is held back any more.
func (r *Reloader) forgetOnNode() {
	if r.opts.StateDir == "" {
		return
	}
	if err := os.Remove(r.nodeRefusalPath()); err != nil && !errors.Is(err, os.ErrNotExist) {
		r.log.Error(err, "failed to clear the refusal kept on the node")
	}
}

// heldOnNode returns what ran on this node instead of version v, when the node
// refused v.
func (r *Reloader) heldOnNode(v string) (Files, Status, bool) {
	if r.opts.StateDir == "" {
		return nil, Status{}, false
	}
	var saved Status
	b, err := os.ReadFile(r.nodeRefusalPath())
	if err != nil || json.Unmarshal(b, &saved) != nil || saved.Refused != v {
		return nil, Status{}, false
	}
	ran, err := readFiles(r.nodeRan().etc())
	if err != nil {
		r.log.Error(err, "the node refused the mounted configuration, but the files that ran instead are unreadable; staging it")
		return nil, Status{}, false
	}
	return ran, saved, true
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
