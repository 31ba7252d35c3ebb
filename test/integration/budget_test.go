package integration

import (
	"context"
	"fmt"
	"strings"
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

// Through the operator: a pipeline that would take its namespace over a LogAgent's
// budget is refused with OverBudget on its own status, and the pipeline that was there
// first stays in the agent's configuration with ConfigGenerated=True; raising the
// budget on the LogAgent admits the newcomer.
func TestNewcomerOverBudgetIsRefusedIncumbentStays(t *testing.T) {
	ctx := t.Context()
	const ns, agentName = "budget-a", "budgeted"
	ensureNamespace(t, ns)
	agent := &v1.LogAgent{ObjectMeta: metav1.ObjectMeta{Name: agentName},
		Spec: v1.LogAgentSpec{Budgets: v1.AgentBudgets{PerNamespace: v1.NamespaceBudget{OutputSections: 3}}}}
	if err := k8s.Create(ctx, agent); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = k8s.Delete(context.Background(), agent) })
	var refs []v1.ResourceName
	for i := range 2 {
		out := &v1.LogOutput{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: fmt.Sprintf("out-%d", i)},
			Spec: v1.OutputSpec{Type: v1.OutputStdout, Stdout: &v1.StdoutOutput{}}}
		if err := k8s.Create(ctx, out); err != nil {
			t.Fatal(err)
		}
		refs = append(refs, v1.ResourceName(out.Name))
	}
	pipeline := func(name string) *v1.LogPipeline {
		return &v1.LogPipeline{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
			Spec: v1.LogPipelineSpec{Agent: agentName, Input: v1.LogPipelineInput{Containers: &v1.ContainerSelection{}}, OutputRefs: refs}}
	}
	configHolds := func(name string) (bool, error) {
		var s corev1.Secret
		key := client.ObjectKey{Namespace: operatorNamespace, Name: agentobjects.ResourceName(agentName) + "-config-0"}
		if err := k8s.Get(ctx, key, &s); err != nil {
			return false, err
		}
		a := alias.Output{PipelineKind: alias.LogPipeline, Namespace: ns, Pipeline: name, OutputKind: alias.LogOutput, Output: "out-0"}.Encode()
		return strings.Contains(string(s.Data["fluent-bit.yaml"]), a), nil
	}

	incumbent := pipeline("incumbent")
	if err := k8s.Create(ctx, incumbent); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the incumbent ConfigGenerated=True", pipelineConfigGenerated(ctx, incumbent, metav1.ConditionTrue, conditions.ReasonConfigGenerated))
	// creationTimestamp has a resolution of a second: the newcomer must be newer, not
	// merely later in name order ("incumbent" < "newcomer" would decide it anyway).
	time.Sleep(1100 * time.Millisecond)
	newcomer := pipeline("a-newcomer")
	if err := k8s.Create(ctx, newcomer); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the newcomer ConfigGenerated=False OverBudget", pipelineConfigGenerated(ctx, newcomer, metav1.ConditionFalse, conditions.ReasonOverBudget))
	var got v1.LogPipeline
	if err := k8s.Get(ctx, client.ObjectKeyFromObject(newcomer), &got); err != nil {
		t.Fatal(err)
	}
	msg := meta.FindStatusCondition(got.Status.Conditions, conditions.TypeConfigGenerated).Message
	if !strings.Contains(msg, "its 2 output sections would bring namespace "+ns+"'s total to 4, over the budget of 3") ||
		!strings.Contains(msg, "spec.budgets.perNamespace.outputSections") {
		t.Errorf("message: %s", msg)
	}
	eventually(t, "the incumbent still ConfigGenerated=True", pipelineConfigGenerated(ctx, incumbent, metav1.ConditionTrue, conditions.ReasonConfigGenerated))
	for name, want := range map[string]bool{"incumbent": true, "a-newcomer": false} {
		if ok, err := configHolds(name); err != nil || ok != want {
			t.Errorf("%s in the configuration: %v, want %v (err %v)", name, ok, want, err)
		}
	}
	// The LogAgent says what the configuration claims: the incumbent's two stdout
	// sections (one worker each), not the newcomer's.
	usage := func(sections int32) func() error {
		return func() error {
			var a v1.LogAgent
			if err := k8s.Get(ctx, client.ObjectKeyFromObject(agent), &a); err != nil {
				return err
			}
			if u := a.Status.BudgetUsage; u == nil || u.OutputSections != sections || u.Workers != sections {
				return fmt.Errorf("status.budgetUsage %+v", u)
			}
			return nil
		}
	}
	eventually(t, "status.budgetUsage of 2 sections", usage(2))

	patch := client.MergeFrom(agent.DeepCopy())
	agent.Spec.Budgets.PerNamespace.OutputSections = 4
	if err := k8s.Patch(ctx, agent, patch); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the newcomer ConfigGenerated=True once the budget is raised", pipelineConfigGenerated(ctx, newcomer, metav1.ConditionTrue, conditions.ReasonConfigGenerated))
	eventually(t, "status.budgetUsage of 4 sections", usage(4))
}
