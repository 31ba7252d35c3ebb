package apply

import (
	"context"
	"encoding/json"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
)

func TestMemoSkipsOnlyWhatIsKnownToHold(t *testing.T) {
	applies := 0
	c := fake.NewClientBuilder().WithInterceptorFuncs(interceptor.Funcs{
		Apply: func(ctx context.Context, c client.WithWatch, obj runtime.ApplyConfiguration, opts ...client.ApplyOption) error {
			applies++
			return nil
		},
	}).Build()
	now := time.Unix(1000, 0)
	m := NewMemo(10*time.Minute, nil)
	m.Now = func() time.Time { return now }
	secret := func(v string) *corev1.Secret {
		return &corev1.Secret{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
			ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "s"}, StringData: map[string]string{"k": v}}
	}
	steps := []struct {
		name   string
		before func()
		obj    *corev1.Secret
		apply  bool
	}{
		{"first time", nil, secret("a"), true},
		{"unchanged", nil, secret("a"), false},
		{"confirmed at our version", func() { m.Confirm("Secret", "ns", "s", "", true) }, secret("a"), false},
		{"content changed", nil, secret("b"), true},
		{"edited by someone", func() { m.Confirm("Secret", "ns", "s", "999", true) }, secret("b"), true},
		{"deleted by someone", func() { m.Confirm("Secret", "ns", "s", "", false) }, secret("b"), true},
		{"within TTL", func() { now = now.Add(9 * time.Minute) }, secret("b"), false},
		{"TTL passed", func() { now = now.Add(2 * time.Minute) }, secret("b"), true},
	}
	for _, s := range steps {
		if s.before != nil {
			s.before()
		}
		before := applies
		if err := m.Apply(context.Background(), c, s.obj); err != nil {
			t.Fatal(err)
		}
		if got := applies > before; got != s.apply {
			t.Errorf("%s: applied %v, want %v", s.name, got, s.apply)
		}
	}
}

// A new process (an empty memo) must not rewrite what the last one applied, but must
// apply what differs or is missing.
func TestMemoAfterRestartTrustsOnlyMatchingHashes(t *testing.T) {
	secret := func(name, v string) *corev1.Secret {
		return &corev1.Secret{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
			ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name}, StringData: map[string]string{"k": v}}
	}
	// What the previous process applied: its annotations carry the hashes.
	previous := NewMemo(10*time.Minute, nil)
	var live []client.Object
	for _, s := range []*corev1.Secret{secret("same", "a"), secret("changed", "old")} {
		noop := fake.NewClientBuilder().WithInterceptorFuncs(interceptor.Funcs{
			Apply: func(context.Context, client.WithWatch, runtime.ApplyConfiguration, ...client.ApplyOption) error {
				return nil
			},
		}).Build()
		if err := previous.Apply(context.Background(), noop, s); err != nil {
			t.Fatal(err)
		}
		live = append(live, s)
	}
	live = append(live, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "unmarked"}})

	var applied []string
	c := fake.NewClientBuilder().WithObjects(live...).WithInterceptorFuncs(interceptor.Funcs{
		Apply: func(_ context.Context, _ client.WithWatch, obj runtime.ApplyConfiguration, _ ...client.ApplyOption) error {
			var o struct{ Metadata metav1.ObjectMeta }
			data, err := json.Marshal(obj)
			if err == nil {
				err = json.Unmarshal(data, &o)
			}
			applied = append(applied, o.Metadata.Name)
			return err
		},
	}).Build()
	m := NewMemo(10*time.Minute, c)
	for _, s := range []*corev1.Secret{secret("same", "a"), secret("changed", "new"), secret("unmarked", "x"), secret("absent", "y")} {
		if err := m.Apply(context.Background(), c, s); err != nil {
			t.Fatal(err)
		}
	}
	if want := []string{"changed", "unmarked", "absent"}; !slices.Equal(applied, want) {
		t.Errorf("applied %v, want %v", applied, want)
	}
}
