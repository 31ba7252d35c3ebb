package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	v1 "github.com/logplane/logplane/api/v1alpha1"
	agentobjects "github.com/logplane/logplane/internal/agent"
	"github.com/logplane/logplane/internal/alias"
	"github.com/logplane/logplane/internal/conditions"
)

// reconcilePanics reads controller-runtime's count of recovered reconcile panics, of
// every controller.
func reconcilePanics(t *testing.T) float64 {
	t.Helper()
	families, err := metrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	total := 0.0
	for _, f := range families {
		if f.GetName() == "controller_runtime_reconcile_panics_total" {
			for _, m := range f.GetMetric() {
				total += m.GetCounter().GetValue()
			}
		}
	}
	return total
}

// applyAsTenant applies obj server-side, as kubectl apply --server-side and Argo CD do.
func applyAsTenant(ctx context.Context, obj client.Object, kind string) error {
	u, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		return err
	}
	o := &unstructured.Unstructured{Object: u}
	o.SetAPIVersion(v1.GroupVersion.String())
	o.SetKind(kind)
	delete(o.Object, "status")
	return k8s.Apply(ctx, client.ApplyConfigurationFromUnstructured(o), client.FieldOwner("tenant"), client.ForceOwnership)
}

// pipelineConfigGenerated checks that p's ConfigGenerated condition has status want and
// reason, for p's current generation.
func pipelineConfigGenerated(ctx context.Context, p *v1.LogPipeline, want metav1.ConditionStatus, reason string) func() error {
	return func() error {
		var got v1.LogPipeline
		if err := k8s.Get(ctx, client.ObjectKeyFromObject(p), &got); err != nil {
			return err
		}
		c := meta.FindStatusCondition(got.Status.Conditions, conditions.TypeConfigGenerated)
		if c == nil || c.Status != want || c.Reason != reason || c.ObservedGeneration != got.Generation {
			return errString(fmt.Sprintf("ConfigGenerated %+v", c))
		}
		return nil
	}
}

// agentConfigHolds reports whether any of the default agent's configuration files,
// the main one or a shard, holds s.
func agentConfigHolds(ctx context.Context, s string) (bool, error) {
	var secrets corev1.SecretList
	if err := k8s.List(ctx, &secrets, client.InNamespace(operatorNamespace),
		client.MatchingLabels{agentobjects.LabelAgent: v1.DefaultAgentName}); err != nil {
		return false, err
	}
	prefix := agentobjects.ResourceName(v1.DefaultAgentName) + "-config-"
	for _, sec := range secrets.Items {
		if !strings.HasPrefix(sec.Name, prefix) {
			continue
		}
		for _, data := range sec.Data {
			if strings.Contains(string(data), s) {
				return true, nil
			}
		}
	}
	return false, nil
}

// The measured incident of issue 18: one tenant's LogPipeline of about 1 MB, valid
// under the CRD, made every agent reconcile panic, and a pipeline another tenant
// created afterwards never reached the configuration nor got a status. Now the large
// one is left out with ConfigTooLarge on its own status, the other renders, and
// nothing panics.
func TestOneTenantsHugePipelineFreezesNoOne(t *testing.T) {
	ctx := t.Context()
	const big, small = "incident-a", "incident-b"
	for _, ns := range []string{big, small} {
		ensureNamespace(t, ns)
		out := &v1.LogOutput{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "out"},
			Spec: v1.OutputSpec{Type: v1.OutputStdout, Stdout: &v1.StdoutOutput{}}}
		if err := applyAsTenant(ctx, out, "LogOutput"); err != nil {
			t.Fatal(err)
		}
	}
	panicsBefore := reconcilePanics(t)

	// 32 greps of 16 include and 16 exclude rules of 1,024 characters: the largest
	// filters the CRD admits.
	rules := make([]v1.FieldMatch, 16)
	for i := range rules {
		rules[i] = v1.FieldMatch{Field: "log", Regex: v1.Regex(fmt.Sprintf("%04d", i) + strings.Repeat("x", 1020))}
	}
	filters := make([]v1.Filter, 32)
	for i := range filters {
		filters[i] = v1.Filter{Type: v1.FilterGrep, Grep: &v1.GrepFilter{Include: rules, Exclude: rules}}
	}
	huge := &v1.LogPipeline{ObjectMeta: metav1.ObjectMeta{Namespace: big, Name: "huge"},
		Spec: v1.LogPipelineSpec{Input: v1.LogPipelineInput{Containers: &v1.ContainerSelection{}},
			Filters: filters, OutputRefs: []v1.ResourceName{"out"}}}
	if data, _ := json.Marshal(huge); len(data) < 1<<20 {
		t.Fatalf("the pipeline is %d bytes, want about 1 MB", len(data))
	}
	if err := applyAsTenant(ctx, huge, "LogPipeline"); err != nil {
		t.Fatalf("the API server refused the large pipeline: %v", err)
	}
	t.Cleanup(func() { _ = k8s.Delete(context.Background(), huge) })
	applied := time.Now()
	other := &v1.LogPipeline{ObjectMeta: metav1.ObjectMeta{Namespace: small, Name: "ordinary"},
		Spec: v1.LogPipelineSpec{Input: v1.LogPipelineInput{Containers: &v1.ContainerSelection{}}, OutputRefs: []v1.ResourceName{"out"}}}
	if err := applyAsTenant(ctx, other, "LogPipeline"); err != nil {
		t.Fatal(err)
	}

	otherAlias := alias.Output{PipelineKind: alias.LogPipeline, Namespace: small, Pipeline: "ordinary",
		OutputKind: alias.LogOutput, Output: "out"}.Encode()
	eventually(t, "the other tenant's pipeline in the configuration", func() error {
		ok, err := agentConfigHolds(ctx, otherAlias)
		if err == nil && !ok {
			err = errString("not in the configuration yet")
		}
		return err
	})
	eventually(t, "the other tenant's pipeline ConfigGenerated=True",
		pipelineConfigGenerated(ctx, other, metav1.ConditionTrue, conditions.ReasonConfigGenerated))
	// The default pipelineConfigBytes budget refuses it before the file limits
	// (ConfigTooLarge) are reached.
	eventually(t, "the large pipeline ConfigGenerated=False OverBudget",
		pipelineConfigGenerated(ctx, huge, metav1.ConditionFalse, conditions.ReasonOverBudget))
	t.Logf("both statuses written %v after the large pipeline was applied", time.Since(applied).Round(time.Millisecond))

	if ok, err := agentConfigHolds(ctx, "lp_lpl_"+big+"_huge_"); err != nil || ok {
		t.Errorf("the large pipeline is in the configuration (err %v)", err)
	}
	var got v1.LogPipeline
	if err := k8s.Get(ctx, client.ObjectKeyFromObject(huge), &got); err != nil {
		t.Fatal(err)
	}
	msg := meta.FindStatusCondition(got.Status.Conditions, conditions.TypeConfigGenerated).Message
	if !strings.Contains(msg, "bytes of configuration") || !strings.Contains(msg, "spec.budgets.perNamespace.pipelineConfigBytes") {
		t.Errorf("the message does not say which budget the pipeline is over and where to raise it: %s", msg)
	}
	if n := reconcilePanics(t) - panicsBefore; n > 0 {
		t.Errorf("%v reconciles panicked", n)
	}
}
