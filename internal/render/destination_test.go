package render

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/logplane/logplane/api/v1alpha1"
	"github.com/logplane/logplane/internal/alias"
	"github.com/logplane/logplane/internal/fluentbit"
)

// destinationCase is one output spec rendered into a golden file
// testdata/destinations/<name>.yaml, through the same path the agent configuration
// takes. Each destination's test file contributes its cases.
type destinationCase struct {
	name   string
	spec   v1.OutputSpec
	policy *v1.RetentionPolicy
}

// renderDestination renders spec as the only output of a tenant pipeline team-a/web,
// followed by the credentials it refers to, so that goldens show both.
func renderDestination(t *testing.T, c destinationCase) []byte {
	t.Helper()
	pl := &pipeline{Ref: Ref{Kind: alias.LogPipeline, Namespace: "team-a", Name: "web"}}
	o := &output{Ref: Ref{Kind: alias.LogOutput, Namespace: "team-a", Name: c.name}, SecretNamespace: "team-a",
		Spec: &c.spec, Policy: c.policy}
	creds := newCredentials()
	s, err := outputSection(pl, o, match{glob: "kube.team-a.*"}, nil, creds, c.policy != nil, nil)
	if err != nil {
		t.Fatalf("%s: %v", c.name, err)
	}
	data, err := fluentbit.Config{Outputs: []fluentbit.Section{s}}.Marshal()
	if err != nil {
		t.Fatalf("%s: %v", c.name, err)
	}
	var b strings.Builder
	b.Write(data)
	for _, e := range sortedValues(creds.env) {
		fmt.Fprintf(&b, "# env %s = secret %s/%s key %s\n", e.Name, e.Source.Namespace, e.Source.Name, e.Source.Key)
	}
	for _, f := range sortedValues(creds.files) {
		fmt.Fprintf(&b, "# file %s = secret %s/%s key %s\n", f.Path, f.Source.Namespace, f.Source.Name, f.Source.Key)
	}
	for _, p := range sortedValues(creds.profiles) {
		fmt.Fprintf(&b, "# aws profile %s = secret %s/%s keys %s, %s\n", p.Name, p.AccessKeyID.Namespace,
			p.AccessKeyID.Name, p.AccessKeyID.Key, p.SecretAccessKey.Key)
	}
	return []byte(b.String())
}

func runDestinationGoldens(t *testing.T, cases []destinationCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			golden(t, "destinations/"+c.name+".yaml", renderDestination(t, c))
		})
	}
}

func ptr[T any](v T) *T { return &v }

func TestCoreDestinations(t *testing.T) {
	runDestinationGoldens(t, []destinationCase{
		{name: "stdout", spec: v1.OutputSpec{Type: v1.OutputStdout, Stdout: &v1.StdoutOutput{Format: "JSONLines"}}},
		{name: "http-minimal", spec: v1.OutputSpec{Type: v1.OutputHTTP, HTTP: &v1.HTTPOutput{
			Host: "logs.example.com", Port: 443, Path: "/", Method: "POST", Format: "JSONLines", Compression: "None"}}},
		{name: "http-full", spec: v1.OutputSpec{
			Type: v1.OutputHTTP,
			HTTP: &v1.HTTPOutput{
				Host: "logs.example.com", Port: 8443, Path: "/v1/ingest", Method: "PUT", Format: "JSON",
				Headers: []v1.Header{
					{Name: "X-Team", Value: ptr(v1.ConfigString("team-a"))},
					{Name: "Authorization", ValueFrom: &v1.SecretKeyRef{Name: "api", Key: "token"}},
				},
				BasicAuth:   &v1.BasicAuth{User: "shipper", Password: v1.SecretKeyRef{Name: "basic", Key: "password"}},
				Compression: v1.CompressionGzip,
			},
			TLS: &v1.TLS{ServerName: ptr(v1.Host("logs.internal")),
				CA:   &v1.SecretKeyRef{Name: "tls", Key: "ca.crt"},
				Cert: &v1.SecretKeyRef{Name: "tls", Key: "tls.crt"}, Key: &v1.SecretKeyRef{Name: "tls", Key: "tls.key"}},
			Workers: ptr(int32(4)),
		}},
		// AWS and Elastic Cloud speak HTTPS only: TLS is on without a tls block.
		{name: "opensearch-aws-implicit-tls", spec: v1.OutputSpec{Type: v1.OutputOpenSearch, OpenSearch: &v1.OpenSearchOutput{
			Host: "search-logs.eu-west-1.es.amazonaws.com", Port: 443, SearchIndex: v1.SearchIndex{Index: "logs"},
			AWS: &v1.AWSAuth{Region: "eu-west-1"}}}},
		{name: "elasticsearch-cloud-implicit-tls", spec: v1.OutputSpec{Type: v1.OutputElasticsearch, Elasticsearch: &v1.ElasticsearchOutput{
			CloudID: ptr(v1.ConfigString("logs:ZXUtd2VzdC0xLmF3cy5mb3VuZC5pbyQwMTIzYWJjZCQ0NTY3ZWY")), SearchIndex: v1.SearchIndex{Index: "logs"}}}},
		// OTLP's standard port follows the protocol when none is given.
		{name: "otlp-grpc-default-port", spec: v1.OutputSpec{Type: v1.OutputOTLP, OTLP: &v1.OTLPOutput{
			Host: "otel-collector.observability", Protocol: "GRPC"}}},
		{name: "http-at-least-once", spec: v1.OutputSpec{Type: v1.OutputHTTP, HTTP: &v1.HTTPOutput{Host: "10.0.0.1", Port: 80}},
			policy: atLeastOnce("10Gi", 0)},
	})
}

func atLeastOnce(buffer string, retry time.Duration) *v1.RetentionPolicy {
	q := resource.MustParse(buffer)
	return &v1.RetentionPolicy{Spec: v1.RetentionPolicySpec{
		Retention: "5y", Delivery: v1.DeliveryAtLeastOnce,
		Buffer: v1.RetentionBuffer{MaxSize: &q},
		Retry:  v1.RetentionRetry{MaxDuration: &metav1.Duration{Duration: retry}},
	}}
}
