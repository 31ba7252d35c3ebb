package sidecar

import (
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/logplane/logplane/internal/fluentbit"
	"github.com/logplane/logplane/internal/render"
)

// Generated remembers, per namespace and pipeline, the sidecar configurations the
// operator wrote (their manifest hashes), so that the metrics scraper can tell a pod
// the webhook injected from a tenant's pod dressed up as one: labels, annotations and
// containers are the pod owner's to write, this memory is not. It lives in the
// operator's process only; after a restart it holds each pipeline's current hash
// once the sidecar reconciler has run, so pods still on an older configuration are
// not read until they are recreated (SidecarsCurrent already asks for that).
type Generated struct {
	mu        sync.RWMutex
	pipelines map[[2]string]*generations
}

// generations are a pipeline's configurations, newest last.
type generations struct {
	hashes []string
	first  map[string]string // hash → the fragment the main file includes
}

// keptGenerations bounds what is remembered per pipeline: enough for pods that have
// not been restarted since the last few changes.
const keptGenerations = 8

// NewGenerated returns an empty memory.
func NewGenerated() *Generated {
	return &Generated{pipelines: map[[2]string]*generations{}}
}

// Record remembers that the operator wrote m for the pipeline.
func (g *Generated) Record(namespace, pipeline string, m Manifest) {
	if g == nil || m.Hash == "" || len(m.Files) == 0 {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	k := [2]string{namespace, pipeline}
	gen := g.pipelines[k]
	if gen == nil {
		gen = &generations{first: map[string]string{}}
		g.pipelines[k] = gen
	}
	if _, ok := gen.first[m.Hash]; ok {
		return
	}
	gen.hashes = append(gen.hashes, m.Hash)
	gen.first[m.Hash] = m.Files[0]
	if len(gen.hashes) > keptGenerations {
		delete(gen.first, gen.hashes[0])
		gen.hashes = gen.hashes[1:]
	}
}

// Forget drops a pipeline that no longer runs in sidecars (deleted, or no files input).
func (g *Generated) Forget(namespace, pipeline string) {
	if g == nil {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	delete(g.pipelines, [2]string{namespace, pipeline})
}

// fragment is the file the main configuration includes for the pipeline's
// configuration hash, if the operator generated it.
func (g *Generated) fragment(namespace, pipeline, hash string) (string, bool) {
	g.mu.RLock()
	defer g.mu.RUnlock()
	gen := g.pipelines[[2]string{namespace, pipeline}]
	if gen == nil {
		return "", false
	}
	f, ok := gen.first[hash]
	return f, ok
}

// Verifier decides which injected pods the metrics scraper reads (flow.Injection).
type Verifier struct {
	Generated *Generated
	// Options are the webhook's: the sidecar image it sets.
	Options Options
}

// Sidecar names the pod's injected container when the pod carries exactly what the
// webhook writes, for configurations the operator generated in the pod's namespace.
// The checks run cheapest first; the first failure says why the pod is not read.
//
// What this proves, and what it does not: a tenant cannot make the operator read a
// pod in a namespace where the operator generated no sidecar configuration, nor one
// whose annotations name a configuration that never existed there. A tenant who can
// read the pods or Secrets of their own namespace can still copy a real pod's
// annotations, container and hashes into a pod of their own, and run what they like
// behind the port: such a pod is read like an injected one. What bounds that is the
// scraper, not this check: the answer is cut at flow.SidecarMaxExposition, memory
// in flight is bounded over all pods, and a sidecar's figures count only for its own
// namespace's pipelines (flow.Target.Namespace), which that tenant owns anyway.
func (v Verifier) Sidecar(pod *corev1.Pod) (string, string) {
	if pod.Labels[LabelInjected] != Injected {
		return "", "not labelled " + LabelInjected + "=" + Injected
	}
	c, why := v.container(pod)
	if why != "" {
		return "", why
	}
	raw := pod.Annotations[AnnotationHashes]
	hashes := ParseHashes(raw)
	if len(hashes) == 0 || FormatHashes(hashes) != raw {
		return "", "annotation " + AnnotationHashes + " is not one the webhook writes"
	}
	if v.Generated == nil {
		return "", "no sidecar configuration is known yet"
	}
	names := make([]string, 0, len(hashes))
	for n := range hashes {
		names = append(names, n)
	}
	slices.Sort(names)
	fragments := make([]Pipeline, len(names))
	for i, n := range names {
		first, ok := v.Generated.fragment(pod.Namespace, n, hashes[n])
		if !ok {
			return "", "the operator generated no sidecar configuration " + hashes[n] + " for pipeline " + n + " in its namespace"
		}
		fragments[i] = Pipeline{Name: n, Manifest: Manifest{Hash: hashes[n], Files: []string{first}}}
	}
	main, err := render.SidecarMain(includes(fragments))
	if err != nil || !sameConfig(pod.Annotations[AnnotationConfig], string(main)) {
		return "", "annotation " + AnnotationConfig + " is not the one the webhook writes for its pipelines"
	}
	return c.Name, ""
}

// container finds the one sidecar container and checks it is the webhook's: its
// image, no command of its own, the webhook's arguments, and its metrics port alone.
func (v Verifier) container(pod *corev1.Pod) (*corev1.Container, string) {
	var found *corev1.Container
	for _, list := range [][]corev1.Container{pod.Spec.InitContainers, pod.Spec.Containers} {
		for i := range list {
			if list[i].Name != ContainerName {
				continue
			}
			if found != nil {
				return nil, "more than one container is named " + ContainerName
			}
			found = &list[i]
		}
	}
	if found == nil {
		return nil, "no container is named " + ContainerName
	}
	image := v.Options.Image
	if image == "" {
		image = fluentbit.Image
	}
	switch {
	case found.Image != image:
		return nil, "container " + ContainerName + " does not run the sidecar image"
	case len(found.Command) > 0 || !slices.Equal(found.Args, Args()):
		return nil, "container " + ContainerName + " does not run the sidecar's command"
	case len(found.Ports) != 1 || found.Ports[0].Name != metricsPortName || found.Ports[0].ContainerPort != render.SidecarMetricsPort:
		return nil, "container " + ContainerName + " does not have the sidecar's metrics port alone"
	}
	return found, ""
}

// configDigestPrefix marks a config annotation TrimPod replaced by its digest.
const configDigestPrefix = "sha256:"

func digest(s string) string {
	sum := sha256.Sum256([]byte(s))
	return configDigestPrefix + hex.EncodeToString(sum[:])
}

// sameConfig compares a pod's config annotation, whole or as TrimPod's digest, with want.
func sameConfig(got, want string) bool {
	if strings.HasPrefix(got, configDigestPrefix) {
		return got == digest(want)
	}
	return got == want
}

// maxKeptArgs bounds the arguments TrimPod keeps of a container: the webhook's are
// a few dozen bytes, and anything longer cannot be the sidecar.
const maxKeptArgs = 1024

// maxKeptHashes bounds the hashes annotation TrimPod keeps: 64 pipelines with
// names at the API's limit. A longer one is dropped, and the pod is not read.
const maxKeptHashes = 64 * (253 + 1 + 64)

// TrimPod keeps of a pod only what flow.Targets and Sidecar read, as a cache
// transform: a cache of every labelled pod of a large cluster then holds names,
// ports, addresses and a digest of the config annotation, not whole pod specs.
func TrimPod(obj any) (any, error) {
	p, ok := obj.(*corev1.Pod)
	if !ok {
		return obj, nil
	}
	meta := metav1.ObjectMeta{Name: p.Name, Namespace: p.Namespace, UID: p.UID,
		ResourceVersion: p.ResourceVersion, DeletionTimestamp: p.DeletionTimestamp}
	if v, ok := p.Labels[LabelInjected]; ok {
		meta.Labels = map[string]string{LabelInjected: v}
	}
	if h, ok := p.Annotations[AnnotationHashes]; ok && len(h) <= maxKeptHashes {
		meta.Annotations = map[string]string{AnnotationHashes: h}
	}
	if c, ok := p.Annotations[AnnotationConfig]; ok {
		if meta.Annotations == nil {
			meta.Annotations = map[string]string{}
		}
		meta.Annotations[AnnotationConfig] = digest(c)
	}
	return &corev1.Pod{
		TypeMeta:   p.TypeMeta,
		ObjectMeta: meta,
		Spec:       corev1.PodSpec{InitContainers: trimContainers(p.Spec.InitContainers), Containers: trimContainers(p.Spec.Containers)},
		Status:     corev1.PodStatus{Phase: p.Status.Phase, PodIP: p.Status.PodIP},
	}, nil
}

// trimContainers keeps the containers that have ports or are named like the
// sidecar, with what identifies them.
func trimContainers(cs []corev1.Container) []corev1.Container {
	var out []corev1.Container
	for _, c := range cs {
		if len(c.Ports) == 0 && c.Name != ContainerName {
			continue
		}
		kept := corev1.Container{Name: c.Name, Ports: c.Ports}
		if c.Name == ContainerName {
			kept.Image, kept.Command, kept.Args = c.Image, c.Command, c.Args
			if n := len(strings.Join(c.Args, "")) + len(strings.Join(c.Command, "")); n > maxKeptArgs {
				// Not the sidecar's: keep a command that says so, not the bulk.
				kept.Command, kept.Args = []string{"(too long)"}, nil
			}
		}
		out = append(out, kept)
	}
	return out
}
