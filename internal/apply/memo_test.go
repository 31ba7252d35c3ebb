package apply

import (
	"context"
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
	m := NewMemo(10 * time.Minute)
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
