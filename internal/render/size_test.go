package render

import (
	"fmt"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/logplane/logplane/api/v1alpha1"
	"github.com/logplane/logplane/internal/alias"
	"github.com/logplane/logplane/internal/snapshot"
)

// hugeFilters are the largest filters the CRD admits: 32 greps of 16 include and 16
// exclude rules, each regex 1,024 characters. The object is about 1 MB, which etcd
// stores; its processors alone are over a megabyte of configuration.
func hugeFilters() []v1.Filter {
	rules := make([]v1.FieldMatch, 16)
	for i := range rules {
		rules[i] = v1.FieldMatch{Field: "log", Regex: v1.Regex(fmt.Sprintf("%04d", i) + strings.Repeat("x", 1020))}
	}
	filters := make([]v1.Filter, 32)
	for i := range filters {
		filters[i] = v1.Filter{Type: v1.FilterGrep, Grep: &v1.GrepFilter{Include: rules, Exclude: rules}}
	}
	return filters
}

// twoTenants is the measured incident: tenant a's pipeline is as large as the CRD
// allows, tenant b's is ordinary.
func twoTenants() *snapshot.Snapshot {
	s := &snapshot.Snapshot{OperatorNamespace: "logplane-system",
		Namespaces: []snapshot.Namespace{{Name: "team-a"}, {Name: "team-b"}}}
	for _, ns := range []string{"team-a", "team-b"} {
		s.Outputs = append(s.Outputs, v1.LogOutput{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "out", ResourceVersion: "1"},
			Spec: v1.OutputSpec{Type: v1.OutputStdout, Stdout: &v1.StdoutOutput{}}})
	}
	s.Pipelines = []v1.LogPipeline{
		{ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: "huge", ResourceVersion: "1"},
			Spec: v1.LogPipelineSpec{Input: v1.LogPipelineInput{Containers: &v1.ContainerSelection{}},
				Filters: hugeFilters(), OutputRefs: []v1.ResourceName{"out"}}},
		{ObjectMeta: metav1.ObjectMeta{Namespace: "team-b", Name: "small", ResourceVersion: "1"},
			Spec: v1.LogPipelineSpec{Input: v1.LogPipelineInput{Containers: &v1.ContainerSelection{}},
				OutputRefs: []v1.ResourceName{"out"}}},
	}
	return s
}

// A pipeline whose section alone does not fit in a file is left out with
// ConfigTooLarge on its own status; the other tenant's pipeline renders.
func TestPipelineTooLargeForAFileIsLeftOut(t *testing.T) {
	huge := Ref{Kind: alias.LogPipeline, Namespace: "team-a", Name: "huge"}
	small := Ref{Kind: alias.LogPipeline, Namespace: "team-b", Name: "small"}
	for name, render := range map[string]func(*snapshot.Snapshot) *Result{
		"Render": Render, "Renderer": NewRenderer().Render,
	} {
		t.Run(name, func(t *testing.T) {
			res := render(twoTenants())
			cfg := res.Agents[0]
			if len(cfg.Pipelines) != 1 || cfg.Pipelines[0] != small {
				t.Errorf("pipelines rendered: %v, want only %v", cfg.Pipelines, small)
			}
			for _, f := range cfg.Files {
				if len(f.Content) > maxFileBytes {
					t.Errorf("%s is %d bytes, over %d", f.Name, len(f.Content), maxFileBytes)
				}
			}
			if len(res.Problems) != 1 || res.Problems[0].Ref != huge || res.Problems[0].Reason != "ConfigTooLarge" ||
				res.Problems[0].Warning {
				t.Fatalf("problems %v, want ConfigTooLarge on %v", res.Problems, huge)
			}
			if msg := res.Problems[0].Message; !strings.Contains(msg, "LogOutput/team-a/out") {
				t.Errorf("message does not name the output: %s", msg)
			}
		})
	}
}
