package sidecar

import (
	"fmt"
	"strings"

	"gomodules.xyz/jsonpatch/v2"
	corev1 "k8s.io/api/core/v1"
)

// Patch writes what Mutate added to before (giving after) as JSON patch operations
// that only add: the new label, annotations, volumes, volume mounts and container. Nothing
// the pod was sent with is rewritten, so fields this operator's API version does not
// know survive admission (a diff of the re-encoded pod would remove them), and no
// document diff is computed per admission.
func Patch(before, after *corev1.Pod) []jsonpatch.Operation {
	var ops []jsonpatch.Operation
	if before.Annotations == nil && len(after.Annotations) > 0 {
		ops = append(ops, add("/metadata/annotations", after.Annotations))
	} else {
		for _, k := range []string{AnnotationConfig, AnnotationHashes} {
			if v, ok := after.Annotations[k]; ok && before.Annotations[k] != v {
				ops = append(ops, add("/metadata/annotations/"+escape(k), v))
			}
		}
	}
	if before.Labels == nil && len(after.Labels) > 0 {
		ops = append(ops, add("/metadata/labels", after.Labels))
	} else if v, ok := after.Labels[LabelInjected]; ok && before.Labels[LabelInjected] != v {
		ops = append(ops, add("/metadata/labels/"+escape(LabelInjected), v))
	}
	ops = appendList(ops, "/spec/volumes", before.Spec.Volumes, after.Spec.Volumes)
	for i := range before.Spec.Containers {
		ops = appendList(ops, fmt.Sprintf("/spec/containers/%d/volumeMounts", i),
			before.Spec.Containers[i].VolumeMounts, after.Spec.Containers[i].VolumeMounts)
	}
	ops = appendList(ops, "/spec/initContainers", before.Spec.InitContainers, after.Spec.InitContainers)
	ops = appendList(ops, "/spec/containers", before.Spec.Containers, after.Spec.Containers)
	return ops
}

// appendList adds the elements of after beyond before's length: the whole list when
// there was none (a JSON patch cannot append to a missing array), else one by one.
func appendList[T any](ops []jsonpatch.Operation, path string, before, after []T) []jsonpatch.Operation {
	if len(after) <= len(before) {
		return ops
	}
	if len(before) == 0 {
		return append(ops, add(path, after))
	}
	for _, v := range after[len(before):] {
		ops = append(ops, add(path+"/-", v))
	}
	return ops
}

func add(path string, value any) jsonpatch.Operation {
	return jsonpatch.Operation{Operation: "add", Path: path, Value: value}
}

// escape encodes a JSON pointer token (RFC 6901).
func escape(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}
