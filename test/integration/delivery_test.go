package integration

import (
	"fmt"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/logplane/logplane/api/v1alpha1"
	"github.com/logplane/logplane/internal/alias"
)

// outputSection is the agent configuration's output section with alias a, up to the
// next section.
func outputSection(cfg, a string) (string, error) {
	i := strings.Index(cfg, `alias: "`+a+`"`)
	if i < 0 {
		return "", errString("no output " + a + " in the configuration")
	}
	start := strings.LastIndex(cfg[:i], "- name:")
	end := strings.Index(cfg[i:], "- name:")
	if end < 0 {
		return cfg[start:], nil
	}
	return cfg[start : i+end], nil
}

// Changing a RetentionPolicy's delivery settings re-renders exactly the outputs of the
// pipelines that use it; the others' sections stay byte for byte the same.
func TestPolicyChangeRerendersOnlyItsPipelines(t *testing.T) {
	const ns = "team-delivery"
	ensureNamespace(t, ns)
	policy := &v1.RetentionPolicy{ObjectMeta: metav1.ObjectMeta{Name: "it-delivery"}, Spec: v1.RetentionPolicySpec{Retention: "30d",
		Retry: v1.RetentionRetry{MaxDuration: &metav1.Duration{Duration: time.Hour}}}}
	with := &v1.LogOutput{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "with-policy"},
		Spec: v1.OutputSpec{Type: v1.OutputStdout, Stdout: &v1.StdoutOutput{}, RetentionPolicy: "it-delivery"}}
	without := &v1.LogOutput{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "without-policy"},
		Spec: v1.OutputSpec{Type: v1.OutputStdout, Stdout: &v1.StdoutOutput{}}}
	pipeline := func(name, output string) *v1.LogPipeline {
		return &v1.LogPipeline{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Spec: v1.LogPipelineSpec{
			Input: v1.LogPipelineInput{Containers: &v1.ContainerSelection{}}, OutputRefs: []v1.ResourceName{v1.ResourceName(output)}}}
	}
	create(t, policy, with, without, pipeline("uses-policy", "with-policy"), pipeline("no-policy", "without-policy"))
	aliasOf := func(p, o string) string {
		return alias.Output{PipelineKind: alias.LogPipeline, Namespace: ns, Pipeline: p, OutputKind: alias.LogOutput, Output: o}.Encode()
	}
	usesAlias, otherAlias := aliasOf("uses-policy", "with-policy"), aliasOf("no-policy", "without-policy")

	var before string
	eventually(t, "both outputs rendered", func() error {
		cfg, _, err := agentConfig(t.Context())
		if err != nil {
			return err
		}
		uses, err := outputSection(cfg, usesAlias)
		if err != nil {
			return err
		}
		if before, err = outputSection(cfg, otherAlias); err != nil {
			return err
		}
		if !strings.Contains(uses, "retry_limit: 110") || !strings.Contains(before, "retry_limit: 110") {
			return errString(fmt.Sprintf("retry limits not rendered from 1h:\n%s\n%s", uses, before))
		}
		return nil
	})

	base := policy.DeepCopy()
	policy.Spec.Retry.MaxDuration = &metav1.Duration{Duration: 0}
	if err := k8s.Patch(t.Context(), policy, client.MergeFrom(base)); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the policy's pipeline re-rendered", func() error {
		cfg, _, err := agentConfig(t.Context())
		if err != nil {
			return err
		}
		uses, err := outputSection(cfg, usesAlias)
		if err != nil {
			return err
		}
		if !strings.Contains(uses, `retry_limit: "no_limits"`) && !strings.Contains(uses, "retry_limit: no_limits") {
			return errString("not re-rendered yet:\n" + uses)
		}
		other, err := outputSection(cfg, otherAlias)
		if err != nil {
			return err
		}
		if other != before {
			t.Errorf("a pipeline without the policy changed:\n%s\nwas:\n%s", other, before)
		}
		return nil
	})
}
