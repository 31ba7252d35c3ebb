package render

import (
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/logplane/logplane/api/v1alpha1"
	"github.com/logplane/logplane/internal/snapshot"
	"github.com/logplane/logplane/test/fbrun"
)

// A sharded configuration, mounted as the agent mounts it (every file in one
// directory, the main file including each shard), starts too.
func TestShardedConfigurationStarts(t *testing.T) {
	bin := fbrun.Binary(t)
	withMaxFileBytes(t, 64<<10)
	cfg := Render(fleet(300)).Agents[0]
	if len(cfg.Files) < 3 {
		t.Fatalf("not sharded: %d files", len(cfg.Files))
	}
	gp := goldenPod{name: "sharded", files: map[string][]byte{}, api: true}
	for _, f := range cfg.Files {
		gp.files[fbrun.ConfigDir+"/"+f.Name] = f.Content
	}
	startAll(t, bin, []goldenPod{gp})
}

// Names as long as the API allows become file and directory names (tail databases,
// s3 store directories) that still fit NAME_MAX: a pipeline named with 240 characters
// and an s3 output used to stop the agent ("cannot initialize root path").
func TestLongNamesStart(t *testing.T) {
	bin := fbrun.Binary(t)
	long := func(prefix string, n int) string { return prefix + strings.Repeat("x", n-len(prefix)) }
	ns := long("team-", 63)
	s := &snapshot.Snapshot{OperatorNamespace: "logplane-system",
		Namespaces: []snapshot.Namespace{{Name: ns, Labels: map[string]string{corev1.LabelMetadataName: ns}}},
		Grants: []v1.IdentityGrant{{ObjectMeta: metav1.ObjectMeta{Name: "agent"}, Spec: v1.IdentityGrantSpec{
			NamespaceSelector: metav1.LabelSelector{MatchLabels: map[string]string{corev1.LabelMetadataName: ns}},
			AgentIdentity:     &v1.AgentIdentityGrant{}}}}}
	out := v1.LogOutput{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: long("archive-", 253)},
		Spec: v1.OutputSpec{Type: v1.OutputS3, S3: &v1.S3Output{AWS: v1.AWSAuth{Region: "eu-west-1"}, Bucket: "logs",
			KeyFormat: "/logs/$TAG/%Y/%m/%d/%H%M%S-$UUID.gz", Compression: "Gzip", UploadTimeout: &metav1.Duration{Duration: 10 * time.Minute}}}}
	s.Outputs = append(s.Outputs, out)
	for _, in := range []v1.LogPipelineInput{
		{Containers: &v1.ContainerSelection{}},
		{Files: &v1.FileInput{Paths: []v1.LogFilePath{"/var/log/app/app.log"}}},
	} {
		name := long("containers-", 240)
		if in.Files != nil {
			name = long("files-", 240)
		}
		s.Pipelines = append(s.Pipelines, v1.LogPipeline{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
			Spec: v1.LogPipelineSpec{Agent: "default", Input: in, OutputRefs: []v1.ResourceName{v1.ResourceName(out.Name)}}})
	}
	res := Render(s)
	if len(res.Problems) > 0 || len(res.Agents) != 1 || len(res.Sidecars) != 1 {
		t.Fatalf("problems %v, %d agents, %d sidecars", res.Problems, len(res.Agents), len(res.Sidecars))
	}
	agent := goldenPod{name: "agent", files: map[string][]byte{}, api: true}
	for _, f := range res.Agents[0].Files {
		agent.files[fbrun.ConfigDir+"/"+f.Name] = f.Content
	}
	main, err := SidecarMain([]string{"pipelines/p/" + MainFile})
	if err != nil {
		t.Fatal(err)
	}
	sidecar := goldenPod{name: "sidecar", sidecar: true, files: map[string][]byte{fbrun.MainConfig: main,
		fbrun.ConfigDir + "/pipelines/p/" + MainFile: res.Sidecars[0].Files[0].Content}}
	startAll(t, bin, []goldenPod{agent, sidecar})
}
