package sidecar

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/logplane/logplane/api/v1alpha1"
)

func TestCount(t *testing.T) {
	in := &v1.FileInput{PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{"app": "billing"}}}
	app := map[string]string{"app": "billing"}
	pods := []PodMeta{
		{Labels: app, Annotations: map[string]string{AnnotationHashes: "audit=new,other=x"}},
		{Labels: app, Annotations: map[string]string{AnnotationHashes: "audit=new"}},
		{Labels: app, Annotations: map[string]string{AnnotationHashes: "audit=old"}},
		{Labels: app, Annotations: map[string]string{AnnotationHashes: "other=x"}}, // sidecar without this pipeline
		{Labels: app}, // created before injection
		{Labels: app, Annotations: map[string]string{AnnotationHashes: "garbage"}},
		{Labels: map[string]string{"app": "web"}, Annotations: map[string]string{AnnotationHashes: "audit=old"}}, // not selected
		{Labels: app, Terminating: true},
	}
	got := Count("audit", in, "new", pods)
	want := v1.SidecarCounts{Injected: 2, Outdated: 1, Missing: 3}
	if got != want {
		t.Fatalf("got %+v, want %+v", got, want)
	}
}

func TestHashesRoundTrip(t *testing.T) {
	in := map[string]string{"b": "2", "a": "1"}
	s := FormatHashes(in)
	if s != "a=1,b=2" {
		t.Fatalf("FormatHashes = %q", s)
	}
	out := ParseHashes(s)
	if len(out) != 2 || out["a"] != "1" || out["b"] != "2" {
		t.Fatalf("ParseHashes = %v", out)
	}
}

func TestSecretName(t *testing.T) {
	if got := SecretName("audit"); got != "logplane-sidecar-audit" {
		t.Fatal(got)
	}
	long := make([]byte, 250)
	for i := range long {
		long[i] = 'a'
	}
	a, b := SecretName(string(long)), SecretName(string(long[:249])+"b")
	if len(a) > 253 || len(b) > 253 || a == b {
		t.Fatalf("long names %q / %q", a, b)
	}
}
