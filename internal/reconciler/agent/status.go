package agent

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/logplane/logplane/api/v1alpha1"
	"github.com/logplane/logplane/internal/alias"
	"github.com/logplane/logplane/internal/conditions"
	"github.com/logplane/logplane/internal/render"
	"github.com/logplane/logplane/internal/snapshot"
	"github.com/logplane/logplane/internal/status"
)

// configCondition is the ConfigGenerated verdict for one resource, from the render:
// the first blocking problem wins; warnings keep it True but say so.
func configCondition(ref render.Ref, rendered bool, problems []render.Problem, generation int64) metav1.Condition {
	var blocking, warnings []render.Problem
	for _, p := range problems {
		if p.Ref != ref {
			continue
		}
		if p.Warning {
			warnings = append(warnings, p)
		} else {
			blocking = append(blocking, p)
		}
	}
	switch {
	case len(blocking) > 0 && (!rendered || blocking[0].Reason == conditions.ReasonRejectedByAgent):
		// Refused by Fluent Bit: the message says whether the previous version runs.
		return condition(conditions.TypeConfigGenerated, metav1.ConditionFalse, blocking[0].Reason, join(blocking), generation)
	case len(blocking) > 0:
		// Some outputs failed; the pipeline ships to the others.
		return condition(conditions.TypeConfigGenerated, metav1.ConditionFalse, blocking[0].Reason,
			join(blocking)+" The pipeline ships to its other outputs.", generation)
	case len(warnings) > 0:
		return condition(conditions.TypeConfigGenerated, metav1.ConditionTrue, warnings[0].Reason, join(warnings), generation)
	}
	return conditions.New(conditions.TypeConfigGenerated, metav1.ConditionTrue, conditions.ReasonConfigGenerated, generation)
}

func condition(t string, s metav1.ConditionStatus, reason, message string, generation int64) metav1.Condition {
	return metav1.Condition{Type: t, Status: s, Reason: reason, Message: message, ObservedGeneration: generation}
}

func join(ps []render.Problem) string {
	msgs := make([]string, len(ps))
	for i, p := range ps {
		msgs[i] = p.Message
	}
	return strings.Join(msgs, " ")
}

// publishVerdicts puts the render's verdict on the pipelines this agent runs on the
// board, whose status reconcilers write them. The default agent also speaks for the
// pipelines no agent runs (file inputs, events, those naming a missing agent) and for
// every output.
func (r *Reconciler) publishVerdicts(agent string, snap *snapshot.Snapshot, res *render.Result, health metav1.Condition) {
	rendered := map[render.Ref]bool{}
	for _, a := range res.Agents {
		for _, p := range a.Pipelines {
			rendered[p] = true
		}
	}
	for _, sc := range res.Sidecars {
		rendered[sc.Pipeline] = true
	}
	if res.Events != nil {
		for _, p := range res.Events.Pipelines {
			rendered[p] = true
		}
	}
	isDefault := agent == v1.DefaultAgentName
	agents := map[string]bool{v1.DefaultAgentName: true}
	for _, a := range snap.Agents {
		agents[a.Name] = true
	}
	// runner is the agent whose health a pipeline reports, or "" for none.
	runner := func(name v1.AgentName, containers bool) (string, bool) {
		a := cmp.Or(string(name), v1.DefaultAgentName)
		switch {
		case !agents[a]:
			return "", isDefault
		case !containers:
			return "", isDefault
		}
		return a, a == agent
	}

	verdicts := map[render.Ref]status.Verdict{}
	for i := range snap.Pipelines {
		p := &snap.Pipelines[i]
		runBy, mine := runner(p.Spec.Agent, p.Spec.Input.Containers != nil)
		if !mine {
			continue
		}
		ref := render.Ref{Kind: alias.LogPipeline, Namespace: p.Namespace, Name: p.Name}
		verdicts[ref] = status.Verdict{Agent: runBy, Sidecar: p.Spec.Input.Files != nil, Rendered: rendered[ref],
			Config: configCondition(ref, rendered[ref], res.Problems, p.Generation)}
	}
	for i := range snap.ClusterPipelines {
		p := &snap.ClusterPipelines[i]
		runBy, mine := runner(p.Spec.Agent, true)
		if !mine {
			continue
		}
		ref := render.Ref{Kind: alias.ClusterLogPipeline, Name: p.Name}
		verdicts[ref] = status.Verdict{Agent: runBy, Rendered: rendered[ref], Config: configCondition(ref, rendered[ref], res.Problems, p.Generation)}
	}
	if r.Board == nil {
		return
	}
	r.Board.PublishAgentHealth(agent, health)
	r.Board.PublishConfig(agent, verdicts)
	if isDefault {
		problems := res.Problems
		if extra := r.outputRejections(agent); len(extra) > 0 {
			problems = append(slices.Clone(problems), extra...)
		}
		r.Board.PublishOutputs(outputVerdicts(snap, problems))
	}
}

// outputVerdicts judges every output and lists the pipelines using it. An output with a
// blocking problem is not rendered at all ("its other outputs" is a pipeline's).
func outputVerdicts(snap *snapshot.Snapshot, problems []render.Problem) map[render.Ref]status.OutputVerdict {
	users := outputUsers(snap)
	verdicts := make(map[render.Ref]status.OutputVerdict, len(snap.Outputs)+len(snap.ClusterOutputs))
	for i := range snap.Outputs {
		o := &snap.Outputs[i]
		ref := render.Ref{Kind: alias.LogOutput, Namespace: o.Namespace, Name: o.Name}
		verdicts[ref] = status.NewOutputVerdict(configCondition(ref, false, problems, o.Generation), users[ref])
	}
	for i := range snap.ClusterOutputs {
		o := &snap.ClusterOutputs[i]
		ref := render.Ref{Kind: alias.ClusterLogOutput, Name: o.Name}
		verdicts[ref] = status.NewOutputVerdict(configCondition(ref, false, problems, o.Generation), users[ref])
	}
	return verdicts
}

// outputUsers lists, per output, the pipelines that refer to it, sorted.
func outputUsers(snap *snapshot.Snapshot) map[render.Ref][]v1.ObjectReference {
	users := map[render.Ref][]v1.ObjectReference{}
	for _, p := range snap.Pipelines {
		me := v1.ObjectReference{Kind: alias.LogPipeline, Namespace: p.Namespace, Name: p.Name}
		for _, o := range p.Spec.OutputRefs {
			ref := render.Ref{Kind: alias.LogOutput, Namespace: p.Namespace, Name: string(o)}
			users[ref] = append(users[ref], me)
		}
		for _, o := range p.Spec.ClusterOutputRefs {
			ref := render.Ref{Kind: alias.ClusterLogOutput, Name: string(o)}
			users[ref] = append(users[ref], me)
		}
	}
	for _, p := range snap.ClusterPipelines {
		me := v1.ObjectReference{Kind: alias.ClusterLogPipeline, Name: p.Name}
		for _, o := range p.Spec.ClusterOutputRefs {
			ref := render.Ref{Kind: alias.ClusterLogOutput, Name: string(o)}
			users[ref] = append(users[ref], me)
		}
	}
	for ref, list := range users {
		slices.SortFunc(list, func(a, b v1.ObjectReference) int {
			return cmp.Or(cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Name, b.Name))
		})
		users[ref] = list
	}
	return users
}

func (r *Reconciler) patchIfChanged(ctx context.Context, obj, base client.Object, changed bool) error {
	if !changed {
		return nil
	}
	// Optimistic locking: a patch built on a stale copy must not undo a newer write.
	patch := client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{})
	if err := r.Client.Status().Patch(ctx, obj, patch); err != nil && !isNotFound(err) {
		return fmt.Errorf("failed to write status of %s %s: %w", obj.GetObjectKind().GroupVersionKind().Kind, client.ObjectKeyFromObject(obj), err)
	}
	return nil
}
