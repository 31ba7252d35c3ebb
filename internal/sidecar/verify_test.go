package sidecar

import (
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/logplane/logplane/internal/render"
)

// The scraper reads a pod only when it carries what the webhook writes for a
// configuration the operator generated in the pod's namespace. Every forgery here is
// something a tenant can write on a pod of their own.
func TestVerifierTellsInjectedPodsFromForgeries(t *testing.T) {
	gen := NewGenerated()
	audit := filesPipeline("audit", "", "/var/log/app/audit.log")
	worker := filesPipeline("worker", "", "/var/log/app/worker.log")
	gen.Record("team-a", "audit", audit.Manifest)
	gen.Record("team-a", "worker", worker.Manifest)
	gen.Record("team-b", "billing", Manifest{Hash: "h-billing", Files: []string{"fluent-bit.yaml"}})

	// What the webhook really makes of a pod, natively and as a regular container.
	injected := func(opts Options, pipelines ...Pipeline) *corev1.Pod {
		pod := appPod()
		pod.Namespace = "team-a"
		out, res := Mutate(pod, "team-a", pipelines, opts)
		if len(res.Injected) != len(pipelines) {
			t.Fatalf("not injected: %+v", res)
		}
		return out
	}
	real := func() *corev1.Pod { return injected(native, audit) }
	edit := func(f func(*corev1.Pod)) *corev1.Pod { p := real(); f(p); return p }
	sidecarOf := func(p *corev1.Pod) *corev1.Container { return &p.Spec.InitContainers[0] }
	labelled := func(p *corev1.Pod) {
		p.Namespace = "team-a"
		p.Labels[LabelInjected] = Injected
	}

	cases := []struct {
		name string
		pod  *corev1.Pod
		why  string // "" when the pod is read
	}{
		{"injected natively", real(), ""},
		{"injected as a regular container", injected(Options{OperatorNamespace: "logplane-system", Image: native.Image}, audit), ""},
		{"injected with two pipelines", injected(native, audit, worker), ""},
		{"the cache's trimmed copy of an injected pod", trimmed(t, real()), ""},

		{"label only, the app serving the sidecar's port", appPod(labelled, func(p *corev1.Pod) {
			p.Spec.Containers[0].Ports = []corev1.ContainerPort{{Name: metricsPortName, ContainerPort: render.SidecarMetricsPort}}
		}), "no container is named"},
		{"label and a container named like the sidecar", appPod(labelled, func(p *corev1.Pod) {
			p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: ContainerName, Image: "attacker/metrics:1",
				Ports: []corev1.ContainerPort{{Name: metricsPortName, ContainerPort: render.SidecarMetricsPort}}})
		}), "does not run the sidecar image"},
		{"the sidecar's image with a command of its own", edit(func(p *corev1.Pod) { sidecarOf(p).Command = []string{"/bin/sh", "-c", "serve-junk"} }),
			"does not run the sidecar's command"},
		{"the sidecar's image with other arguments", edit(func(p *corev1.Pod) { sidecarOf(p).Args = []string{"-c", "/mine.yaml"} }),
			"does not run the sidecar's command"},
		{"a second metrics port", edit(func(p *corev1.Pod) {
			sidecarOf(p).Ports = append(sidecarOf(p).Ports, corev1.ContainerPort{Name: "more", ContainerPort: 9999})
		}), "metrics port alone"},
		{"two sidecar containers", edit(func(p *corev1.Pod) { p.Spec.Containers = append(p.Spec.Containers, *sidecarOf(p)) }),
			"more than one container"},
		{"a real container without the label", edit(func(p *corev1.Pod) { delete(p.Labels, LabelInjected) }), "not labelled"},
		{"fake hashes: a configuration never generated", edit(func(p *corev1.Pod) { p.Annotations[AnnotationHashes] = "audit=h-forged" }),
			"generated no sidecar configuration h-forged for pipeline audit"},
		{"fake hashes: a pipeline the namespace does not have", edit(func(p *corev1.Pod) { p.Annotations[AnnotationHashes] = "billing=h-billing" }),
			"for pipeline billing"},
		{"hashes that are not the webhook's format", edit(func(p *corev1.Pod) { p.Annotations[AnnotationHashes] = "audit=h-audit,,junk" }),
			"is not one the webhook writes"},
		{"no hashes", edit(func(p *corev1.Pod) { delete(p.Annotations, AnnotationHashes) }), "is not one the webhook writes"},
		{"a config annotation of its own", edit(func(p *corev1.Pod) {
			p.Annotations[AnnotationConfig] += "\n@INCLUDE /tmp/mine.conf\n"
		}), "annotation " + AnnotationConfig},
		{"a config annotation of its own, trimmed", trimmed(t, edit(func(p *corev1.Pod) { p.Annotations[AnnotationConfig] = "junk" })),
			"annotation " + AnnotationConfig},
		{"a real pod copied to another namespace", edit(func(p *corev1.Pod) { p.Namespace = "team-b" }),
			"generated no sidecar configuration"},
		{"arguments too long to keep", trimmed(t, edit(func(p *corev1.Pod) { sidecarOf(p).Args = []string{strings.Repeat("x", 2000)} })),
			"does not run the sidecar's command"},
	}
	v := Verifier{Generated: gen, Options: native}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			name, why := v.Sidecar(tc.pod)
			switch {
			case tc.why == "" && (why != "" || name != ContainerName):
				t.Errorf("not read: %q", why)
			case tc.why != "" && !strings.Contains(why, tc.why):
				t.Errorf("why %q, want it to contain %q", why, tc.why)
			}
		})
	}
}

// A pod injected before the last few configuration changes is still read; one from
// before a pipeline was deleted, or from too many changes ago, is not.
func TestGeneratedRemembersRecentConfigurations(t *testing.T) {
	gen := NewGenerated()
	p := filesPipeline("audit", "", "/var/log/app/audit.log")
	pod := appPod()
	pod.Namespace = "team-a"
	old, _ := Mutate(pod, "team-a", []Pipeline{p}, native)
	v := Verifier{Generated: gen, Options: native}
	gen.Record("team-a", "audit", p.Manifest)
	for i := range keptGenerations - 1 {
		gen.Record("team-a", "audit", Manifest{Hash: fmt.Sprint("later-", i), Files: []string{"fluent-bit.yaml"}})
	}
	if _, why := v.Sidecar(old); why != "" {
		t.Errorf("a pod %d changes behind is not read: %s", keptGenerations-1, why)
	}
	gen.Record("team-a", "audit", Manifest{Hash: "one-more", Files: []string{"fluent-bit.yaml"}})
	if _, why := v.Sidecar(old); why == "" {
		t.Errorf("a pod %d changes behind is still read", keptGenerations)
	}
	gen.Record("team-a", "audit", p.Manifest)
	gen.Forget("team-a", "audit")
	if _, why := v.Sidecar(old); why == "" {
		t.Error("a pod of a deleted pipeline is still read")
	}
	if _, why := (Verifier{Options: native}).Sidecar(old); why == "" {
		t.Error("read with nothing generated")
	}
}

// The cache keeps of a pod what the scraper needs, and no more.
func TestTrimPodKeepsOnlyWhatIsChecked(t *testing.T) {
	pod := appPod(func(p *corev1.Pod) {
		p.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "TOKEN", Value: "secret"}}
		p.Annotations = map[string]string{"big": strings.Repeat("x", 100000)}
	})
	pod.Namespace = "team-a"
	injected, _ := Mutate(pod, "team-a", []Pipeline{filesPipeline("audit", "", "/var/log/app/audit.log")}, native)
	tp := trimmed(t, injected)
	if len(tp.Annotations) != 2 || !strings.HasPrefix(tp.Annotations[AnnotationConfig], configDigestPrefix) || len(tp.Labels) != 1 {
		t.Errorf("metadata kept: %v %v", tp.Labels, tp.Annotations)
	}
	if len(tp.Spec.Containers) != 0 || len(tp.Spec.InitContainers) != 1 || tp.Spec.InitContainers[0].Env != nil || tp.Spec.InitContainers[0].VolumeMounts != nil {
		t.Errorf("containers kept: %+v %+v", tp.Spec.Containers, tp.Spec.InitContainers)
	}
}

func trimmed(t *testing.T, p *corev1.Pod) *corev1.Pod {
	t.Helper()
	out, err := TrimPod(p.DeepCopy())
	if err != nil {
		t.Fatal(err)
	}
	return out.(*corev1.Pod)
}
