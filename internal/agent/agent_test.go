package agent

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	v1 "github.com/logplane/logplane/api/v1alpha1"
	"github.com/logplane/logplane/internal/render"
	"github.com/logplane/logplane/internal/snapshot"
	goldenfile "github.com/logplane/logplane/test/golden"
)

// AWS's own example keys, shaped as real ones are.
const (
	exampleKeyID     = "AKIAIOSFODNN7EXAMPLE"
	exampleSecretKey = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
)

func sampleInput(t *testing.T) Input {
	t.Helper()
	return sampleInputWith(t, nil)
}

// sampleInputWith is sampleInput with the snapshot changed by edit before it renders.
func sampleInputWith(t *testing.T, edit func(*snapshot.Snapshot)) Input {
	t.Helper()
	s, err := snapshot.LoadFiles([]string{filepath.Join("..", "..", "config", "samples")}, "logplane-system", "default")
	if err != nil {
		t.Fatal(err)
	}
	// A credential of each kind: env var (basic auth), file (TLS CA), AWS profile.
	s.Secrets = append(s.Secrets,
		snapshot.NewSecret("shop", "aws", map[string][]byte{"id": []byte(exampleKeyID), "secret": []byte(exampleSecretKey)}),
		snapshot.NewSecret("shop", "ca", map[string][]byte{"ca.crt": []byte("file-ca.crt")}),
		snapshot.NewSecret("shop", "basic", map[string][]byte{"password": []byte("value-of-basic-password")}))
	s.Outputs = append(s.Outputs, v1.LogOutput{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "archive"},
		Spec: v1.OutputSpec{Type: v1.OutputS3, S3: &v1.S3Output{Bucket: "shop-archive", AWS: v1.AWSAuth{Region: "eu-west-1",
			Credentials: &v1.AWSCredentials{AccessKeyID: v1.SecretKeyRef{Name: "aws", Key: "id"}, SecretAccessKey: v1.SecretKeyRef{Name: "aws", Key: "secret"}}}}}},
		v1.LogOutput{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "collector"},
			Spec: v1.OutputSpec{Type: v1.OutputHTTP, HTTP: &v1.HTTPOutput{Host: "collector", Port: 443,
				BasicAuth: &v1.BasicAuth{User: "shop", Password: v1.SecretKeyRef{Name: "basic", Key: "password"}}},
				TLS: &v1.TLS{CA: &v1.SecretKeyRef{Name: "ca", Key: "ca.crt"}}}})
	s.Pipelines[1].Spec.OutputRefs = append(s.Pipelines[1].Spec.OutputRefs, "archive", "collector")
	if edit != nil {
		edit(s)
	}
	res := render.Render(s)
	var agentCfg render.Config
	for _, a := range res.Agents {
		if a.Agent == "default" {
			agentCfg = a.Config
		}
	}
	values := map[render.SecretSource][]byte{}
	for _, e := range agentCfg.Env {
		values[e.Source] = []byte("value-of-" + e.Source.Name + "-" + e.Source.Key)
	}
	for _, f := range agentCfg.SecretFiles {
		values[f.Source] = []byte("file-" + f.Source.Key)
	}
	for _, p := range agentCfg.AWSProfiles {
		values[p.AccessKeyID] = []byte(exampleKeyID)
		values[p.SecretAccessKey] = []byte(exampleSecretKey)
	}
	return Input{Name: "default", Namespace: "logplane-system", Spec: s.Agents[0].Spec, Config: agentCfg, SecretValues: values,
		OperatorImage: "ghcr.io/logplane/logplane:v0.1.0"}
}

// The objects of the sample agent, as applied, are reviewed in a golden file.
func TestObjectsGolden(t *testing.T) {
	o := Build(sampleInput(t))
	if len(o.Missing) != 0 {
		t.Fatalf("missing secret values: %v", o.Missing)
	}
	var b strings.Builder
	for _, obj := range o.All() {
		data, err := yaml.Marshal(obj)
		if err != nil {
			t.Fatal(err)
		}
		b.WriteString("---\n")
		b.Write(data)
	}
	checkGolden(t, filepath.Join("testdata", "default-agent.yaml"), b.String())
}

// The DaemonSet of the sample agent in HotReload mode: the reloader as a native
// sidecar, Fluent Bit reading the reloader's copy.
func TestHotReloadDaemonSetGolden(t *testing.T) {
	in := sampleInput(t)
	in.Spec.ConfigReload = v1.ConfigReloadHotReload
	in.OperatorImage = "ghcr.io/logplane/logplane:v0.1.0"
	data, err := yaml.Marshal(Build(in).DaemonSet)
	if err != nil {
		t.Fatal(err)
	}
	checkGolden(t, filepath.Join("testdata", "hotreload-daemonset.yaml"), string(data))
}

func checkGolden(t *testing.T, path, got string) {
	t.Helper()
	if goldenfile.Updating() {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("missing golden (run with -update): %v", err)
	}
	if string(want) != got {
		t.Errorf("%s differs; review and run go test ./internal/agent -update", path)
	}
}

func TestConfigChangeRollsPodsOnlyInRestartMode(t *testing.T) {
	in := sampleInput(t)
	base := Build(in).DaemonSet.Spec.Template.Annotations[AnnotationConfig]
	changed := in
	changed.Config.Hash = "different"
	if Build(changed).DaemonSet.Spec.Template.Annotations[AnnotationConfig] == base {
		t.Error("Restart mode: a new configuration must change the pod template")
	}
	changed.Spec.ConfigReload = v1.ConfigReloadHotReload
	hot := Build(changed).DaemonSet.Spec.Template.Annotations[AnnotationConfig]
	changed.Config.Hash = "another"
	if Build(changed).DaemonSet.Spec.Template.Annotations[AnnotationConfig] != hot {
		t.Error("HotReload mode: a new configuration must not roll the pods")
	}
	rotated := changed
	rotated.SecretValues = map[render.SecretSource][]byte{}
	for k := range changed.SecretValues {
		rotated.SecretValues[k] = []byte("rotated")
	}
	if Build(rotated).DaemonSet.Spec.Template.Annotations[AnnotationConfig] == hot {
		t.Error("HotReload mode: rotated credentials must roll the pods (env vars are read at start)")
	}
}

func TestLargeConfigurationIsSplitAcrossSecrets(t *testing.T) {
	files := []render.File{{Name: "fluent-bit.yaml", Content: make([]byte, 10)}}
	for _, i := range []int{0, 1, 3} {
		files = append(files, render.File{Name: render.ShardFile(i), Content: make([]byte, 900*1024)})
	}
	o := Build(Input{Name: "big", Namespace: "ops", Config: render.Config{Files: files}})
	want := []string{"logplane-agent-big-config-0", "logplane-agent-big-config-outputs-000",
		"logplane-agent-big-config-outputs-001", "logplane-agent-big-config-outputs-003"}
	var got, projected []string
	for i, s := range o.ConfigSecrets {
		got = append(got, s.Name)
		if len(s.Data) != 1 || len(s.Data[files[i].Name]) != len(files[i].Content) {
			t.Errorf("%s does not hold exactly %s", s.Name, files[i].Name)
		}
	}
	for _, src := range o.DaemonSet.Spec.Template.Spec.Volumes[2].Projected.Sources {
		projected = append(projected, src.Secret.Name)
	}
	if !slices.Equal(got, want) || !slices.Equal(projected, want) {
		t.Errorf("Secrets %v, projected %v, want %v", got, projected, want)
	}
}

// At 2,000 pipelines, editing one pipeline's filter rewrites one Secret; every other
// Secret stays byte for byte as it was.
func TestOnePipelineEditChangesOneSecret(t *testing.T) {
	s := tenantFleet(2000)
	before := Build(Input{Name: "default", Namespace: "ops", Config: render.Render(s).Agents[0].Config})
	s.Pipelines[1234].Spec.Filters[0].Grep.Exclude[0].Regex = "GET /livez"
	after := Build(Input{Name: "default", Namespace: "ops", Config: render.Render(s).Agents[0].Config})
	if len(before.ConfigSecrets) < 3 {
		t.Fatalf("2,000 pipelines in %d Secrets: not sharded", len(before.ConfigSecrets))
	}
	if len(after.ConfigSecrets) != len(before.ConfigSecrets) {
		t.Fatalf("%d Secrets before, %d after", len(before.ConfigSecrets), len(after.ConfigSecrets))
	}
	var changed []string
	for i, b := range before.ConfigSecrets {
		a := after.ConfigSecrets[i]
		if a.Name != b.Name {
			t.Fatalf("Secret %d is %s, was %s", i, a.Name, b.Name)
		}
		if !reflect.DeepEqual(a.Data, b.Data) {
			changed = append(changed, a.Name)
		}
	}
	if len(changed) != 1 || changed[0] == ConfigSecretName(ResourceName("default"), render.MainFile) {
		t.Errorf("changed Secrets %v, want exactly one shard", changed)
	}
}

// tenantFleet is n LogPipelines over n/10 namespaces, each with three filters and an
// output of its own.
func tenantFleet(n int) *snapshot.Snapshot {
	// The default agent's budgets raised to admit them all, as a platform team running
	// that many does (the defaults hold an agent to 48 output sections).
	most := resource.MustParse("100Ti")
	raised := v1.LogAgent{ObjectMeta: metav1.ObjectMeta{Name: v1.DefaultAgentName}, Spec: v1.LogAgentSpec{Budgets: v1.AgentBudgets{
		PerNamespace: v1.NamespaceBudget{OutputSections: 100000, Workers: 100000, FilterThreads: 100000, FilesystemBuffer: &most, PipelineConfigBytes: 16 << 20},
		PerAgent:     v1.AgentBudget{OutputSections: 100000, Workers: 100000, FilterThreads: 100000, FilesystemBuffer: &most}}}}
	s := &snapshot.Snapshot{OperatorNamespace: "ops", Agents: []v1.LogAgent{raised}}
	for i := 0; i < n/10; i++ {
		s.Namespaces = append(s.Namespaces, snapshot.Namespace{Name: fmt.Sprintf("team-%03d", i)})
	}
	for i := 0; i < n; i++ {
		ns, name := fmt.Sprintf("team-%03d", i%(n/10)), fmt.Sprintf("app-%04d", i)
		s.Outputs = append(s.Outputs, v1.LogOutput{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
			Spec: v1.OutputSpec{Type: v1.OutputHTTP, HTTP: &v1.HTTPOutput{Host: v1.Host(name + ".example.com"), Port: 443, Path: "/logs"}}})
		s.Pipelines = append(s.Pipelines, v1.LogPipeline{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
			Spec: v1.LogPipelineSpec{
				Input: v1.LogPipelineInput{Containers: &v1.ContainerSelection{
					PodSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}}}},
				Filters: []v1.Filter{
					{Type: v1.FilterGrep, Grep: &v1.GrepFilter{Exclude: []v1.FieldMatch{{Field: "log", Regex: "GET /healthz"}}}},
					{Type: v1.FilterParse, Parse: &v1.ParseFilter{Field: "log", Format: v1.ParseJSON}},
					{Type: v1.FilterAddFields, AddFields: &v1.AddFieldsFilter{Fields: []v1.KeyValue{{Key: "team", Value: v1.ConfigString(ns)}}}},
				},
				OutputRefs: []v1.ResourceName{v1.ResourceName(name)},
			}})
	}
	return s
}

func TestMissingSecretValuesAreReported(t *testing.T) {
	in := sampleInput(t)
	in.SecretValues = nil
	if o := Build(in); len(o.Missing) == 0 {
		t.Fatal("missing values not reported")
	}
}

func TestHotReloadRunsTheReloader(t *testing.T) {
	in := sampleInput(t)
	in.Spec.ConfigReload = v1.ConfigReloadHotReload
	in.OperatorImage = "ghcr.io/logplane/logplane:v0.1.0"
	pod := Build(in).DaemonSet.Spec.Template.Spec
	// fbexec's installer, then the reloader.
	if len(pod.InitContainers) != 2 || pod.InitContainers[1].Name != ReloaderContainer || pod.InitContainers[1].Image != in.OperatorImage {
		t.Fatalf("init containers: %+v", pod.InitContainers)
	}
	rl, fb := pod.InitContainers[1], pod.Containers[0]
	if len(fb.Command) == 0 || fb.Command[0] != FBExecBinary {
		t.Errorf("Fluent Bit does not start through fbexec in HotReload mode: %v", fb.Command)
	}
	// A native sidecar whose startup probe holds Fluent Bit back until the copy is
	// staged.
	if rl.RestartPolicy == nil || *rl.RestartPolicy != corev1.ContainerRestartPolicyAlways || rl.StartupProbe == nil || rl.ReadinessProbe == nil {
		t.Errorf("reloader is not a probed native sidecar: %+v", rl)
	}
	if pod.ShareProcessNamespace == nil || !*pod.ShareProcessNamespace {
		t.Error("the reloader must see Fluent Bit's process")
	}
	mounts := func(c corev1.Container) map[string]corev1.VolumeMount {
		m := map[string]corev1.VolumeMount{}
		for _, vm := range c.VolumeMounts {
			m[vm.Name] = vm
		}
		return m
	}
	// Fluent Bit reads the reloader's copy, which only the reloader may write, and
	// no longer the Secret.
	if fb.Args[1] != "/fluent-bit/run/etc/fluent-bit.yaml" || !mounts(fb)["run"].ReadOnly || mounts(rl)["run"].ReadOnly {
		t.Errorf("fluent-bit args %v, mounts %v; reloader mounts %v", fb.Args, mounts(fb), mounts(rl))
	}
	if _, ok := mounts(fb)["config"]; ok {
		t.Error("Fluent Bit still mounts the Secret: a restart would read refused files")
	}
	if rl.Ports[0].Name != ReloaderPortName || rl.Ports[0].ContainerPort == fb.Ports[0].ContainerPort {
		t.Errorf("reloader ports %v beside Fluent Bit's %v", rl.Ports, fb.Ports)
	}
	if fb.TerminationMessagePolicy != corev1.TerminationMessageFallbackToLogsOnError {
		t.Error("Fluent Bit's error must reach its termination message")
	}
	restart := Build(sampleInput(t)).DaemonSet.Spec.Template.Spec
	if len(restart.Containers) != 1 || len(restart.InitContainers) != 1 || restart.InitContainers[0].Name == ReloaderContainer ||
		restart.Containers[0].Args[1] != "/fluent-bit/etc/fluent-bit.yaml" {
		t.Error("Restart mode must not run a reloader, and reads the Secret")
	}
}

func TestEventsCollectorIsOneReplicaWithoutNodeAccess(t *testing.T) {
	s, err := snapshot.LoadFiles([]string{filepath.Join("..", "..", "config", "samples")}, "logplane-system", "default")
	if err != nil {
		t.Fatal(err)
	}
	res := render.Render(s)
	if res.Events == nil {
		t.Fatal("the samples ship events")
	}
	o := BuildEvents(Input{Namespace: "logplane-system", Config: *res.Events})
	if o.DaemonSet != nil || o.Deployment == nil || *o.Deployment.Spec.Replicas != 1 {
		t.Fatal("want a one-replica Deployment")
	}
	pod := o.Deployment.Spec.Template.Spec
	for _, v := range pod.Volumes {
		if v.HostPath != nil {
			t.Errorf("events collector mounts host path %s", v.HostPath.Path)
		}
	}
	if len(pod.Tolerations) != 0 {
		t.Errorf("events collector tolerates %v; it needs no special node", pod.Tolerations)
	}
	if o.ClusterRole.Rules[0].Resources[0] != "events" {
		t.Errorf("rules %v", o.ClusterRole.Rules)
	}
	for _, obj := range o.All() {
		if obj.GetName() == "" || obj.GetObjectKind().GroupVersionKind().Kind == "" {
			t.Errorf("incomplete object %T", obj)
		}
	}
}

// Every node agent shares one ClusterRole and one ClusterRoleBinding with fixed
// names (the operator may touch no others), whose subjects are every agent's
// ServiceAccount, each once, in order, whichever agent builds them.
func TestAgentsShareFixedClusterRBAC(t *testing.T) {
	for _, tc := range []struct {
		name   string
		agents []string
		want   []string
	}{
		{"default", nil, []string{"logplane-agent-default"}},
		{"edge", []string{"default", "edge", "gpu"}, []string{"logplane-agent-default", "logplane-agent-edge", "logplane-agent-gpu"}},
		{"gpu", []string{"gpu", "default"}, []string{"logplane-agent-default", "logplane-agent-gpu"}},
	} {
		o := Build(Input{Name: tc.name, Namespace: "logplane-system", Agents: tc.agents})
		var got []string
		for _, s := range o.ClusterRoleBinding.Subjects {
			if s.Kind != "ServiceAccount" || s.Namespace != "logplane-system" {
				t.Errorf("%s: subject %+v", tc.name, s)
			}
			got = append(got, s.Name)
		}
		if !slices.Equal(got, tc.want) || o.ClusterRole.Name != AgentsClusterRBACName || o.ClusterRoleBinding.Name != AgentsClusterRBACName ||
			o.ClusterRoleBinding.RoleRef.Name != AgentsClusterRBACName || o.ServiceAccount.Name != ResourceName(tc.name) {
			t.Errorf("%s: binding %s → %s with %v, want %s with %v", tc.name, o.ClusterRoleBinding.Name, o.ClusterRoleBinding.RoleRef.Name, got, AgentsClusterRBACName, tc.want)
		}
	}
	if e := BuildEvents(Input{Namespace: "logplane-system"}); e.ClusterRole.Name != EventsClusterRBACName || e.ClusterRoleBinding.Name != EventsClusterRBACName {
		t.Errorf("events collector RBAC %s/%s", e.ClusterRole.Name, e.ClusterRoleBinding.Name)
	}
}
