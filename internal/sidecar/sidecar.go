// Package sidecar holds the pure logic of the file-tailing sidecar: which pods a
// file-input LogPipeline selects, how its configuration Secret is laid out, how the
// webhook patches a pod, and how pods are counted for status.sidecars. Nothing here
// calls the API server.
//
// How several pipelines share one sidecar: Fluent Bit takes one configuration with
// one service section, and a pod can run only one process per container, so the
// sidecar cannot run one Fluent Bit per pipeline, and rendering one configuration per
// combination of pipelines would make the webhook write Secrets (a side effect on
// every pod creation). Instead each pipeline's Secret holds a fragment (inputs,
// outputs, parsers, all named after the pipeline) and the webhook writes the small
// main file — the service section and an include per pipeline — into a pod
// annotation, which the sidecar reads through a downward-API volume projected next to
// the pipelines' Secrets. The webhook stays free of side effects, a pipeline's change
// rewrites only its own Secret, and `kubectl get pod -o yaml` shows what the sidecar runs.
package sidecar

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// Names logplane uses on namespaces, pods and Secrets for the sidecar.
const (
	// LabelInjection on a namespace opts its pods in to injection; the webhook
	// configuration's namespaceSelector matches it.
	LabelInjection = "logging.logplane.dev/sidecar-injection"
	// InjectionEnabled is the value of LabelInjection that opts in.
	InjectionEnabled = "enabled"
	// ContainerName is the injected container; a pod that has one is left alone.
	ContainerName = "logplane-sidecar"
	// AnnotationConfig holds the sidecar's main configuration file on the pod.
	AnnotationConfig = "logging.logplane.dev/sidecar-config"
	// AnnotationHashes lists, on the pod, pipeline=hash of each configuration it got.
	AnnotationHashes = "logging.logplane.dev/sidecar-hashes"
	// AnnotationManifest describes a sidecar Secret's content for the webhook, which
	// reads only Secret metadata (JSON Manifest).
	AnnotationManifest = "logging.logplane.dev/sidecar-manifest"
	// ComponentSidecar is the app.kubernetes.io/component label value of sidecar Secrets.
	ComponentSidecar = "sidecar"
	// LabelInjected marks a pod the webhook gave the sidecar, so that the operator
	// can watch those pods (to read the sidecars' metrics) without caching every pod
	// of the cluster in full.
	LabelInjected = "logging.logplane.dev/sidecar"
	// Injected is the value of LabelInjected.
	Injected = "injected"
)

// Manifest tells the webhook what a pipeline's sidecar Secret holds, so that it can
// mount it without reading the Secret's data.
type Manifest struct {
	// Hash changes whenever the configuration or a credential value does.
	Hash string `json:"hash"`
	// Files are the configuration files, the fragment to include first.
	Files []string `json:"files"`
	// Env are keys set as environment variables of the same name.
	Env []string `json:"env,omitempty"`
	// SecretFiles are keys mounted as files under render.SecretFilesDir.
	SecretFiles []string `json:"secretFiles,omitempty"`
	// AWS says the Secret holds an AWS shared credentials file.
	AWS bool `json:"aws,omitempty"`
}

// Encode writes m as an annotation value.
func (m Manifest) Encode() string {
	data, _ := json.Marshal(m) // strings and slices of strings: cannot fail
	return string(data)
}

// DecodeManifest reads an annotation value written by Encode.
func DecodeManifest(s string) (Manifest, error) {
	var m Manifest
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		return Manifest{}, fmt.Errorf("failed to decode sidecar manifest: %w", err)
	}
	if m.Hash == "" || len(m.Files) == 0 {
		return Manifest{}, fmt.Errorf("sidecar manifest has no hash or no files")
	}
	return m, nil
}

// maxNameLen is a Secret name's limit (DNS subdomain).
const maxNameLen = 253

// SecretName is the name of a pipeline's sidecar Secret in its namespace.
func SecretName(pipeline string) string {
	name := "logplane-sidecar-" + pipeline
	if len(name) <= maxNameLen {
		return name
	}
	// Long pipeline names: keep the name unique with a hash of the whole.
	return name[:maxNameLen-11] + "-" + shortHash(pipeline)
}

// FormatHashes writes pipeline=hash pairs, sorted by pipeline, for AnnotationHashes.
func FormatHashes(hashes map[string]string) string {
	names := make([]string, 0, len(hashes))
	for n := range hashes {
		names = append(names, n)
	}
	slices.Sort(names)
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = n + "=" + hashes[n]
	}
	return strings.Join(parts, ",")
}

// ParseHashes reads AnnotationHashes; malformed parts are ignored (a user may have
// edited the annotation; the pod then counts as outdated or missing, never an error).
func ParseHashes(s string) map[string]string {
	out := map[string]string{}
	for part := range strings.SplitSeq(s, ",") {
		name, hash, ok := strings.Cut(part, "=")
		if ok && name != "" && hash != "" {
			out[name] = hash
		}
	}
	return out
}
