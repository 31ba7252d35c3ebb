package integration

import (
	"testing"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/util/diff"
)

func assertEqual[T any](t *testing.T, got, want T) {
	t.Helper()
	if !equality.Semantic.DeepEqual(got, want) {
		t.Errorf("mismatch (-want +got):\n%s", diff.Diff(want, got))
	}
}

func ptr[T any](v T) *T { return &v }
