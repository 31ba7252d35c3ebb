// Package apply is the one way logplane writes the objects it owns: server-side apply,
// owning only the fields logplane sets. Fields others set — a `kubectl rollout
// restart` annotation, an Argo CD label — stay theirs, and an object that already
// matches is not written (the API server turns a no-op apply into no write).
package apply

import (
	"context"
	"fmt"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// FieldOwner is the field manager name of every logplane write.
const FieldOwner = "logplane"

// Apply server-side applies obj, which must carry its TypeMeta. Status and server-set
// metadata are left out, so that applying never claims fields logplane does not mean.
func Apply(ctx context.Context, c client.Client, obj client.Object) error {
	_, err := apply(ctx, c, obj)
	return err
}

// apply applies obj and returns the resourceVersion the API server answered with.
func apply(ctx context.Context, c client.Client, obj client.Object) (string, error) {
	u, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		return "", fmt.Errorf("failed to convert %T: %w", obj, err)
	}
	delete(u, "status")
	unstructured.RemoveNestedField(u, "metadata", "creationTimestamp")
	unstructured.RemoveNestedField(u, "spec", "template", "metadata", "creationTimestamp")
	applied := &unstructured.Unstructured{Object: u}
	ac := client.ApplyConfigurationFromUnstructured(applied)
	if err := c.Apply(ctx, ac, client.FieldOwner(FieldOwner), client.ForceOwnership); err != nil {
		return "", fmt.Errorf("failed to apply %s %s: %w", obj.GetObjectKind().GroupVersionKind().Kind, client.ObjectKeyFromObject(obj), err)
	}
	return applied.GetResourceVersion(), nil
}
