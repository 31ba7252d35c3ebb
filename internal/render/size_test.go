package render

import (
	"fmt"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/logplane/logplane/api/v1alpha1"
	"github.com/logplane/logplane/internal/alias"
	"github.com/logplane/logplane/internal/conditions"
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
// allows, tenant b's is ordinary. The agent's budgets are raised so that the size
// limits behind them are what is tested (TestHugePipelineIsOverBudget: by default the
// pipelineConfigBytes budget refuses the large pipeline first).
func twoTenants() *snapshot.Snapshot {
	s := &snapshot.Snapshot{OperatorNamespace: "logplane-system", Agents: []v1.LogAgent{raisedBudgets(v1.DefaultAgentName)},
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
			if len(res.Problems) != 1 || res.Problems[0].Ref != huge || res.Problems[0].Reason != conditions.ReasonConfigTooLarge ||
				res.Problems[0].Warning {
				t.Fatalf("problems %v, want ConfigTooLarge on %v", res.Problems, huge)
			}
			if msg := res.Problems[0].Message; !strings.Contains(msg, "LogOutput/team-a/out") {
				t.Errorf("message does not name the output: %s", msg)
			}
		})
	}
}

// withMaxShards lowers the number of shard files for one test.
func withMaxShards(t *testing.T, n int) {
	t.Helper()
	old := maxShards
	maxShards = n
	t.Cleanup(func() { maxShards = old })
}

// checkFits fails unless every file fits and every pipeline of s either renders or
// has a problem of its own, and returns the pipelines left out as too large.
func checkFits(t *testing.T, s *snapshot.Snapshot, res *Result) map[Ref]bool {
	t.Helper()
	cfg := res.Agents[0]
	if len(cfg.Files) > maxShards+1 {
		t.Errorf("%d files, more than %d shards and the main file", len(cfg.Files), maxShards)
	}
	for _, f := range cfg.Files {
		if len(f.Content) > maxFileBytes {
			t.Errorf("%s is %d bytes, over %d", f.Name, len(f.Content), maxFileBytes)
		}
	}
	rendered := map[Ref]bool{}
	for _, p := range cfg.Pipelines {
		rendered[p] = true
	}
	tooLarge := map[Ref]bool{}
	for _, p := range res.Problems {
		if p.Reason == conditions.ReasonConfigTooLarge {
			tooLarge[p.Ref] = true
		}
	}
	for _, p := range s.Pipelines {
		ref := Ref{Kind: alias.LogPipeline, Namespace: p.Namespace, Name: p.Name}
		if rendered[ref] == tooLarge[ref] {
			t.Errorf("%s: rendered %v, ConfigTooLarge %v", ref, rendered[ref], tooLarge[ref])
		}
	}
	return tooLarge
}

// When all sections together need more than maxShards files, the pipelines taking the
// most room in the full files are left out, and the rest render.
func TestTooManySectionsLeaveOutTheLargest(t *testing.T) {
	withMaxFileBytes(t, 16<<10)
	withMaxShards(t, 16)
	// 40 ordinary pipelines take about 72 KB of the 256 KB; tenant team-003's ten take
	// 24 KB each, in sections of 12 KB: they cannot all fit.
	s := fleet(40)
	var rules []v1.FieldMatch
	for i := range 12 {
		rules = append(rules, v1.FieldMatch{Field: "log", Regex: v1.Regex(fmt.Sprint(i) + strings.Repeat("y", 1000))})
	}
	for i := range s.Pipelines {
		if s.Pipelines[i].Namespace == "team-003" {
			s.Pipelines[i].Spec.Filters = []v1.Filter{{Type: v1.FilterGrep, Grep: &v1.GrepFilter{Exclude: rules}}}
		}
	}
	for name, render := range map[string]func(*snapshot.Snapshot) *Result{"Render": Render, "Renderer": NewRenderer().Render} {
		t.Run(name, func(t *testing.T) {
			res := render(s)
			left := checkFits(t, s, res)
			if len(left) == 0 {
				t.Fatal("nothing left out: the test does not overflow")
			}
			for ref := range left {
				if ref.Namespace != "team-003" {
					t.Errorf("%s left out while the large tenant's pipelines fill the files", ref)
				}
			}
			t.Logf("%d of %d pipelines left out", len(left), len(s.Pipelines))
		})
	}
}

// Parsers live in the main file, which is not sharded: when the pipelines' parsers do
// not fit in it, the pipelines with the largest are left out.
func TestMainFileTooLargeLeavesOutTheLargestParsers(t *testing.T) {
	s := twoTenants()
	s.Pipelines = s.Pipelines[1:] // the small tenant only
	// Tenant a: 30 pipelines of 32 parse filters with regexes of 1,024 characters, all
	// different: over 1 MB of parsers.
	for i := range 30 {
		var filters []v1.Filter
		for j := range 32 {
			re := v1.Regex(fmt.Sprintf("^(?<f%02d%02d>", i, j) + strings.Repeat("a", 1010) + ")$")
			filters = append(filters, v1.Filter{Type: v1.FilterParse, Parse: &v1.ParseFilter{Field: "log", Format: v1.ParseRegex, Regex: &re}})
		}
		s.Pipelines = append(s.Pipelines, v1.LogPipeline{
			ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: fmt.Sprintf("parsing-%02d", i), ResourceVersion: "1"},
			Spec: v1.LogPipelineSpec{Input: v1.LogPipelineInput{Containers: &v1.ContainerSelection{}},
				Filters: filters, OutputRefs: []v1.ResourceName{"out"}}})
	}
	for name, render := range map[string]func(*snapshot.Snapshot) *Result{"Render": Render, "Renderer": NewRenderer().Render} {
		t.Run(name, func(t *testing.T) {
			res := render(s)
			left := checkFits(t, s, res)
			// Each parsing pipeline adds 33 KB; the excess is about 120 KB.
			if len(left) == 0 || len(left) > 5 {
				t.Errorf("left out %v, want a few of the parsing pipelines", left)
			}
			if left[Ref{Kind: alias.LogPipeline, Namespace: "team-b", Name: "small"}] {
				t.Error("the small tenant's pipeline was left out")
			}
			for _, p := range res.Problems {
				if !strings.Contains(p.Message, "main file") {
					t.Errorf("message does not say the main file is full: %s", p.Message)
				}
			}
		})
	}
}

// A sidecar reads one file from one Secret in the tenant's namespace: a file-input
// pipeline whose configuration needs more is left out, and only its sidecar.
func TestSidecarTooLargeForOneFileIsLeftOut(t *testing.T) {
	s := twoTenants()
	// Two outputs whose sections, with 600 KB of filters each, fit in a file alone
	// but not together.
	s.Outputs = append(s.Outputs, v1.LogOutput{ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: "other"},
		Spec: v1.OutputSpec{Type: v1.OutputStdout, Stdout: &v1.StdoutOutput{}}})
	filters := hugeFilters()[:18]
	s.Pipelines[0].Spec.Filters = filters
	s.Pipelines[0].Spec.OutputRefs = []v1.ResourceName{"out", "other"}
	s.Pipelines[0].Spec.Input = v1.LogPipelineInput{Files: &v1.FileInput{Paths: []v1.LogFilePath{"/var/log/app.log"}}}
	res := Render(s)
	if len(res.Sidecars) != 0 {
		t.Errorf("%d sidecar configurations, want none", len(res.Sidecars))
	}
	huge := Ref{Kind: alias.LogPipeline, Namespace: "team-a", Name: "huge"}
	if len(res.Problems) != 1 || res.Problems[0].Ref != huge || res.Problems[0].Reason != conditions.ReasonConfigTooLarge {
		t.Fatalf("problems %v, want ConfigTooLarge on %v", res.Problems, huge)
	}
	if got := res.Agents[0].Pipelines; len(got) != 1 || got[0].Name != "small" {
		t.Errorf("agent pipelines %v, want the small one", got)
	}
}
