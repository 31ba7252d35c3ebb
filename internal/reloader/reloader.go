// Package reloader is `logplane reloader`, which runs beside Fluent Bit in HotReload
// mode: when the kubelet swaps the mounted configuration Secret, it waits for the
// swaps to settle, asks Fluent Bit to reload, and restarts Fluent Bit when the reload
// fails or hangs — a stale configuration must never stay in place silently.
package reloader

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"time"

	"github.com/fsnotify/fsnotify"
	"github.com/go-logr/logr"
)

// Options configure the reloader.
type Options struct {
	// ConfigDir is the mounted Secret directory; the kubelet updates it by swapping
	// its "..data" symlink atomically.
	ConfigDir string
	// ReloadURL is Fluent Bit's reload endpoint.
	ReloadURL string
	// Debounce is how long swaps must stop before reloading, so a burst of changes
	// costs one reload.
	Debounce time.Duration
	// Timeout bounds one reload: Fluent Bit waits for pending chunks before it
	// reloads, which can block for long during an output outage.
	Timeout time.Duration
}

// Restarter restarts Fluent Bit when a reload does not work.
type Restarter interface {
	Restart(ctx context.Context) error
}

// Reloader reacts to configuration swaps.
type Reloader struct {
	opts    Options
	client  *http.Client
	restart Restarter
	log     logr.Logger
	// reloaded receives one value per finished attempt, for tests.
	reloaded chan error
}

// New returns a reloader.
func New(opts Options, restart Restarter, log logr.Logger) *Reloader {
	return &Reloader{opts: opts, client: &http.Client{Timeout: opts.Timeout}, restart: restart, log: log}
}

// Run watches until ctx ends.
func (r *Reloader) Run(ctx context.Context) error {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("failed to watch: %w", err)
	}
	defer w.Close()
	if err := w.Add(r.opts.ConfigDir); err != nil {
		return fmt.Errorf("failed to watch %s: %w", r.opts.ConfigDir, err)
	}
	var settle <-chan time.Time
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
			err := r.reload(ctx)
			if err != nil {
				r.log.Error(err, "hot reload failed; restarting Fluent Bit")
				if rerr := r.restart.Restart(ctx); rerr != nil {
					return fmt.Errorf("reload failed (%v) and restart failed: %w", err, rerr)
				}
			} else {
				r.log.Info("configuration reloaded")
			}
			if r.reloaded != nil {
				r.reloaded <- err
			}
		}
	}
}

// reload asks Fluent Bit to reload and checks that it says so. Fluent Bit 5.1 ignores
// a POST without a body, so an empty one is sent.
func (r *Reloader) reload(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, r.opts.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.opts.ReloadURL, bytes.NewReader([]byte{}))
	if err != nil {
		return err
	}
	req.ContentLength = 0
	resp, err := r.client.Do(req)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("reload did not finish within %s", r.opts.Timeout)
		}
		return fmt.Errorf("reload request failed: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusCreated {
		return fmt.Errorf("reload answered %s: %s", resp.Status, bytes.TrimSpace(body))
	}
	return nil
}
