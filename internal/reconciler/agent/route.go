package agent

import (
	"cmp"
	"slices"

	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/logplane/logplane/api/v1alpha1"
)

// AgentsToRender names the agents whose reconcile must see a pipeline's change; old
// is nil for a creation and new nil for a deletion. Agents the pipeline never ran on
// need not render again, so one tenant's edit costs one agent's render.
//
// The default agent renders more than its own pipelines: it reports on pipelines no
// agent runs (sidecars, the events collector, those naming a missing agent) and on
// outputs, whose status lists the pipelines that use them. So it also renders when a
// pipeline appears, goes, or changes the outputs it refers to.
func AgentsToRender(old, new client.Object, agentExists func(name string) bool) []string {
	var agents []string
	for _, p := range []client.Object{old, new} {
		if p != nil {
			agents = append(agents, agentsOf(p, agentExists)...)
		}
	}
	if len(agents) == 0 {
		return nil // not a pipeline
	}
	if old == nil || new == nil || !sameOutputs(old, new) {
		agents = append(agents, v1.DefaultAgentName)
	}
	slices.Sort(agents)
	return slices.Compact(agents)
}

// agentsOf names the agent that runs p, and the default agent when p names a missing
// agent or runs outside agents.
func agentsOf(p client.Object, agentExists func(name string) bool) []string {
	var named v1.AgentName
	var inAgentOnly bool
	switch p := p.(type) {
	case *v1.LogPipeline:
		named, inAgentOnly = p.Spec.Agent, p.Spec.Input.Containers != nil
	case *v1.ClusterLogPipeline:
		named, inAgentOnly = p.Spec.Agent, p.Spec.Input.Events == nil
	default:
		return nil
	}
	a := cmp.Or(string(named), v1.DefaultAgentName)
	if a != v1.DefaultAgentName && (!inAgentOnly || !agentExists(a)) {
		return []string{a, v1.DefaultAgentName}
	}
	return []string{a}
}

// sameOutputs reports whether two versions of a pipeline refer to the same outputs.
func sameOutputs(a, b client.Object) bool {
	localA, clusterA := outputRefs(a)
	localB, clusterB := outputRefs(b)
	return slices.Equal(localA, localB) && slices.Equal(clusterA, clusterB)
}

func outputRefs(p client.Object) (local, cluster []v1.ResourceName) {
	switch p := p.(type) {
	case *v1.LogPipeline:
		return p.Spec.OutputRefs, p.Spec.ClusterOutputRefs
	case *v1.ClusterLogPipeline:
		return nil, p.Spec.ClusterOutputRefs
	}
	return nil, nil
}
