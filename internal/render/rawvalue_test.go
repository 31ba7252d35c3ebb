package render

import (
	"bytes"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/logplane/logplane/api/v1alpha1"
	"github.com/logplane/logplane/internal/alias"
	"github.com/logplane/logplane/internal/conditions"
	"github.com/logplane/logplane/internal/snapshot"
)

// A ClusterLogOutput whose rawParameters give a key a value Fluent Bit refuses at
// start (admitted before the rule, or while the webhook was down) is left out with
// InvalidValue naming the value's field; a tenant using it and one using another
// output keep their pipelines, and the value never reaches the configuration.
func TestRawParameterValueFluentBitRefusesIsLeftOut(t *testing.T) {
	s := &snapshot.Snapshot{OperatorNamespace: "logplane-system"}
	tenants(s, "team", 1, 1, 1, time.Time{})
	s.Namespaces[0].Labels = map[string]string{"central": "yes"}
	s.ClusterOutputs = []v1.ClusterLogOutput{{ObjectMeta: metav1.ObjectMeta{Name: "central", ResourceVersion: "1"},
		Spec: v1.ClusterLogOutputSpec{
			OutputSpec:        v1.OutputSpec{Type: v1.OutputHTTP, HTTP: &v1.HTTPOutput{Host: "central.svc", Port: 80}},
			RawParameters:     []v1.RawParameter{{Key: "compress", Value: "bogus"}},
			AllowedNamespaces: &metav1.LabelSelector{MatchLabels: map[string]string{"central": "yes"}},
		}}}
	s.Pipelines[0].Spec.ClusterOutputRefs = []v1.ResourceName{"central"}
	res := Render(s)
	var found bool
	for _, p := range res.Problems {
		if p.Ref == (Ref{Kind: alias.ClusterLogOutput, Name: "central"}) && p.Reason == conditions.ReasonInvalidValue {
			found = strings.Contains(p.Message, "rawParameters[0].value") && strings.Contains(p.Message, "write one of gzip, snappy, zstd")
			if !found {
				t.Errorf("message: %s", p.Message)
			}
		}
	}
	if !found {
		t.Errorf("no InvalidValue on the ClusterLogOutput: %v", res.Problems)
	}
	for _, f := range res.Agents[0].Files {
		if bytes.Contains(f.Content, []byte("bogus")) {
			t.Errorf("%s carries the refused value", f.Name)
		}
	}
	if len(res.Agents[0].Pipelines) != 1 {
		t.Errorf("pipelines rendered: %v", res.Agents[0].Pipelines)
	}
}
