package integration

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	v1 "github.com/logplane/logplane/api/v1alpha1"
	agentobjects "github.com/logplane/logplane/internal/agent"
)

// agentReconciles reads controller-runtime's reconcile counter for the agent controller.
func agentReconciles(t *testing.T) float64 {
	t.Helper()
	families, err := metrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	total := 0.0
	for _, f := range families {
		if f.GetName() != "controller_runtime_reconcile_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			if label(m, "controller") == "agent" {
				total += m.GetCounter().GetValue()
			}
		}
	}
	return total
}

func label(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

// A burst of N pipeline creations costs far fewer than N renders: the work queue holds
// one entry per agent, so events that arrive while a render runs share the next one.
// (Counts, not timings, are asserted; the timings are logged.)
func TestBurstOfPipelinesIsCoalesced(t *testing.T) {
	const n = 300
	ctx := t.Context()
	ns := "burst"
	ensureNamespace(t, ns)
	out := &v1.LogOutput{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "debug"},
		Spec: v1.OutputSpec{Type: v1.OutputStdout, Stdout: &v1.StdoutOutput{}}}
	if err := k8s.Create(ctx, out); err != nil {
		t.Fatal(err)
	}
	// An agent of their own whose budgets admit them all (the default budgets hold a
	// namespace to 16 output sections).
	most := resource.MustParse("100Ti")
	agent := &v1.LogAgent{ObjectMeta: metav1.ObjectMeta{Name: "burst"}, Spec: v1.LogAgentSpec{Budgets: v1.AgentBudgets{
		PerNamespace: v1.NamespaceBudget{OutputSections: 100000, Workers: 100000, FilterThreads: 100000, FilesystemBuffer: &most},
		PerAgent:     v1.AgentBudget{OutputSections: 100000, Workers: 100000, FilterThreads: 100000, FilesystemBuffer: &most}}}}
	if err := k8s.Create(ctx, agent); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = k8s.Delete(context.Background(), agent) })
	before := agentReconciles(t)
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += 8 {
				p := &v1.LogPipeline{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: fmt.Sprintf("p-%03d", i)},
					Spec: v1.LogPipelineSpec{Agent: "burst", Input: v1.LogPipelineInput{Containers: &v1.ContainerSelection{}},
						OutputRefs: []v1.ResourceName{"debug"}}}
				if err := k8s.Create(ctx, p); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	created := time.Since(start)
	eventually(t, "all pipelines in the configuration", func() error {
		var secret corev1.Secret
		key := client.ObjectKey{Namespace: operatorNamespace, Name: agentobjects.ResourceName("burst") + "-config-0"}
		if err := k8s.Get(ctx, key, &secret); err != nil {
			return err
		}
		if c := strings.Count(string(secret.Data["fluent-bit.yaml"]), "alias: \"lp_lpl_burst_"); c != n {
			return errString(fmt.Sprintf("%d of %d pipelines", c, n))
		}
		return nil
	})
	complete := time.Since(start)
	reconciles := agentReconciles(t) - before
	t.Logf("%d pipelines created in %v; configuration complete after %v; %v agent reconciles", n, created.Round(time.Millisecond),
		complete.Round(time.Millisecond), reconciles)
	if reconciles >= n {
		t.Errorf("%v reconciles for %d events: the burst was not coalesced", reconciles, n)
	}
}
