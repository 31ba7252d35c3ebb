package sidecar

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	v1 "github.com/logplane/logplane/api/v1alpha1"
	goldenfile "github.com/logplane/logplane/test/golden"
)

func appPod(mods ...func(*corev1.Pod)) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "app-0", Labels: map[string]string{"app": "billing"}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "billing:1"}}},
	}
	for _, m := range mods {
		m(p)
	}
	return p
}

func filesPipeline(name, container string, paths ...string) Pipeline {
	in := v1.FileInput{PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{"app": "billing"}}, Container: v1.ContainerName(container)}
	for _, p := range paths {
		in.Paths = append(in.Paths, v1.LogFilePath(p))
	}
	return Pipeline{Name: name, Input: in, Manifest: Manifest{Hash: "h-" + name, Files: []string{"fluent-bit.yaml"}}}
}

func withManifest(p Pipeline, f func(*Manifest)) Pipeline { f(&p.Manifest); return p }

var native = Options{Native: true, OperatorNamespace: "logplane-system", Image: "fluent-bit:test"}

// Every injection is compared with a reviewed golden pod; go test -update rewrites them.
func TestMutateGolden(t *testing.T) {
	cases := []struct {
		name      string
		pod       *corev1.Pod
		pipelines []Pipeline
		opts      Options
		injected  []string
		skipped   int
	}{
		{name: "native-one-pipeline", pod: appPod(), opts: native,
			pipelines: []Pipeline{filesPipeline("audit", "", "/var/log/app/audit.log", "/var/log/app/*.json")}, injected: []string{"audit"}},
		{name: "regular-container", pod: appPod(), opts: Options{OperatorNamespace: "logplane-system"},
			pipelines: []Pipeline{filesPipeline("audit", "", "/var/log/app/audit.log")}, injected: []string{"audit"}},
		{name: "two-pipelines-two-containers", opts: native,
			pod: appPod(func(p *corev1.Pod) {
				p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: "worker", Image: "worker:1"})
			}),
			pipelines: []Pipeline{
				withManifest(filesPipeline("worker-logs", "worker", "/data/logs/worker.log", "/var/log/app/shared.log"), func(m *Manifest) {
					m.Env = []string{"LP_SHARED", "LP_WORKER"}
					m.SecretFiles = []string{"abc"}
				}),
				withManifest(filesPipeline("audit", "app", "/var/log/app/audit.log"), func(m *Manifest) {
					m.Env = []string{"LP_SHARED"}
					m.SecretFiles = []string{"abc", "def"}
					m.Files = []string{"fluent-bit.yaml", "outputs-000.yaml"}
				}),
			}, injected: []string{"audit", "worker-logs"}},
		{name: "existing-volume-reused", opts: native,
			pod: appPod(func(p *corev1.Pod) {
				p.Spec.Volumes = []corev1.Volume{{Name: "logs", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}
				p.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "logs", MountPath: "/var/log/app/"}}
			}),
			pipelines: []Pipeline{filesPipeline("audit", "", "/var/log/app/audit.log")}, injected: []string{"audit"}},
		{name: "aws-once", pod: appPod(), opts: native,
			pipelines: []Pipeline{
				withManifest(filesPipeline("a", "", "/logs/a.log"), func(m *Manifest) { m.AWS = true }),
				withManifest(filesPipeline("b", "", "/logs/b.log"), func(m *Manifest) { m.AWS = true }),
			}, injected: []string{"a"}, skipped: 1},
		{name: "pod-runs-as-user", opts: native,
			pod: appPod(func(p *corev1.Pod) {
				uid := int64(1000)
				p.Spec.SecurityContext = &corev1.PodSecurityContext{RunAsUser: &uid}
			}),
			pipelines: []Pipeline{filesPipeline("audit", "", "/var/log/app/audit.log")}, injected: []string{"audit"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := tc.pod.DeepCopy()
			got, res := Mutate(tc.pod, "billing", tc.pipelines, tc.opts)
			if !apiequality.Semantic.DeepEqual(before, tc.pod) {
				t.Fatal("Mutate changed its input pod")
			}
			if res.Unchanged != "" || !slices.Equal(res.Injected, tc.injected) || len(res.Skipped) != tc.skipped {
				t.Fatalf("result %+v, want injected %v and %d skipped", res, tc.injected, tc.skipped)
			}
			data, err := yaml.Marshal(got)
			if err != nil {
				t.Fatal(err)
			}
			golden(t, tc.name+".yaml", data)
			again, res2 := Mutate(got, "billing", tc.pipelines, tc.opts)
			if again != got || res2.Unchanged == "" {
				t.Fatalf("second admission changed the pod: %+v", res2)
			}
		})
	}
}

// Pods that must come out exactly as they went in, each for its own reason.
func TestMutateLeavesPodsAlone(t *testing.T) {
	audit := []Pipeline{filesPipeline("audit", "", "/var/log/app/audit.log")}
	cases := []struct {
		name      string
		pod       *corev1.Pod
		namespace string
		pipelines []Pipeline
		why       string
	}{
		{"no pipeline", appPod(), "billing", nil, "no file-input LogPipeline"},
		{"kube-system", appPod(), "kube-system", audit, "never injected"},
		{"operator namespace", appPod(), "logplane-system", audit, "never injected"},
		{"logplane's own pod", appPod(func(p *corev1.Pod) { p.Labels["app.kubernetes.io/managed-by"] = "logplane" }), "billing", audit, "logplane's own"},
		{"already injected", appPod(func(p *corev1.Pod) {
			p.Spec.InitContainers = []corev1.Container{{Name: ContainerName}}
		}), "billing", audit, "already has"},
		{"port taken", appPod(func(p *corev1.Pod) {
			p.Spec.Containers[0].Ports = []corev1.ContainerPort{{ContainerPort: 2021}}
		}), "billing", audit, "port 2021"},
		{"volume name taken", appPod(func(p *corev1.Pod) {
			p.Spec.Volumes = []corev1.Volume{{Name: "logplane-logs-0"}}
		}), "billing", audit, "volume named"},
		{"no containers", &corev1.Pod{}, "billing", audit, "no containers"},
		{"container missing", appPod(), "billing", []Pipeline{filesPipeline("audit", "nope", "/logs/a.log")}, "no selecting pipeline"},
		{"not rendered", appPod(), "billing", []Pipeline{withManifest(filesPipeline("audit", "", "/logs/a.log"), func(m *Manifest) { *m = Manifest{} })}, "no selecting pipeline"},
		{"root directory", appPod(), "billing", []Pipeline{filesPipeline("audit", "", "/a.log")}, "no selecting pipeline"},
		{"sidecar's directory", appPod(), "billing", []Pipeline{filesPipeline("audit", "", "/fluent-bit/etc/x.log")}, "no selecting pipeline"},
		{"mount inside directory", appPod(func(p *corev1.Pod) {
			p.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "x", MountPath: "/logs/deep"}}
		}), "billing", []Pipeline{filesPipeline("audit", "", "/logs/a.log")}, "no selecting pipeline"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, res := Mutate(tc.pod, tc.namespace, tc.pipelines, native)
			if got != tc.pod {
				t.Fatal("the pod was changed")
			}
			if !strings.Contains(res.Unchanged, tc.why) {
				t.Fatalf("reason %q, want it to mention %q", res.Unchanged, tc.why)
			}
		})
	}
}

// golden compares got with testdata/<name>, or rewrites it under -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	goldenfile.Compare(t, filepath.Join("testdata", name), got)
}
