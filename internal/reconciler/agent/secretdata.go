package agent

import (
	"context"
	"sync"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// SecretData keeps the referenced Secrets' data between reconciles, and reads a
// Secret again only when the metadata cache (which watches every Secret but holds no
// data) shows a resourceVersion other than the one kept. Only Secrets that outputs
// refer to are kept, so memory follows the configuration, not the cluster; a render
// of thousands of outputs costs no Secret reads when none changed.
type SecretData struct {
	// Meta reads Secret metadata from the manager's cache.
	Meta client.Reader
	// Live reads a Secret from the API server.
	Live client.Reader

	mu   sync.Mutex
	kept map[client.ObjectKey]*corev1.Secret
}

// NewSecretData returns an empty store.
func NewSecretData(meta, live client.Reader) *SecretData {
	return &SecretData{Meta: meta, Live: live, kept: map[client.ObjectKey]*corev1.Secret{}}
}

// Get reads the Secret at key into s, from what is kept when it is current.
func (d *SecretData) Get(ctx context.Context, key client.ObjectKey, s *corev1.Secret) error {
	m := &metav1.PartialObjectMetadata{}
	m.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Secret"))
	if err := d.Meta.Get(ctx, key, m); err == nil {
		d.mu.Lock()
		kept, ok := d.kept[key]
		d.mu.Unlock()
		if ok && kept.ResourceVersion == m.ResourceVersion {
			kept.DeepCopyInto(s)
			return nil
		}
	}
	// Unknown to the cache (perhaps just created) or changed: ask the API server.
	if err := d.Live.Get(ctx, key, s); err != nil {
		d.mu.Lock()
		delete(d.kept, key)
		d.mu.Unlock()
		return err
	}
	d.mu.Lock()
	d.kept[key] = s.DeepCopy()
	d.mu.Unlock()
	return nil
}

// Retain forgets every Secret not in keys, once a render no longer refers to it.
func (d *SecretData) Retain(keys map[[2]string]*corev1.Secret) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for key := range d.kept {
		if _, ok := keys[[2]string{key.Namespace, key.Name}]; !ok {
			delete(d.kept, key)
		}
	}
}
