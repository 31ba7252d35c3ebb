package apply

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Memo skips applies that would change nothing: an object is applied again only when
// what logplane wants of it changed, when someone else changed or deleted it since
// (Confirm), or when the last apply is older than TTL — which repairs drift in objects no watch covers. A
// no-op server-side apply writes nothing to etcd but is still a request the API
// server must decode, merge and answer; a resync of every agent should cost none.
type Memo struct {
	// TTL bounds how long an apply is trusted without a watch confirming it.
	TTL time.Duration
	Now func() time.Time

	mu      sync.Mutex
	applied map[memoKey]memoEntry
}

type memoKey struct{ kind, namespace, name string }

type memoEntry struct {
	hash            [sha256.Size]byte
	resourceVersion string
	at              time.Time
}

// NewMemo returns an empty memo.
func NewMemo(ttl time.Duration) *Memo {
	return &Memo{TTL: ttl, Now: time.Now, applied: map[memoKey]memoEntry{}}
}

// Apply applies obj unless the memo knows it already holds exactly this.
func (m *Memo) Apply(ctx context.Context, c client.Client, obj client.Object) error {
	data, err := json.Marshal(obj)
	if err != nil {
		return fmt.Errorf("failed to encode %T: %w", obj, err)
	}
	key := memoKey{obj.GetObjectKind().GroupVersionKind().Kind, obj.GetNamespace(), obj.GetName()}
	hash, now := sha256.Sum256(data), m.Now()
	m.mu.Lock()
	e, ok := m.applied[key]
	m.mu.Unlock()
	if ok && e.hash == hash && now.Sub(e.at) < m.TTL {
		return nil
	}
	rv, err := apply(ctx, c, obj)
	if err != nil {
		m.Forget(key.kind, key.namespace, key.name)
		return err
	}
	m.mu.Lock()
	m.applied[key] = memoEntry{hash: hash, resourceVersion: rv, at: now}
	m.mu.Unlock()
	return nil
}

// Confirm checks the memo against what the cluster holds now: unless the object
// exists at the resourceVersion logplane's own apply left, the next Apply of it goes
// to the API server again (someone edited or deleted it).
func (m *Memo) Confirm(kind, namespace, name, resourceVersion string, exists bool) {
	key := memoKey{kind, namespace, name}
	m.mu.Lock()
	defer m.mu.Unlock()
	if e, ok := m.applied[key]; ok && (!exists || e.resourceVersion != resourceVersion) {
		delete(m.applied, key)
	}
}

// Forget makes the next Apply of the object go to the API server.
func (m *Memo) Forget(kind, namespace, name string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.applied, memoKey{kind, namespace, name})
}
