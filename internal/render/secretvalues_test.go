package render

import (
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/logplane/logplane/api/v1alpha1"
	"github.com/logplane/logplane/internal/alias"
	"github.com/logplane/logplane/internal/conditions"
	"github.com/logplane/logplane/internal/snapshot"
)

// Secret values are held to what their way into Fluent Bit can carry: every value to
// 256 KiB (the agent copies it into Secrets it shares with every output), values
// read from environment variables to one line without NUL; TLS material, mounted as
// a file, may span lines. An output whose value does not fit is left out with
// SecretInvalid on its own status.
func TestSecretValuesMustFitHowTheyReachFluentBit(t *testing.T) {
	ca := "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
	cases := []struct {
		name, password, ca string
		why                string
	}{
		{"ok", "s3cr3t\n", ca, ""},
		{"nul", "tok\x00en", ca, "holds a line break or a NUL character"},
		{"line-break", "token\r\nX-Injected: 1", ca, "holds a line break or a NUL character"},
		{"huge-password", strings.Repeat("a", 1_000_000), ca, "holds more than 256 KiB"},
		{"huge-ca", "s3cr3t", strings.Repeat("a", 300_000), "holds more than 256 KiB"},
	}
	s := &snapshot.Snapshot{OperatorNamespace: "logplane-system"}
	for _, c := range cases {
		s.Namespaces = append(s.Namespaces, snapshot.Namespace{Name: c.name})
		s.Secrets = append(s.Secrets, snapshot.NewSecret(c.name, "creds", map[string][]byte{"password": []byte(c.password), "ca": []byte(c.ca)}))
		s.Outputs = append(s.Outputs, v1.LogOutput{ObjectMeta: metav1.ObjectMeta{Namespace: c.name, Name: "out"},
			Spec: v1.OutputSpec{Type: v1.OutputHTTP, TLS: &v1.TLS{CA: &v1.SecretKeyRef{Name: "creds", Key: "ca"}},
				HTTP: &v1.HTTPOutput{Host: "collector", Port: 443,
					BasicAuth: &v1.BasicAuth{User: "u", Password: v1.SecretKeyRef{Name: "creds", Key: "password"}}}}})
		s.Pipelines = append(s.Pipelines, v1.LogPipeline{ObjectMeta: metav1.ObjectMeta{Namespace: c.name, Name: "p"},
			Spec: v1.LogPipelineSpec{Agent: "default", OutputRefs: []v1.ResourceName{"out"},
				Input: v1.LogPipelineInput{Containers: &v1.ContainerSelection{}}}})
	}
	got := map[string]string{}
	for _, p := range Render(s).Problems {
		if p.Ref.Kind == alias.LogOutput {
			got[p.Ref.Namespace] = p.Reason + ": " + p.Message
		}
	}
	for _, c := range cases {
		p := got[c.name]
		if c.why == "" && p != "" || c.why != "" && (!strings.HasPrefix(p, conditions.ReasonSecretInvalid) || !strings.Contains(p, c.why)) {
			t.Errorf("%s: problem %q, want %q", c.name, p, c.why)
		}
	}
}
