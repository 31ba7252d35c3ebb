package integration

import (
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	v1 "github.com/logplane/logplane/api/v1alpha1"
	"github.com/logplane/logplane/internal/sidecar"
	"github.com/logplane/logplane/internal/webhook"
)

var benchRun atomic.Int32

// BenchmarkPodCreationBurst creates pods in bursts of 50 concurrent creations in an
// opted-in namespace with a selecting pipeline, against the local API server with
// the webhook in-process. It reports the API round trip per creation (p50/p99) and
// the webhook handler's mean time from controller-runtime's latency histogram (whose
// decade buckets are too coarse for percentiles; BenchmarkHandle in internal/webhook
// has those).
//
//	KUBEBUILDER_ASSETS=$(hack/setup-envtest.sh) go test ./test/integration -run XXX -bench PodCreationBurst -benchtime 500x
func BenchmarkPodCreationBurst(b *testing.B) {
	ctx := b.Context()
	ns := fmt.Sprintf("sidecar-bench-%d", benchRun.Add(1))
	for _, obj := range []client.Object{
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns, Labels: map[string]string{sidecar.LabelInjection: sidecar.InjectionEnabled}}},
		&v1.LogOutput{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "out"}, Spec: v1.OutputSpec{Type: v1.OutputStdout, Stdout: &v1.StdoutOutput{}}},
		&v1.LogPipeline{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "files"}, Spec: v1.LogPipelineSpec{
			Input: v1.LogPipelineInput{Files: &v1.FileInput{
				PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{"app": "billing"}},
				Paths:       []v1.LogFilePath{"/var/log/app/a.log"}}},
			OutputRefs: []v1.ResourceName{"out"}}},
	} {
		if err := k8s.Create(ctx, obj); err != nil {
			b.Fatal(err)
		}
	}
	// Wait until the webhook's cache knows the pipeline's Secret.
	deadline := time.Now().Add(30 * time.Second)
	for i := 0; ; i++ {
		p := billingPod(ns, fmt.Sprintf("warm-%d", i), "billing")
		if err := k8s.Create(ctx, p); err != nil {
			b.Fatal(err)
		}
		if injected(p) {
			break
		}
		if time.Now().After(deadline) {
			b.Fatal("no pod was injected")
		}
		time.Sleep(50 * time.Millisecond)
	}

	sum0, count0 := handlerLatency(b)
	const burst = 50
	var mu sync.Mutex
	durations := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for done := 0; done < b.N; done += burst {
		var wg sync.WaitGroup
		for i := range min(burst, b.N-done) {
			wg.Go(func() {
				p := billingPod(ns, fmt.Sprintf("p-%d", done+i), "billing")
				start := time.Now()
				err := k8s.Create(ctx, p)
				d := time.Since(start)
				if err != nil || !injected(p) {
					b.Errorf("pod %s: injected=%v, %v", p.Name, injected(p), err)
				}
				mu.Lock()
				durations = append(durations, d)
				mu.Unlock()
			})
		}
		wg.Wait()
	}
	b.StopTimer()
	slices.Sort(durations)
	n := len(durations)
	b.ReportMetric(float64(durations[n/2].Microseconds()), "create-p50-µs")
	b.ReportMetric(float64(durations[min(n-1, n*99/100)].Microseconds()), "create-p99-µs")
	if sum, count := handlerLatency(b); count > count0 {
		b.ReportMetric((sum-sum0)/float64(count-count0)*1e6, "handler-mean-µs")
	}
}

// handlerLatency reads controller-runtime's webhook latency histogram for the pod webhook.
func handlerLatency(b *testing.B) (sum float64, count uint64) {
	families, err := metrics.Registry.Gather()
	if err != nil {
		b.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != "controller_runtime_webhook_latency_seconds" {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "webhook" && l.GetValue() == webhook.Path {
					return m.GetHistogram().GetSampleSum(), m.GetHistogram().GetSampleCount()
				}
			}
		}
	}
	return 0, 0
}
