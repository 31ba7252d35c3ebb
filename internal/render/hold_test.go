package render

import (
	"testing"

	"github.com/logplane/logplane/internal/alias"
	"github.com/logplane/logplane/internal/conditions"
)

// Held pipelines are left out exactly as if they did not exist, with the caller's
// problem on their status; a held output leaves the pipelines using it shipping to
// their other outputs, told to look at the output's status. Nobody else changes.
func TestRenderHolding(t *testing.T) {
	s := fleet(40)
	want := Render(without(s, "app-0003", "app-0011"))
	pending := Problem{Reason: conditions.ReasonCanaryPending, Message: "waiting"}
	held := map[Ref]Problem{
		{Kind: alias.LogPipeline, Namespace: "team-003", Name: "app-0003"}: pending,
		{Kind: alias.LogPipeline, Namespace: "team-003", Name: "app-0011"}: {}, // held, no problem reported
	}
	for name, render := range map[string]func() *Result{
		"RenderHolding": func() *Result { return RenderHolding(s, held) },
		"Renderer":      func() *Result { return NewRenderer().RenderHolding(s, held) },
	} {
		t.Run(name, func(t *testing.T) {
			got := render()
			if got.Agents[0].Hash != want.Agents[0].Hash || !sameFiles(got.Agents[0].Files, want.Agents[0].Files) {
				t.Error("holding two pipelines renders otherwise than leaving them out")
			}
			var reported []Problem
			for _, p := range got.Problems {
				if p.Ref.Name == "app-0003" || p.Ref.Name == "app-0011" {
					reported = append(reported, p)
				}
			}
			if len(reported) != 1 || reported[0].Reason != conditions.ReasonCanaryPending || reported[0].Ref.Name != "app-0003" {
				t.Errorf("problems of the held pipelines = %v, want one CanaryPending on app-0003", reported)
			}
		})
	}

	out := Ref{Kind: alias.ClusterLogOutput, Name: "central"}
	got := RenderHolding(s, map[Ref]Problem{out: {Reason: conditions.ReasonRejectedByAgent, Message: "refused"}})
	var onOutput, onPipelines int
	for _, p := range got.Problems {
		switch {
		case p.Ref == out && p.Reason == conditions.ReasonRejectedByAgent:
			onOutput++
		case p.Ref.Kind == alias.LogPipeline && p.Reason == conditions.ReasonOutputInvalid:
			onPipelines++
		}
	}
	if onOutput != 1 || onPipelines != 40 {
		t.Errorf("a held output: %d problems on it, %d pipelines told its status; want 1 and 40", onOutput, onPipelines)
	}
	if len(got.Agents[0].Pipelines) != 40 {
		t.Errorf("%d pipelines still ship to their own outputs, want 40", len(got.Agents[0].Pipelines))
	}
}
