package crdschema

import (
	"testing"
	"testing/fstest"

	"k8s.io/apimachinery/pkg/runtime"

	v1 "github.com/logplane/logplane/api/v1alpha1"
)

// The binary carries a schema for every kind of the API: a kind without one would be
// read offline without its defaults.
func TestEmbeddedKnowsEveryKind(t *testing.T) {
	s, err := Embedded()
	if err != nil {
		t.Fatal(err)
	}
	scheme := runtime.NewScheme()
	if err := v1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	for _, obj := range []runtime.Object{&v1.LogAgent{}, &v1.ClusterLogPipeline{}, &v1.LogPipeline{},
		&v1.LogOutput{}, &v1.ClusterLogOutput{}, &v1.RetentionPolicy{}} {
		gvks, _, err := scheme.ObjectKinds(obj)
		if err != nil {
			t.Fatal(err)
		}
		if !s.Knows(gvks[0]) {
			t.Errorf("no schema for %s", gvks[0])
		}
	}
	if n := len(s.kinds); n != 7 {
		t.Errorf("%d kinds, want 7", n)
	}
}

func TestAdmitRefusesKindsWithoutSchema(t *testing.T) {
	s, err := Embedded()
	if err != nil {
		t.Fatal(err)
	}
	for _, obj := range []map[string]any{
		{"apiVersion": "logging.logplane.dev/v1", "kind": "LogAgent"},
		{"apiVersion": "apps/v1", "kind": "Deployment"},
		{"apiVersion": "a/b/c", "kind": "LogAgent"},
	} {
		if _, err := s.Admit(obj); err == nil {
			t.Errorf("admitted %v", obj)
		}
	}
}

func TestReadNeedsACRD(t *testing.T) {
	if _, err := Read(fstest.MapFS{}); err == nil {
		t.Error("read no CRD without an error")
	}
	if _, err := Read(fstest.MapFS{"x.yaml": {Data: []byte("kind: CustomResourceDefinition\nspec: {colour: red}\n")}}); err == nil {
		t.Error("read a CRD with an unknown field without an error")
	}
}
