package integration

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/logplane/logplane/api/v1alpha1"
	agentobjects "github.com/logplane/logplane/internal/agent"
	"github.com/logplane/logplane/internal/alias"
	"github.com/logplane/logplane/internal/conditions"
)

// fakeFluentBit serves Fluent Bit's metrics for one output section whose counters
// grow at fixed rates in real time, as an agent shipping 50 records/s and dropping
// 5 of every 55 would.
func fakeFluentBit(t *testing.T, section string) *httptest.Server {
	srv := httptest.NewUnstartedServer(fluentBitMetrics(section))
	srv.Start()
	t.Cleanup(srv.Close)
	return srv
}

func fluentBitMetrics(section string) http.Handler {
	start := time.Now()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/v2/metrics/prometheus" {
			http.NotFound(w, r)
			return
		}
		s := time.Since(start).Seconds()
		fmt.Fprintf(w, "# TYPE fluentbit_uptime counter\nfluentbit_uptime{hostname=\"node\"} %d\n", int(s)+100)
		for _, m := range []struct {
			name string
			rate float64
		}{{"proc_records", 50}, {"proc_bytes", 50 * 300}, {"dropped_records", 5}, {"retried_records", 8}, {"errors", 1}} {
			fmt.Fprintf(w, "# TYPE fluentbit_output_%s_total counter\nfluentbit_output_%s_total{name=%q} %.3f\n", m.name, m.name, section, m.rate*s)
		}
	})
}

// TestThroughputReachesPipelineStatus runs the whole measurement path against a real
// API server: an agent pod (its status set by hand, as there is no kubelet) whose
// metrics port is a fake Fluent Bit; the monitor finds it through the cache, scrapes
// it, and the pipeline's status shows the rates, the per-output figures and a
// debounced FlowHealthy verdict that decides Ready.
func TestThroughputReachesPipelineStatus(t *testing.T) {
	ctx := t.Context()
	const ns = "team-flow"
	ensureNamespace(t, ns)
	out := &v1.LogOutput{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "debug"},
		Spec: v1.OutputSpec{Type: v1.OutputStdout, Stdout: &v1.StdoutOutput{}}}
	p := &v1.LogPipeline{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "web"},
		Spec: v1.LogPipelineSpec{Input: v1.LogPipelineInput{Containers: &v1.ContainerSelection{}}, OutputRefs: []v1.ResourceName{"debug"}}}
	for _, o := range []client.Object{out, p} {
		if err := k8s.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	section := alias.Output{PipelineKind: alias.LogPipeline, Namespace: ns, Pipeline: "web", OutputKind: alias.LogOutput, Output: "debug"}.Encode()
	srv := fakeFluentBit(t, section)
	_, portText, _ := net.SplitHostPort(srv.Listener.Addr().String())
	port, _ := strconv.Atoi(portText)

	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: operatorNamespace, Name: "fake-agent",
		Labels: map[string]string{agentobjects.LabelManagedBy: "logplane"}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "fluent-bit", Image: "fluent-bit",
			Ports: []corev1.ContainerPort{{Name: "metrics", ContainerPort: int32(port)}}}}}}
	if err := k8s.Create(ctx, pod); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = k8s.Delete(context.Background(), pod, client.GracePeriodSeconds(0)) }) // t.Context() is cancelled by now
	pod.Status = corev1.PodStatus{Phase: corev1.PodRunning, PodIP: "127.0.0.1"}
	if err := k8s.Status().Update(ctx, pod); err != nil {
		t.Fatal(err)
	}

	got := waitForSomeDataDropped(t, p)
	th := got.Status.Throughput
	if th.RecordsPerSecond < 40 || th.RecordsPerSecond > 60 || th.DroppedRecordsPerSecond < 4 || th.DroppedRecordsPerSecond > 6 ||
		th.DropRatioBasisPoints < 800 || th.DropRatioBasisPoints > 1000 || th.LastMeasured == nil || th.WindowSeconds > 3 {
		t.Errorf("throughput %+v, want ≈50 records/s, ≈5 dropped/s, ≈9%% dropped over a window of about a second", th)
	}
	if len(th.Outputs) != 1 || th.Outputs[0].Kind != alias.LogOutput || th.Outputs[0].Name != "debug" || th.Outputs[0].RecordsPerSecond == 0 {
		t.Errorf("per-output figures %+v", th.Outputs)
	}
	ready := meta.FindStatusCondition(got.Status.Conditions, conditions.TypeReady)
	if ready.Status != metav1.ConditionFalse || ready.Reason != conditions.ReasonAgentNotReady && ready.Reason != conditions.ReasonSomeDataDropped {
		t.Errorf("Ready %s/%s, want False (the agent has no DaemonSet pods, and data is dropped)", ready.Status, ready.Reason)
	}

	// The figures are rounded, so a steady flow is not rewritten every window.
	rv := got.ResourceVersion
	before := got.Status.DeepCopy()
	time.Sleep(4 * time.Second) // four cycles
	if err := k8s.Get(ctx, client.ObjectKeyFromObject(p), &got); err != nil {
		t.Fatal(err)
	}
	if got.ResourceVersion != rv {
		t.Errorf("a steady flow rewrote status (%s → %s):\n%+v\n%+v", rv, got.ResourceVersion, before, got.Status)
	}
}

// waitForSomeDataDropped waits until p's status shows throughput and the debounced
// SomeDataDropped verdict, and returns it.
func waitForSomeDataDropped(t *testing.T, p *v1.LogPipeline) v1.LogPipeline {
	t.Helper()
	var got v1.LogPipeline
	eventually(t, "throughput and a debounced SomeDataDropped in status", func() error {
		if err := k8s.Get(t.Context(), client.ObjectKeyFromObject(p), &got); err != nil {
			return err
		}
		c := meta.FindStatusCondition(got.Status.Conditions, conditions.TypeFlowHealthy)
		if c == nil || c.Reason != conditions.ReasonSomeDataDropped || got.Status.Throughput == nil {
			return fmt.Errorf("FlowHealthy %+v, throughput %+v", c, got.Status.Throughput)
		}
		return nil
	})
	return got
}
