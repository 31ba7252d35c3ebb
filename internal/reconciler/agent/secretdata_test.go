package agent

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// readers stand in for the metadata cache and the API server.
type metaReader map[client.ObjectKey]string

func (m metaReader) Get(_ context.Context, key client.ObjectKey, obj client.Object, _ ...client.GetOption) error {
	rv, ok := m[key]
	if !ok {
		return errString("not cached")
	}
	obj.SetResourceVersion(rv)
	return nil
}
func (m metaReader) List(context.Context, client.ObjectList, ...client.ListOption) error { return nil }

type liveReader struct {
	rv    map[client.ObjectKey]string
	reads int
}

func (l *liveReader) Get(_ context.Context, key client.ObjectKey, obj client.Object, _ ...client.GetOption) error {
	l.reads++
	s := obj.(*corev1.Secret)
	*s = corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: key.Namespace, Name: key.Name, ResourceVersion: l.rv[key]},
		Data: map[string][]byte{"v": []byte(l.rv[key])}}
	return nil
}
func (l *liveReader) List(context.Context, client.ObjectList, ...client.ListOption) error { return nil }

type errString string

func (e errString) Error() string { return string(e) }

func TestSecretDataReadsOnlyWhatChanged(t *testing.T) {
	key := client.ObjectKey{Namespace: "team-a", Name: "creds"}
	meta := metaReader{}
	live := &liveReader{rv: map[client.ObjectKey]string{key: "1"}}
	d := NewSecretData(meta, live)
	ctx := context.Background()
	get := func() string {
		var s corev1.Secret
		if err := d.Get(ctx, key, &s); err != nil {
			t.Fatal(err)
		}
		return string(s.Data["v"])
	}
	steps := []struct {
		name  string
		setup func()
		reads int
		value string
	}{
		{"not in the metadata cache yet: read", nil, 1, "1"},
		{"cache still behind: read again", nil, 2, "1"},
		{"cache caught up: kept", func() { meta[key] = "1" }, 2, "1"},
		{"kept again", nil, 2, "1"},
		{"changed: read", func() { meta[key], live.rv[key] = "2", "2" }, 3, "2"},
		{"forgotten when no longer referenced: read", func() { d.Retain(nil) }, 4, "2"},
	}
	for _, s := range steps {
		if s.setup != nil {
			s.setup()
		}
		if v := get(); v != s.value || live.reads != s.reads {
			t.Errorf("%s: value %q after %d reads, want %q after %d", s.name, v, live.reads, s.value, s.reads)
		}
	}
}
