package agent

import (
	"slices"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/logplane/logplane/api/v1alpha1"
)

func TestAgentsToRender(t *testing.T) {
	containers := v1.LogPipelineInput{Containers: &v1.ContainerSelection{}}
	files := v1.LogPipelineInput{Files: &v1.FileInput{}}
	exists := func(name string) bool { return name == "edge" || name == "core" }
	lp := func(agent v1.AgentName, in v1.LogPipelineInput, outs ...v1.ResourceName) *v1.LogPipeline {
		return &v1.LogPipeline{Spec: v1.LogPipelineSpec{Agent: agent, Input: in, OutputRefs: outs}}
	}
	clp := func(agent v1.AgentName, in v1.ClusterLogPipelineInput, outs ...v1.ResourceName) *v1.ClusterLogPipeline {
		return &v1.ClusterLogPipeline{Spec: v1.ClusterLogPipelineSpec{Agent: agent, Input: in, ClusterOutputRefs: outs}}
	}
	nodeInput := v1.ClusterLogPipelineInput{Node: &v1.NodeInput{}}
	eventsInput := v1.ClusterLogPipelineInput{Events: &v1.EventsInput{}}
	for _, tc := range []struct {
		name     string
		old, new client.Object
		want     []string
	}{
		{"edit on the default agent", lp("", containers, "o"), lp("", containers, "o"), []string{"default"}},
		{"edit on its own agent only", lp("edge", containers, "o"), lp("edge", containers, "o"), []string{"edge"}},
		{"moved between agents", lp("edge", containers, "o"), lp("core", containers, "o"), []string{"core", "edge"}},
		{"outputs changed: default lists output users", lp("edge", containers, "o"), lp("edge", containers, "p"), []string{"default", "edge"}},
		{"a cluster output became a local one", &v1.LogPipeline{Spec: v1.LogPipelineSpec{Agent: "edge", Input: containers, ClusterOutputRefs: []v1.ResourceName{"o"}}},
			lp("edge", containers, "o"), []string{"default", "edge"}},
		{"created", nil, lp("edge", containers, "o"), []string{"default", "edge"}},
		{"deleted", lp("edge", containers, "o"), nil, []string{"default", "edge"}},
		{"missing agent: default reports it", lp("gone", containers), lp("gone", containers), []string{"default", "gone"}},
		{"sidecar pipeline: default renders it", lp("edge", files), lp("edge", files), []string{"default", "edge"}},
		{"cluster pipeline on its agent", clp("edge", nodeInput, "o"), clp("edge", nodeInput, "o"), []string{"edge"}},
		{"events run in the default agent's collector", clp("edge", eventsInput, "o"), clp("edge", eventsInput, "o"), []string{"default", "edge"}},
		{"not a pipeline", &v1.LogOutput{ObjectMeta: metav1.ObjectMeta{Name: "x"}}, &v1.LogOutput{}, nil},
	} {
		if got := AgentsToRender(tc.old, tc.new, exists); !slices.Equal(got, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}
