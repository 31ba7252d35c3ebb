package integration

import (
	"context"
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/logplane/logplane/api/v1alpha1"
	agentobjects "github.com/logplane/logplane/internal/agent"
	"github.com/logplane/logplane/internal/alias"
	"github.com/logplane/logplane/internal/conditions"
	"github.com/logplane/logplane/test/testenv"
)

// decode reads one manifest.
func decode(t *testing.T, manifest string) *unstructured.Unstructured {
	t.Helper()
	objs, err := testenv.DecodeYAML([]byte(manifest))
	if err != nil || len(objs) != 1 {
		t.Fatalf("bad test manifest (%d objects): %v", len(objs), err)
	}
	return objs[0]
}

// applyYAML server-side applies one manifest as a tenant would (kubectl apply
// --server-side), without persisting it.
func applyYAML(t *testing.T, manifest string) error {
	t.Helper()
	return k8s.Apply(t.Context(), client.ApplyConfigurationFromUnstructured(decode(t, manifest)),
		client.FieldOwner("tenant"), client.ForceOwnership, client.DryRunAll)
}

// Issue 19, item 1: a tenant's LogOutput with rawParameters (match_regex .* delivered
// every namespace's records to it) is refused by the API server; one stored before
// the field was removed loses it.
func TestTenantOutputsHaveNoRawParameters(t *testing.T) {
	ensureNamespace(t, validationNamespace)
	manifest := output(`
type: stdout
stdout: {}
rawParameters: [{key: match_regex, value: ".*"}]`)
	err := applyYAML(t, manifest)
	if err == nil || !strings.Contains(err.Error(), ".spec.rawParameters: field not declared in schema") {
		t.Fatalf("applied: %v; want the undeclared field refused", err)
	}
	// A client that ignores unknown fields (as objects stored before the field was
	// removed were written) gets an object without it: the API server prunes it.
	stored := decode(t, manifest)
	if err := k8s.Create(t.Context(), stored, client.DryRunAll, client.FieldValidation("Ignore")); err != nil {
		t.Fatal(err)
	}
	if _, found, _ := unstructured.NestedFieldNoCopy(stored.Object, "spec", "rawParameters"); found {
		t.Error("the API server kept rawParameters on a LogOutput")
	}
}

// A ClusterLogOutput's rawParameters are checked by CEL rules: the attacks are refused
// with a message naming the key and why; documented, harmless keys are accepted.
func TestClusterOutputRawParametersAreChecked(t *testing.T) {
	attack := clusterOutput(`
type: http
http: {host: logs.example.com}
rawParameters:
- {key: match_regex, value: ".*"}
- {key: profile, value: lp-guessed}
- {key: tls.key_file, value: /fluent-bit/secrets/guessed}
- {key: workers, value: "64"}`)
	err := applyYAML(t, attack)
	if err == nil || !apierrors.IsInvalid(err) {
		t.Fatalf("got %v, want Invalid", err)
	}
	for _, want := range []string{
		"rawParameters key match_regex selects records",
		"rawParameters key profile carries or chooses credentials",
		"rawParameters key tls.key_file names a file",
		"rawParameters key workers sets threads",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not say %q:\n%v", want, err)
		}
	}
	for _, c := range []struct{ spec, want string }{
		// Fluent Bit reads keys without regard to case; the API takes them as it documents them.
		{"type: http\nhttp: {host: h}\nrawParameters: [{key: Match_Regex, value: x}]", "should match '^[a-z0-9][a-z0-9_.]*$'"},
		{"type: http\nhttp: {host: h}\nrawParameters: [{key: store_dir, value: /var}]", "store_dir names a file"},
		{"type: s3\ns3: {aws: {region: eu-west-1}, bucket: logs}\nrawParameters: [{key: storage.total_limit_size, value: 1G}]",
			"storage.total_limit_size is set by logplane from the retention policy"},
		{"type: kafka\nkafka: {brokers: [\"k:9092\"], topic: t}\nrawParameters: [{key: rdkafka.sasl.kerberos.kinit.cmd, value: sh}]",
			"passes settings to librdkafka"},
		{"type: http\nhttp: {host: h}\nrawParameters: [{key: no_such_option, value: x}]",
			"no_such_option is not a key Fluent Bit 5.1.1 documents for the http output plugin"},
		{"type: stdout\nstdout: {}\nrawParameters: [{key: net.keepalive, value: \"off\"}]",
			"net.keepalive is not a key Fluent Bit 5.1.1 documents for the stdout output plugin"},
	} {
		err := applyYAML(t, clusterOutput(c.spec))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want %q", c.spec, err, c.want)
		}
	}
	for _, spec := range []string{
		"type: http\nhttp: {host: h}\nrawParameters: [{key: net.keepalive, value: \"off\"}, {key: log_level, value: debug}]",
		"type: stdout\nstdout: {}\nrawParameters: [{key: json_date_format, value: iso8601}]",
		"type: loki\nloki: {host: h}\nrawParameters: [{key: structured_metadata, value: \"pod=$kubernetes['pod_name']\"}]",
	} {
		if err := applyYAML(t, clusterOutput(spec)); err != nil {
			t.Errorf("%s: refused: %v", spec, err)
		}
	}
}

// Issue 19, item 3: a tenant's AWS access key ID with a line break would add a
// [default] profile to the agent's shared credentials file. The output says so on its
// status, is left out, and nothing of the value reaches the agent's Secrets; fixed, it
// renders.
func TestAWSKeyThatAddsAProfileIsRefused(t *testing.T) {
	ctx := t.Context()
	const ns = "creds-attack"
	ensureNamespace(t, ns)
	keys := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "aws"}, StringData: map[string]string{
		"id":     "AKIAIOSFODNN7EXAMPLE\n[default]\naws_access_key_id = AKIAATTACKER00000000\naws_secret_access_key = attacker",
		"secret": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}}
	out := &v1.LogOutput{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "cw"}, Spec: v1.OutputSpec{
		Type: v1.OutputCloudWatchLogs, CloudWatchLogs: &v1.CloudWatchLogsOutput{
			AWS: v1.AWSAuth{Region: "eu-west-1", Credentials: &v1.AWSCredentials{
				AccessKeyID: v1.SecretKeyRef{Name: "aws", Key: "id"}, SecretAccessKey: v1.SecretKeyRef{Name: "aws", Key: "secret"}}},
			LogGroupName: "/creds-attack", LogStreamPrefix: ptr(v1.ConfigString("web-"))}}}
	p := &v1.LogPipeline{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "web"}, Spec: v1.LogPipelineSpec{
		Input: v1.LogPipelineInput{Containers: &v1.ContainerSelection{}}, OutputRefs: []v1.ResourceName{"cw"}}}
	create(t, keys, out, p)
	t.Cleanup(func() {
		for _, o := range []client.Object{p, out, keys} {
			_ = k8s.Delete(context.Background(), o)
		}
	})
	outputConfigGenerated := func(status metav1.ConditionStatus, reason, message string) func() error {
		return func() error {
			var got v1.LogOutput
			if err := k8s.Get(ctx, client.ObjectKeyFromObject(out), &got); err != nil {
				return err
			}
			c := meta.FindStatusCondition(got.Status.Conditions, conditions.TypeConfigGenerated)
			if c == nil || c.Status != status || c.Reason != reason || !strings.Contains(c.Message, message) {
				return errString(fmt.Sprintf("ConfigGenerated %+v, want %s %s %q", c, status, reason, message))
			}
			return nil
		}
	}
	eventually(t, "the output reports the value", outputConfigGenerated(metav1.ConditionFalse, conditions.ReasonSecretInvalid,
		`Secret creds-attack/aws key "id" holds a line break`))
	waitForWarning(t, ns, "cw", conditions.ReasonSecretInvalid)
	a := alias.Output{PipelineKind: alias.LogPipeline, Namespace: ns, Pipeline: "web", OutputKind: alias.LogOutput, Output: "cw"}.Encode()
	cfg, _, err := agentConfig(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(cfg, a) {
		t.Errorf("the agent's configuration has the output %s", a)
	}
	assertCredentials := func() error {
		var secrets corev1.SecretList
		if err := k8s.List(ctx, &secrets, client.InNamespace(operatorNamespace),
			client.MatchingLabels{agentobjects.LabelManagedBy: "logplane"}); err != nil {
			return err
		}
		for _, s := range secrets.Items {
			for k, v := range s.Data {
				if strings.Contains(string(v), "[default]") || strings.Contains(string(v), "AKIAATTACKER") {
					return fmt.Errorf("secret %s key %s holds the tenant's profile:\n%s", s.Name, k, v)
				}
			}
		}
		return nil
	}
	if err := assertCredentials(); err != nil {
		t.Error(err)
	}

	fixed := keys.DeepCopy()
	fixed.StringData = map[string]string{"id": "AKIAIOSFODNN7EXAMPLE\n"} // echo's newline is fine
	if err := k8s.Update(ctx, fixed); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the fixed output renders", outputConfigGenerated(metav1.ConditionTrue, conditions.ReasonConfigGenerated, ""))
	eventually(t, "the agent ships to it", func() error {
		cfg, _, err := agentConfig(ctx)
		if err != nil {
			return err
		}
		if !strings.Contains(cfg, a) {
			return errString("no " + a + " yet")
		}
		return nil
	})
	if err := assertCredentials(); err != nil {
		t.Error(err)
	}
}

// What passes the API server is still checked when rendered: an allowed key reaches the
// configuration (with Unsupported on the output), and a key that would override one
// logplane sets from the typed fields keeps its output out of the configuration,
// reported on the output's own status.
func TestClusterOutputRawParametersRender(t *testing.T) {
	ctx := t.Context()
	const ns = "raw-params"
	ensureNamespace(t, ns)
	tuned := &v1.ClusterLogOutput{ObjectMeta: metav1.ObjectMeta{Name: "raw-tuned"}, Spec: v1.ClusterLogOutputSpec{
		OutputSpec:    v1.OutputSpec{Type: v1.OutputHTTP, HTTP: &v1.HTTPOutput{Host: "logs.example.com"}},
		RawParameters: []v1.RawParameter{{Key: "net.keepalive", Value: "off"}}}}
	override := &v1.ClusterLogOutput{ObjectMeta: metav1.ObjectMeta{Name: "raw-override"}, Spec: v1.ClusterLogOutputSpec{
		OutputSpec:    v1.OutputSpec{Type: v1.OutputHTTP, HTTP: &v1.HTTPOutput{Host: "logs.example.com"}},
		RawParameters: []v1.RawParameter{{Key: "host", Value: "elsewhere.example.com"}}}}
	p := &v1.ClusterLogPipeline{ObjectMeta: metav1.ObjectMeta{Name: "raw-params"}, Spec: v1.ClusterLogPipelineSpec{
		Input: v1.ClusterLogPipelineInput{Containers: &v1.ClusterContainerInput{
			Namespaces: v1.NamespaceSelection{Include: []v1.NamespaceName{ns}}}},
		ClusterOutputRefs: []v1.ResourceName{"raw-tuned", "raw-override"}}}
	create(t, tuned, override, p)
	t.Cleanup(func() {
		for _, o := range []client.Object{p, tuned, override} {
			_ = k8s.Delete(context.Background(), o)
		}
	})
	condition := func(o *v1.ClusterLogOutput, condType string, status metav1.ConditionStatus, reason, message string) func() error {
		return func() error {
			var got v1.ClusterLogOutput
			if err := k8s.Get(ctx, client.ObjectKeyFromObject(o), &got); err != nil {
				return err
			}
			c := meta.FindStatusCondition(got.Status.Conditions, condType)
			if c == nil || c.Status != status || c.Reason != reason || !strings.Contains(c.Message, message) {
				return errString(fmt.Sprintf("%s %+v, want %s %s %q", condType, c, status, reason, message))
			}
			return nil
		}
	}
	eventually(t, "the overriding output is left out", condition(override, conditions.TypeConfigGenerated, metav1.ConditionFalse,
		conditions.ReasonOutputInvalid, "rawParameters key host is set by logplane from the typed fields"))
	eventually(t, "the tuned output says it is Unsupported", condition(tuned, conditions.TypeConfigGenerated, metav1.ConditionTrue,
		conditions.ReasonUnsupported, ""))
	cfg, _, err := agentConfig(ctx)
	if err != nil {
		t.Fatal(err)
	}
	section := func(output string) string {
		return alias.Output{PipelineKind: alias.ClusterLogPipeline, Pipeline: "raw-params", OutputKind: alias.ClusterLogOutput, Output: output}.Encode()
	}
	if !strings.Contains(cfg, section("raw-tuned")) || !strings.Contains(cfg, `net.keepalive: "off"`) {
		t.Errorf("the tuned output is not rendered with its key:\n%s", cfg)
	}
	if strings.Contains(cfg, section("raw-override")) || strings.Contains(cfg, "elsewhere.example.com") {
		t.Errorf("the overriding output reached the configuration")
	}
}
