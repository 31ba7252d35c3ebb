package sidecar

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	v1 "github.com/logplane/logplane/api/v1alpha1"
)

// Selects reports whether a file-input pipeline selects a pod with these labels. An
// invalid selector selects nothing (the API's validation keeps them out).
func Selects(in *v1.FileInput, podLabels map[string]string) bool {
	if in == nil {
		return false
	}
	sel, err := metav1.LabelSelectorAsSelector(&in.PodSelector)
	if err != nil {
		return false
	}
	return sel.Matches(labels.Set(podLabels))
}

// PodMeta is what counting needs of a pod: its labels and annotations.
type PodMeta struct {
	Labels      map[string]string
	Annotations map[string]string
	// Terminating pods are on their way out and count for nothing.
	Terminating bool
}

// Count sorts the pods a pipeline selects into those running its current
// configuration (hash), an older one, or none at all.
func Count(pipeline string, in *v1.FileInput, hash string, pods []PodMeta) v1.SidecarCounts {
	var c v1.SidecarCounts
	for _, p := range pods {
		if p.Terminating || !Selects(in, p.Labels) {
			continue
		}
		got, ok := ParseHashes(p.Annotations[AnnotationHashes])[pipeline]
		switch {
		case !ok:
			c.Missing++
		case got == hash:
			c.Injected++
		default:
			c.Outdated++
		}
	}
	return c
}
