package apply

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// AnnotationApplied carries, on every object applied through a Memo, the hash of
// what was applied. A new operator process reads it to learn that an object already
// holds what it wants, so a restart writes nothing.
const AnnotationApplied = "logging.logplane.dev/applied-hash"

// Memo skips applies that would change nothing: an object is applied again only when
// what logplane wants of it changed, when someone else changed or deleted it since
// (Confirm), or when the last apply is older than TTL — which repairs drift in objects no watch covers. A
// no-op server-side apply writes nothing to etcd but is still a request the API
// server must decode, merge and answer; a resync of every agent should cost none.
type Memo struct {
	// TTL bounds how long an apply is trusted without a watch confirming it.
	TTL time.Duration
	Now func() time.Time
	// Live, when set, reads the metadata of an object the memo has no entry for (after
	// a restart), and an object whose AnnotationApplied matches is not applied again.
	// Changes made by others while no operator ran are repaired within TTL.
	Live client.Reader

	mu      sync.Mutex
	applied map[memoKey]memoEntry
}

type memoKey struct{ kind, namespace, name string }

type memoEntry struct {
	hash            [sha256.Size]byte
	resourceVersion string
	at              time.Time
}

// NewMemo returns an empty memo; live may be nil (see Memo.Live).
func NewMemo(ttl time.Duration, live client.Reader) *Memo {
	return &Memo{TTL: ttl, Now: time.Now, Live: live, applied: map[memoKey]memoEntry{}}
}

// Apply applies obj unless the memo knows it already holds exactly this. It sets
// AnnotationApplied on obj.
func (m *Memo) Apply(ctx context.Context, c client.Client, obj client.Object) error {
	if a := obj.GetAnnotations(); a[AnnotationApplied] != "" {
		delete(a, AnnotationApplied) // the hash is of the object without it
	}
	data, err := json.Marshal(obj)
	if err != nil {
		return fmt.Errorf("failed to encode %T: %w", obj, err)
	}
	key := memoKey{obj.GetObjectKind().GroupVersionKind().Kind, obj.GetNamespace(), obj.GetName()}
	hash, now := sha256.Sum256(data), m.Now()
	annotations := obj.GetAnnotations()
	if annotations == nil {
		annotations = map[string]string{}
	}
	annotations[AnnotationApplied] = hex.EncodeToString(hash[:])
	obj.SetAnnotations(annotations)
	m.mu.Lock()
	e, ok := m.applied[key]
	m.mu.Unlock()
	if !ok {
		e, ok = m.seed(ctx, key, obj, annotations[AnnotationApplied], hash, now)
	}
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

// seed recognises an object a previous operator process applied with the same hash,
// and remembers it as applied now.
func (m *Memo) seed(ctx context.Context, key memoKey, obj client.Object, want string, hash [sha256.Size]byte, now time.Time) (memoEntry, bool) {
	if m.Live == nil {
		return memoEntry{}, false
	}
	live := &metav1.PartialObjectMetadata{}
	live.SetGroupVersionKind(obj.GetObjectKind().GroupVersionKind())
	if err := m.Live.Get(ctx, client.ObjectKeyFromObject(obj), live); err != nil || live.Annotations[AnnotationApplied] != want {
		return memoEntry{}, false // absent, unreadable or different: apply
	}
	e := memoEntry{hash: hash, resourceVersion: live.ResourceVersion, at: now}
	m.mu.Lock()
	m.applied[key] = e
	m.mu.Unlock()
	return e, true
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
