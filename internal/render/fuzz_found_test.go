package render

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/logplane/logplane/api/v1alpha1"
	"github.com/logplane/logplane/internal/snapshot"
)

// Found by FuzzRenderAdmittedSnapshot: an output whose section fails after its
// credentials were worked out (here a raw parameter the API admits and the writer
// refuses) brought its Secrets into Render's configuration, though not into a
// Renderer's: the operator and `logplane render` disagreed, and the agent got Secret
// values it does not use.
func TestFailedSectionBringsNoCredentials(t *testing.T) {
	s := &snapshot.Snapshot{OperatorNamespace: "logplane-system", Namespaces: []snapshot.Namespace{{Name: "team-a"}},
		Secrets: []snapshot.Secret{{Namespace: "team-a", Name: "aws", Keys: []string{"id", "secret"}}}}
	s.Outputs = []v1.LogOutput{{ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: "cw", ResourceVersion: "1"},
		Spec: v1.OutputSpec{Type: v1.OutputCloudWatchLogs, CloudWatchLogs: &v1.CloudWatchLogsOutput{
			AWS: v1.AWSAuth{Region: "eu-west-1", Credentials: &v1.AWSCredentials{
				AccessKeyID: v1.SecretKeyRef{Name: "aws", Key: "id"}, SecretAccessKey: v1.SecretKeyRef{Name: "aws", Key: "secret"}}},
			LogGroupName: "/a", LogStreamPrefix: ptr(v1.ConfigString("p"))},
			RawParameters: []v1.KeyValue{{Key: "Retry_Limit", Value: "3"}}}}}
	s.Pipelines = []v1.LogPipeline{{ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: "p", ResourceVersion: "1"},
		Spec: v1.LogPipelineSpec{Input: v1.LogPipelineInput{Containers: &v1.ContainerSelection{}}, OutputRefs: []v1.ResourceName{"cw"}}}}
	for name, render := range map[string]func(*snapshot.Snapshot) *Result{"Render": Render, "Renderer": NewRenderer().Render} {
		cfg := render(s).Agents[0]
		if len(cfg.Pipelines) != 0 {
			t.Fatalf("%s: the section was expected to fail", name)
		}
		if len(cfg.AWSProfiles)+len(cfg.Env)+len(cfg.SecretFiles) > 0 {
			t.Errorf("%s: credentials of a section not in the configuration: %+v %+v %+v", name, cfg.AWSProfiles, cfg.Env, cfg.SecretFiles)
		}
	}
}
