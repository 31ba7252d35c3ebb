package render

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/logplane/logplane/api/v1alpha1"
	"github.com/logplane/logplane/internal/alias"
	"github.com/logplane/logplane/internal/conditions"
	"github.com/logplane/logplane/internal/snapshot"
	"github.com/logplane/logplane/test/fbrun"
)

// The salt the operator would have made (snapshot.SaltSecretName).
var testSalt = []byte("0123456789abcdef0123456789abcdef")

// attackSnapshot holds the attacks of issue 19 beside outputs that do nothing wrong:
//   - ClusterLogOutput raw: rawParameters that select every namespace's records
//     (match_regex .*), borrow another output's AWS profile and client key, and set
//     threads;
//   - LogOutput team-b/cw: static AWS keys whose access key ID adds a [default]
//     profile to the agent's credentials file;
//   - ClusterLogOutput tuned (an allowed raw key), LogOutputs team-a/stdout and
//     team-c/cw (well-formed AWS keys): these render.
func attackSnapshot() *snapshot.Snapshot {
	s := &snapshot.Snapshot{OperatorNamespace: "logplane-system", Salt: testSalt}
	stdout := v1.OutputSpec{Type: v1.OutputStdout, Stdout: &v1.StdoutOutput{Format: "JSONLines"}}
	cloudwatch := v1.OutputSpec{Type: v1.OutputCloudWatchLogs, CloudWatchLogs: &v1.CloudWatchLogsOutput{
		AWS: v1.AWSAuth{Region: "eu-west-1", Credentials: &v1.AWSCredentials{
			AccessKeyID: v1.SecretKeyRef{Name: "aws", Key: "id"}, SecretAccessKey: v1.SecretKeyRef{Name: "aws", Key: "secret"}}},
		LogGroupName: "/k8s/tenant", LogStreamPrefix: ptr(v1.ConfigString("web-"))}}
	for _, ns := range []string{"team-a", "team-b", "team-c"} {
		s.Namespaces = append(s.Namespaces, snapshot.Namespace{Name: ns, Labels: map[string]string{"tenant": "yes"}})
		out := stdout
		if ns != "team-a" {
			out = cloudwatch
		}
		s.Outputs = append(s.Outputs, v1.LogOutput{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: outputName(ns)}, Spec: out})
		s.Pipelines = append(s.Pipelines, v1.LogPipeline{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "web"},
			Spec: v1.LogPipelineSpec{Input: v1.LogPipelineInput{Containers: &v1.ContainerSelection{}},
				OutputRefs: []v1.ResourceName{v1.ResourceName(outputName(ns))}}})
	}
	s.Secrets = append(s.Secrets,
		snapshot.NewSecret("team-b", "aws", map[string][]byte{
			"id":     []byte("AKIAIOSFODNN7EXAMPLE\n[default]\naws_access_key_id = X"),
			"secret": []byte("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")}),
		snapshot.NewSecret("team-c", "aws", map[string][]byte{
			"id":     []byte("AKIAI44QH8DHBEXAMPLE"),
			"secret": []byte("je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY\n")}))
	s.ClusterOutputs = append(s.ClusterOutputs,
		v1.ClusterLogOutput{ObjectMeta: metav1.ObjectMeta{Name: "raw"}, Spec: v1.ClusterLogOutputSpec{
			OutputSpec: v1.OutputSpec{Type: v1.OutputHTTP, HTTP: &v1.HTTPOutput{Host: "127.0.0.1", Port: 9}},
			RawParameters: []v1.RawParameter{
				{Key: "match_regex", Value: ".*"},
				{Key: "profile", Value: "lp-guessed"},
				{Key: "tls.key_file", Value: "/fluent-bit/secrets/guessed"},
				{Key: "workers", Value: "64"},
			},
			AllowedNamespaces: &metav1.LabelSelector{MatchLabels: map[string]string{"tenant": "yes"}}}},
		v1.ClusterLogOutput{ObjectMeta: metav1.ObjectMeta{Name: "tuned"}, Spec: v1.ClusterLogOutputSpec{
			OutputSpec:    stdout,
			RawParameters: []v1.RawParameter{{Key: "json_date_format", Value: "iso8601"}}}})
	s.ClusterPipelines = append(s.ClusterPipelines, v1.ClusterLogPipeline{ObjectMeta: metav1.ObjectMeta{Name: "platform"},
		Spec: v1.ClusterLogPipelineSpec{Input: v1.ClusterLogPipelineInput{Containers: &v1.ClusterContainerInput{}},
			ClusterOutputRefs: []v1.ResourceName{"raw", "tuned"}}})
	return s
}

func outputName(ns string) string {
	if ns == "team-a" {
		return "stdout"
	}
	return "cw"
}

// Each attack is reported on the resource that made it, and none reaches the
// configuration; everything else renders.
func TestAttacksAreLeftOutOfTheConfiguration(t *testing.T) {
	res := Render(attackSnapshot())
	var got []string
	for _, p := range res.Problems {
		got = append(got, fmt.Sprintf("%s %s warning=%v", p.Ref, p.Reason, p.Warning))
	}
	for _, want := range []string{
		"ClusterLogOutput/raw RawParameterRefused warning=false",
		"LogOutput/team-b/cw SecretInvalid warning=false",
		"LogPipeline/team-b/web OutputInvalid warning=false",
		"ClusterLogOutput/tuned Unsupported warning=true",
	} {
		if !slices.Contains(got, want) {
			t.Errorf("no problem %q in\n%s", want, strings.Join(got, "\n"))
		}
	}
	refused := map[string]bool{}
	for _, p := range res.Problems {
		if p.Reason == conditions.ReasonRawParameterRefused {
			refused[strings.Fields(p.Message)[2]] = true
		}
		if p.Reason == conditions.ReasonSecretInvalid && !strings.Contains(p.Message, `Secret team-b/aws key "id" holds a line break`) {
			t.Errorf("SecretInvalid does not name the key and the line break: %s", p.Message)
		}
	}
	for _, key := range []string{"match_regex", "profile", "tls.key_file", "workers"} {
		if !refused[key] {
			t.Errorf("key %s not reported as refused: %v", key, refused)
		}
	}

	cfg := res.Agents[0].Config
	text := string(cfg.Files[0].Content)
	for _, bad := range []string{`match_regex: ".*"`, "lp-guessed", "tls.key_file", "workers: 64",
		aliasOf(alias.ClusterLogPipeline, "", "platform", alias.ClusterLogOutput, "raw"),
		aliasOf(alias.LogPipeline, "team-b", "web", alias.LogOutput, "cw")} {
		if strings.Contains(text, bad) {
			t.Errorf("the configuration holds %q", bad)
		}
	}
	for _, good := range []string{`json_date_format: "iso8601"`,
		aliasOf(alias.ClusterLogPipeline, "", "platform", alias.ClusterLogOutput, "tuned"),
		aliasOf(alias.LogPipeline, "team-a", "web", alias.LogOutput, "stdout"),
		aliasOf(alias.LogPipeline, "team-c", "web", alias.LogOutput, "cw")} {
		if !strings.Contains(text, good) {
			t.Errorf("the configuration lacks %q", good)
		}
	}
	if len(cfg.AWSProfiles) != 1 || cfg.AWSProfiles[0].AccessKeyID.Namespace != "team-c" {
		t.Errorf("AWS profiles %+v, want team-c's only", cfg.AWSProfiles)
	}
}

func aliasOf(pipelineKind, namespace, pipeline, outputKind, output string) string {
	return alias.Output{PipelineKind: pipelineKind, Namespace: namespace, Pipeline: pipeline, OutputKind: outputKind, Output: output}.Encode()
}

// Names that address credentials depend on the salt: the same with the same salt
// (the operator and logplane render agree), unguessable without it.
func TestCredentialNamesAreSalted(t *testing.T) {
	salted := Render(attackSnapshot()).Agents[0].Config
	again := Render(attackSnapshot()).Agents[0].Config
	s := attackSnapshot()
	s.Salt = nil
	unsalted := Render(s).Agents[0].Config
	s.Salt = []byte("another salt, another cluster!!!")
	other := Render(s).Agents[0].Config
	if salted.Hash != again.Hash || !sameFiles(salted.Files, again.Files) {
		t.Fatal("the same salt renders different configurations")
	}
	names := func(c Config) []string {
		var out []string
		for _, p := range c.AWSProfiles {
			out = append(out, p.Name)
		}
		for _, e := range c.Env {
			out = append(out, e.Name)
		}
		for _, f := range c.SecretFiles {
			out = append(out, f.Path)
		}
		return out
	}
	if len(names(salted)) == 0 {
		t.Fatal("no credentials to name")
	}
	for _, c := range []Config{unsalted, other} {
		for _, n := range names(c) {
			if slices.Contains(names(salted), n) {
				t.Errorf("%s is named the same with another salt", n)
			}
		}
	}
	// A Renderer that remembers sections forgets them when the salt changes.
	r := NewRenderer()
	r.Render(attackSnapshot())
	if got := r.Render(s).Agents[0].Config; got.Hash != other.Hash {
		t.Error("a Renderer kept names of the previous salt")
	}
}

// The configuration rendered from the attacks starts with the real Fluent Bit: what
// was left out leaves a configuration that works for everyone else.
func TestAttackConfigurationStarts(t *testing.T) {
	bin := fbrun.Binary(t)
	cfg := Render(attackSnapshot()).Agents[0].Config
	if len(cfg.Files) != 1 {
		t.Fatalf("%d files", len(cfg.Files))
	}
	var creds strings.Builder
	for _, f := range cfg.SecretFiles {
		fmt.Fprintf(&creds, "file %s = %s/%s[%s]\n", f.Path, f.Source.Namespace, f.Source.Name, f.Source.Key)
	}
	for _, p := range cfg.AWSProfiles {
		fmt.Fprintf(&creds, "aws profile %s = %s/%s\n", p.Name, p.AccessKeyID.Namespace, p.AccessKeyID.Name)
	}
	content := cfg.Files[0].Content
	startAll(t, bin, []goldenPod{{name: "issue-19-attacks", files: map[string][]byte{fbrun.MainConfig: content},
		creds: creds.String() + string(content), api: fbrun.ReadsAPIServer(content)}})
}
