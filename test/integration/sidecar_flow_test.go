package integration

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http/httptest"
	"slices"
	"strconv"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/logplane/logplane/api/v1alpha1"
	"github.com/logplane/logplane/internal/alias"
	"github.com/logplane/logplane/internal/conditions"
	"github.com/logplane/logplane/internal/fluentbit"
	"github.com/logplane/logplane/internal/sidecar"
)

// listenOnLoopback listens on port at an address of its own in 127.0.0.0/8 (all of
// it is loopback on Linux), so that a fake process can serve on the port a pod spec
// names without colliding with anything else on the machine.
func listenOnLoopback(t *testing.T, port int32) net.Listener {
	t.Helper()
	var err error
	for range 20 {
		ip := net.IPv4(127, byte(1+rand.IntN(254)), byte(rand.IntN(256)), byte(1+rand.IntN(254)))
		var l net.Listener
		if l, err = net.Listen("tcp", net.JoinHostPort(ip.String(), strconv.Itoa(int(port)))); err == nil {
			return l
		}
	}
	t.Fatalf("no loopback address free on port %d: %v", port, err)
	return nil
}

// TestSidecarThroughputReachesPipelineStatus follows a file-input pipeline from
// injection to its figures: the webhook injects and labels a selected pod, the
// operator's injected-pod cache sees it, the monitor reads the sidecar on the port the
// injected container declares (a fake Fluent Bit there; the pod's status, with a
// loopback IP, is set by hand as there is no kubelet), and the pipeline's status
// shows the figures. When the pod is gone, FlowHealthy says no sidecar runs, which
// does not hold Ready back.
func TestSidecarThroughputReachesPipelineStatus(t *testing.T) {
	ctx := t.Context()
	const ns = "sidecar-flow"
	createNamespace(t, ns, true)
	out := &v1.LogOutput{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "debug"},
		Spec: v1.OutputSpec{Type: v1.OutputStdout, Stdout: &v1.StdoutOutput{}}}
	p := &v1.LogPipeline{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "files"}, Spec: v1.LogPipelineSpec{
		Input: v1.LogPipelineInput{Files: &v1.FileInput{
			PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{"app": "billing"}},
			Container:   "app", Paths: []v1.LogFilePath{"/var/log/billing/*.log"}}},
		OutputRefs: []v1.ResourceName{"debug"}}}
	for _, o := range []client.Object{out, p} {
		if err := k8s.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, "sidecar Secret written", func() error {
		return k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: sidecar.SecretName("files")}, &corev1.Secret{})
	})

	// The webhook reads the Secret from the manager's cache, which may trail it.
	var pod *corev1.Pod
	for i := 0; ; i++ {
		pod = createPod(t, billingPod(ns, fmt.Sprintf("app-%d", i), "billing"))
		if injected(pod) || i == 50 {
			break
		}
		if err := k8s.Delete(ctx, pod); err != nil {
			t.Fatal(err)
		}
	}
	if !injected(pod) || pod.Labels[sidecar.LabelInjected] != sidecar.Injected {
		t.Fatalf("pod not injected and labelled: labels %v", pod.Labels)
	}
	t.Cleanup(func() { _ = k8s.Delete(context.Background(), pod, client.GracePeriodSeconds(0)) }) // t.Context() is cancelled by now
	var port int32
	for _, c := range slices.Concat(pod.Spec.InitContainers, pod.Spec.Containers) {
		for _, cp := range c.Ports {
			if c.Name == sidecar.ContainerName && cp.Name == fluentbit.SidecarMetricsPortName {
				port = cp.ContainerPort
			}
		}
	}
	if port == 0 {
		t.Fatalf("the sidecar declares no %s port", fluentbit.SidecarMetricsPortName)
	}

	section := alias.Output{PipelineKind: alias.LogPipeline, Namespace: ns, Pipeline: "files", OutputKind: alias.LogOutput, Output: "debug"}.Encode()
	srv := httptest.NewUnstartedServer(fluentBitMetrics(section))
	srv.Listener = listenOnLoopback(t, port)
	srv.Start()
	t.Cleanup(srv.Close)
	host, _, _ := net.SplitHostPort(srv.Listener.Addr().String())
	pod.Status = corev1.PodStatus{Phase: corev1.PodRunning, PodIP: host}
	if err := k8s.Status().Update(ctx, pod); err != nil {
		t.Fatal(err)
	}

	got := waitForSomeDataDropped(t, p)
	th := got.Status.Throughput
	if th.RecordsPerSecond < 40 || th.RecordsPerSecond > 60 || th.DroppedRecordsPerSecond < 4 || th.DroppedRecordsPerSecond > 6 ||
		len(th.Outputs) != 1 || th.Outputs[0].Name != "debug" {
		t.Errorf("throughput %+v, want ≈50 records/s and ≈5 dropped/s through output debug", th)
	}
	if ready := meta.FindStatusCondition(got.Status.Conditions, conditions.TypeReady); ready.Status != metav1.ConditionFalse ||
		ready.Reason != conditions.ReasonSomeDataDropped {
		t.Errorf("Ready %s/%s, want False/SomeDataDropped", ready.Status, ready.Reason)
	}

	// Pods that only look injected are not read: a tenant's own pods, each serving
	// the same figures at the sidecar's port, would double the rate if they were.
	// An exact copy of an injected pod is read (the trust docs/concepts.md states):
	// that shows the rate would move.
	forge := func(name string, edit func(*corev1.Pod)) *corev1.Pod {
		f := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name,
			Labels: map[string]string{sidecar.LabelInjected: sidecar.Injected}, Annotations: map[string]string{}},
			Spec: *pod.Spec.DeepCopy()}
		for k, v := range pod.Annotations {
			f.Annotations[k] = v
		}
		edit(f)
		if err := k8s.Create(ctx, f); err != nil {
			t.Fatal(err)
		}
		fake := httptest.NewUnstartedServer(fluentBitMetrics(section))
		fake.Listener = listenOnLoopback(t, port)
		fake.Start()
		t.Cleanup(fake.Close)
		ip, _, _ := net.SplitHostPort(fake.Listener.Addr().String())
		f.Status = corev1.PodStatus{Phase: corev1.PodRunning, PodIP: ip}
		if err := k8s.Status().Update(ctx, f); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = k8s.Delete(context.Background(), f, client.GracePeriodSeconds(0)) })
		return f
	}
	forge("forged-container", func(f *corev1.Pod) {
		f.Annotations = nil
		f.Spec = corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "billing:1"},
			{Name: sidecar.ContainerName, Image: "attacker/metrics:1", Ports: []corev1.ContainerPort{{Name: fluentbit.SidecarMetricsPortName, ContainerPort: port}}}}}
	})
	forge("forged-hashes", func(f *corev1.Pod) { f.Annotations[sidecar.AnnotationHashes] = "files=forged" })
	forge("forged-config", func(f *corev1.Pod) { f.Annotations[sidecar.AnnotationConfig] += "\n@INCLUDE /tmp/mine.yaml\n" })
	records := func() int64 {
		var now v1.LogPipeline
		if err := k8s.Get(ctx, client.ObjectKeyFromObject(p), &now); err != nil || now.Status.Throughput == nil {
			t.Fatalf("pipeline: %v", err)
		}
		return now.Status.Throughput.RecordsPerSecond
	}
	time.Sleep(5 * time.Second) // five flow cycles: each forgery read twice over, had it been read
	if r := records(); r < 40 || r > 60 {
		t.Errorf("%d records/s with forged pods beside the injected one, want ≈50: a forgery was read", r)
	}
	copied := forge("exact-copy", func(*corev1.Pod) {})
	eventually(t, "an exact copy of an injected pod is read", func() error {
		if r := records(); r < 90 || r > 110 {
			return fmt.Errorf("%d records/s, want ≈100", r)
		}
		return nil
	})
	if err := k8s.Delete(ctx, copied, client.GracePeriodSeconds(0)); err != nil {
		t.Fatal(err)
	}

	// The Job-like pod finishes: no sidecar runs the pipeline any more. The figures
	// stay as last measured; the verdict says why there are no new ones.
	pod.Status.Phase = corev1.PodSucceeded
	if err := k8s.Status().Update(ctx, pod); err != nil {
		t.Fatal(err)
	}
	eventually(t, "FlowHealthy NoSidecarsRunning, Ready not held back", func() error {
		if err := k8s.Get(ctx, client.ObjectKeyFromObject(p), &got); err != nil {
			return err
		}
		c := meta.FindStatusCondition(got.Status.Conditions, conditions.TypeFlowHealthy)
		ready := meta.FindStatusCondition(got.Status.Conditions, conditions.TypeReady)
		if c == nil || c.Status != metav1.ConditionUnknown || c.Reason != conditions.ReasonNoSidecarsRunning ||
			ready == nil || ready.Status != metav1.ConditionTrue {
			return fmt.Errorf("FlowHealthy %+v, Ready %+v", c, ready)
		}
		return nil
	})
}
