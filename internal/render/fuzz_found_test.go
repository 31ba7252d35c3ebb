package render

import (
	"slices"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/logplane/logplane/api/v1alpha1"
	"github.com/logplane/logplane/internal/conditions"
	"github.com/logplane/logplane/internal/snapshot"
)

// Found by FuzzRenderAdmittedSnapshot: an output whose section fails after its
// credentials were worked out (here a raw parameter the API admits and the writer
// refuses) brought its Secrets into Render's configuration, though not into a
// Renderer's: the operator and `logplane render` disagreed, and the agent got Secret
// values it does not use.
func TestFailedSectionBringsNoCredentials(t *testing.T) {
	s := &snapshot.Snapshot{OperatorNamespace: "logplane-system", Secrets: []snapshot.Secret{snapshot.NewSecret("logplane-system", "aws",
		map[string][]byte{"id": []byte("AKIAIOSFODNN7EXAMPLE"), "secret": []byte("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")})}}
	// A raw key that a typed field sets already fails the section while it is encoded,
	// after its credentials were gathered.
	s.ClusterOutputs = []v1.ClusterLogOutput{{ObjectMeta: metav1.ObjectMeta{Name: "cw", ResourceVersion: "1"},
		Spec: v1.ClusterLogOutputSpec{OutputSpec: v1.OutputSpec{Type: v1.OutputCloudWatchLogs, CloudWatchLogs: &v1.CloudWatchLogsOutput{
			AWS: v1.AWSAuth{Region: "eu-west-1", Credentials: &v1.AWSCredentials{
				AccessKeyID: v1.SecretKeyRef{Name: "aws", Key: "id"}, SecretAccessKey: v1.SecretKeyRef{Name: "aws", Key: "secret"}}},
			LogGroupName: "/a", LogStreamPrefix: ptr(v1.ConfigString("p"))}},
			RawParameters: []v1.RawParameter{{Key: "region", Value: "us-east-1"}}}}}
	s.ClusterPipelines = []v1.ClusterLogPipeline{{ObjectMeta: metav1.ObjectMeta{Name: "p", ResourceVersion: "1"},
		Spec: v1.ClusterLogPipelineSpec{Input: v1.ClusterLogPipelineInput{Containers: &v1.ClusterContainerInput{}}, ClusterOutputRefs: []v1.ResourceName{"cw"}}}}
	for name, render := range map[string]func(*snapshot.Snapshot) *Result{"Render": Render, "Renderer": NewRenderer().Render} {
		res := render(s)
		if len(res.Agents) == 0 {
			t.Fatalf("%s: no agent configuration: %v", name, res.Problems)
		}
		cfg := res.Agents[0]
		if !slices.ContainsFunc(res.Problems, func(p Problem) bool { return p.Reason == conditions.ReasonOutputInvalid }) {
			t.Fatalf("%s: want the section to fail as OutputInvalid while encoded, got %v", name, res.Problems)
		}
		if len(cfg.Pipelines) != 0 {
			t.Fatalf("%s: the section was expected to fail: %v", name, res.Problems)
		}
		if len(cfg.AWSProfiles)+len(cfg.Env)+len(cfg.SecretFiles) > 0 {
			t.Errorf("%s: credentials of a section not in the configuration: %+v %+v %+v", name, cfg.AWSProfiles, cfg.Env, cfg.SecretFiles)
		}
	}
}
