package flow

import (
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

func TestTargets(t *testing.T) {
	port := func(name string, n int32) corev1.ContainerPort {
		return corev1.ContainerPort{Name: name, ContainerPort: n}
	}
	pod := func(name string, mods ...func(*corev1.Pod)) corev1.Pod {
		p := corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: name, UID: types.UID("uid-" + name),
			Labels: map[string]string{"app": "x"}, Annotations: map[string]string{"big": "config"}},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "app:1", Env: []corev1.EnvVar{{Name: "A", Value: "b"}}}}},
			Status: corev1.PodStatus{Phase: corev1.PodRunning, PodIP: "10.0.0.1",
				ContainerStatuses: []corev1.ContainerStatus{{Name: "app", Ready: true}}}}
		for _, m := range mods {
			m(&p)
		}
		return p
	}
	agent := func(p *corev1.Pod) {
		p.Namespace = "logplane-system"
		p.Spec.Containers = []corev1.Container{{Name: "fluent-bit", Ports: []corev1.ContainerPort{port("metrics", 2020)}}, {Name: "reloader"}}
	}
	nativeSidecar := func(p *corev1.Pod) {
		p.Spec.InitContainers = append(p.Spec.InitContainers, corev1.Container{Name: "logplane-sidecar", Ports: []corev1.ContainerPort{port("lp-metrics", 2021)}})
	}
	regularSidecar := func(p *corev1.Pod) {
		p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: "logplane-sidecar", Ports: []corev1.ContainerPort{port("lp-metrics", 2021)}})
	}
	ip := func(s string) func(*corev1.Pod) { return func(p *corev1.Pod) { p.Status.PodIP = s } }
	phase := func(ph corev1.PodPhase) func(*corev1.Pod) { return func(p *corev1.Pod) { p.Status.Phase = ph } }
	deleting := func(p *corev1.Pod) { now := metav1.Now(); p.DeletionTimestamp = &now }
	appPorts := func(p *corev1.Pod) {
		p.Spec.Containers[0].Ports = []corev1.ContainerPort{port("metrics", 9090), port("http", 80)}
	}

	cases := []struct {
		name string
		pod  corev1.Pod
		role PodRole
		want []Target
	}{
		{"agent", pod("agent-a", agent), AgentPods,
			[]Target{{Key: "logplane-system/agent-a/fluent-bit/uid-agent-a", URL: "http://10.0.0.1:2020/api/v2/metrics/prometheus", MaxBytes: MaxExposition}}},
		{"native sidecar, scoped to its namespace", pod("job-1", nativeSidecar, ip("fd00::5")), InjectedPods,
			[]Target{{Key: "team-a/job-1/logplane-sidecar/uid-job-1", URL: "http://[fd00::5]:2021/api/v2/metrics/prometheus", Namespace: "team-a", MaxBytes: SidecarMaxExposition}}},
		{"regular sidecar", pod("web-1", regularSidecar), InjectedPods,
			[]Target{{Key: "team-a/web-1/logplane-sidecar/uid-web-1", URL: "http://10.0.0.1:2021/api/v2/metrics/prometheus", Namespace: "team-a", MaxBytes: SidecarMaxExposition}}},
		// A tenant's own port named like the agents' is not an agent: it would
		// report every namespace's pipelines.
		{"the app's own metrics port is never read", pod("web-2", nativeSidecar, appPorts), InjectedPods,
			[]Target{{Key: "team-a/web-2/logplane-sidecar/uid-web-2", URL: "http://10.0.0.1:2021/api/v2/metrics/prometheus", Namespace: "team-a", MaxBytes: SidecarMaxExposition}}},
		{"a labelled pod without the sidecar", pod("fake", appPorts), InjectedPods, nil},
		{"a sidecar port is not an agent's", pod("web-3", nativeSidecar), AgentPods, nil},
		{"pending", pod("agent-b", agent, phase(corev1.PodPending), ip("")), AgentPods, nil},
		{"running without an IP yet", pod("agent-c", agent, ip("")), AgentPods, nil},
		{"succeeded job", pod("job-2", nativeSidecar, phase(corev1.PodSucceeded)), InjectedPods, nil},
		{"being deleted", pod("job-3", nativeSidecar, deleting), InjectedPods, nil},
		{"no port", pod("plain"), AgentPods, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, _ := Targets([]corev1.Pod{tc.pod}, tc.role, vouch{})
			if !slices.Equal(got, tc.want) {
				t.Errorf("targets %+v, want %+v", got, tc.want)
			}
		})
	}
}

// vouch stands in for the webhook's check: it vouches for every pod with a
// container named like the sidecar, and names that container.
type vouch struct{}

func (vouch) Sidecar(p *corev1.Pod) (string, string) {
	for _, c := range slices.Concat(p.Spec.InitContainers, p.Spec.Containers) {
		if c.Name == "logplane-sidecar" {
			return c.Name, ""
		}
	}
	return "", "no sidecar"
}

// refuse vouches for nothing.
type refuse struct{}

func (refuse) Sidecar(*corev1.Pod) (string, string) { return "", "forged" }

// Injected pods are read only when the injection check vouches for them, and then
// only at the sidecar container's port: another container's port named like the
// sidecar's is never read.
func TestTargetsOfInjectedPodsNeedAVouch(t *testing.T) {
	pod := corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: "web", UID: "u"},
		Spec: corev1.PodSpec{Containers: []corev1.Container{
			{Name: "app", Ports: []corev1.ContainerPort{{Name: "lp-metrics", ContainerPort: 9999}}},
			{Name: "logplane-sidecar", Ports: []corev1.ContainerPort{{Name: "lp-metrics", ContainerPort: 2021}}}}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, PodIP: "10.0.0.1"}}
	for _, tc := range []struct {
		name      string
		injection Injection
		want      int
		rejected  string
	}{
		{"no check", nil, 0, "nothing vouches for injected pods"},
		{"refused", refuse{}, 0, "forged"},
		{"vouched", vouch{}, 1, ""},
	} {
		got, rejected := Targets([]corev1.Pod{pod}, InjectedPods, tc.injection)
		if len(got) != tc.want {
			t.Errorf("%s: targets %+v, want %d", tc.name, got, tc.want)
		}
		if tc.want == 1 && (got[0].URL != "http://10.0.0.1:2021/api/v2/metrics/prometheus" || got[0].MaxBytes != SidecarMaxExposition || got[0].Namespace != "team-a") {
			t.Errorf("%s: target %+v, want the sidecar's port, its namespace and the sidecar limit", tc.name, got[0])
		}
		if (tc.rejected == "") != (len(rejected) == 0) || len(rejected) > 0 && (rejected[0].Why != tc.rejected || rejected[0].Pod != "team-a/web") {
			t.Errorf("%s: rejected %+v, want %q", tc.name, rejected, tc.rejected)
		}
	}
}
