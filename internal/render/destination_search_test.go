package render

import (
	"testing"

	v1 "github.com/logplane/logplane/api/v1alpha1"
	"github.com/logplane/logplane/internal/fluentbit"
)

func TestSearchAndLogDestinations(t *testing.T) {
	tls := &v1.TLS{CA: &v1.SecretKeyRef{Name: "tls", Key: "ca.crt"}}
	runDestinationGoldens(t, []destinationCase{
		{name: "elasticsearch-minimal", spec: v1.OutputSpec{Type: v1.OutputElasticsearch, Elasticsearch: &v1.ElasticsearchOutput{
			Host: "es.example.com", Port: 9200, SearchIndex: v1.SearchIndex{Index: "logs"}, Compression: v1.CompressionNone}}},
		{name: "elasticsearch-cloud", spec: v1.OutputSpec{Type: v1.OutputElasticsearch, Elasticsearch: &v1.ElasticsearchOutput{
			Port:        9200, // the API default; cloud_id supplies the port
			CloudID:     ptr(v1.ConfigString("prod:ZXUtd2VzdC0xLmF3cy5mb3VuZC5pbyRhYmMkZGVm")),
			CloudAuth:   &v1.SecretKeyRef{Name: "elastic-cloud", Key: "auth"},
			SearchIndex: v1.SearchIndex{DailyIndexPrefix: "team-a"},
			Compression: v1.CompressionGzip,
		}, TLS: &v1.TLS{}}},
		{name: "elasticsearch-apikey", spec: v1.OutputSpec{Type: v1.OutputElasticsearch, Elasticsearch: &v1.ElasticsearchOutput{
			Host: "es.example.com", Port: 443, SearchIndex: v1.SearchIndex{Index: "logs-team-a"},
			APIKey: &v1.SecretKeyRef{Name: "es", Key: "api-key"}}, TLS: &v1.TLS{}}},
		{name: "elasticsearch-full", spec: v1.OutputSpec{Type: v1.OutputElasticsearch, Elasticsearch: &v1.ElasticsearchOutput{
			Host: "es.internal", Port: 9243, Path: ptr(v1.ConfigString("/elastic")),
			SearchIndex: v1.SearchIndex{DailyIndexPrefix: "k8s-team-a"},
			Pipeline:    ptr(v1.ConfigString("k8s-logs")),
			BasicAuth:   &v1.BasicAuth{User: "shipper", Password: v1.SecretKeyRef{Name: "es", Key: "password"}},
			Compression: v1.CompressionGzip,
		}, TLS: tls, Workers: ptr(int32(2))}},

		{name: "opensearch-minimal", spec: v1.OutputSpec{Type: v1.OutputOpenSearch, OpenSearch: &v1.OpenSearchOutput{
			Host: "opensearch.example.com", Port: 443, SearchIndex: v1.SearchIndex{Index: "logs"}}}},
		{name: "opensearch-aws-serverless", spec: v1.OutputSpec{Type: v1.OutputOpenSearch, OpenSearch: &v1.OpenSearchOutput{
			Host: "abc123.eu-west-1.aoss.amazonaws.com", Port: 443, Path: ptr(v1.ConfigString("/search")),
			SearchIndex: v1.SearchIndex{DailyIndexPrefix: "team-a"},
			Pipeline:    ptr(v1.ConfigString("k8s-logs")),
			AWS: &v1.AWSAuth{Region: "eu-west-1", RoleArn: "arn:aws:iam::123456789012:role/log-writer",
				ExternalID: "team-a", StsEndpoint: ptr(v1.EndpointURL("https://sts.eu-west-1.amazonaws.com")),
				Credentials: &v1.AWSCredentials{AccessKeyID: v1.SecretKeyRef{Name: "aws", Key: "id"},
					SecretAccessKey: v1.SecretKeyRef{Name: "aws", Key: "secret"}}},
			Serverless:  true,
			Compression: v1.CompressionGzip,
		}, TLS: &v1.TLS{}}},
		{name: "opensearch-aws-domain", spec: v1.OutputSpec{Type: v1.OutputOpenSearch, OpenSearch: &v1.OpenSearchOutput{
			Host: "search-logs.eu-west-1.es.amazonaws.com", Port: 443, SearchIndex: v1.SearchIndex{Index: "logs"},
			AWS: &v1.AWSAuth{Region: "eu-west-1"}}, TLS: &v1.TLS{}}},
		{name: "opensearch-basic-auth", spec: v1.OutputSpec{Type: v1.OutputOpenSearch, OpenSearch: &v1.OpenSearchOutput{
			Host: "opensearch.internal", Port: 9200, SearchIndex: v1.SearchIndex{Index: "logs"},
			BasicAuth:   &v1.BasicAuth{User: "shipper", Password: v1.SecretKeyRef{Name: "os", Key: "password"}},
			Compression: v1.CompressionNone,
		}, TLS: tls}},

		{name: "loki-minimal", spec: v1.OutputSpec{Type: v1.OutputLoki, Loki: &v1.LokiOutput{Host: "loki.monitoring", Port: 3100}}},
		{name: "loki-full", spec: v1.OutputSpec{Type: v1.OutputLoki, Loki: &v1.LokiOutput{
			Host: "loki-gateway.monitoring", Port: 443, TenantID: ptr(v1.ConfigString("team-a")),
			Labels:     []v1.KeyValue{{Key: "cluster", Value: "prod-eu"}, {Key: "source", Value: "k8s=logplane"}},
			LabelKeys:  []v1.FieldPath{"level", "$kubernetes['namespace_name']"},
			RemoveKeys: []v1.FieldPath{"stream", "$kubernetes['pod_id']"},
			LineFormat: "KeyValue",
			BasicAuth:  &v1.BasicAuth{User: "team-a", Password: v1.SecretKeyRef{Name: "loki", Key: "password"}},
		}, TLS: tls}},
		{name: "loki-bearer-token", spec: v1.OutputSpec{Type: v1.OutputLoki, Loki: &v1.LokiOutput{
			Host: "logs.grafana.net", Port: 443, LineFormat: "JSON",
			BearerToken: &v1.SecretKeyRef{Name: "grafana-cloud", Key: "token"}}, TLS: &v1.TLS{}}},

		{name: "splunk-minimal", spec: v1.OutputSpec{Type: v1.OutputSplunk, Splunk: &v1.SplunkOutput{
			Host: "hec.example.com", Port: 8088, Token: v1.SecretKeyRef{Name: "splunk", Key: "hec-token"}}}},
		{name: "splunk-full", spec: v1.OutputSpec{Type: v1.OutputSplunk, Splunk: &v1.SplunkOutput{
			Host: "hec.splunk.internal", Port: 443, Token: v1.SecretKeyRef{Name: "splunk", Key: "hec-token"},
			Index: ptr(v1.ConfigString("k8s")), Source: ptr(v1.ConfigString("team-a")),
			SourceType: ptr(v1.ConfigString("_json")), EventKey: ptr(v1.FieldPath("log")),
			Compression: v1.CompressionGzip,
		}, TLS: tls}},
	})
}

// TestLokiRefusesMisreadLabels covers fixed labels Fluent Bit would read otherwise.
func TestLokiRefusesMisreadLabels(t *testing.T) {
	for _, kv := range []v1.KeyValue{
		{Key: "app.kubernetes.io", Value: "web"}, {Key: "team", Value: "a,b"},
		{Key: "team", Value: "$team"}, {Key: "team", Value: ""},
	} {
		if _, err := lokiLabels([]v1.KeyValue{kv}); err == nil {
			t.Errorf("%v: want an error", kv)
		}
	}
}

func TestOpenSearchRefusesAWSEndpoint(t *testing.T) {
	spec := &v1.OutputSpec{Type: v1.OutputOpenSearch, OpenSearch: &v1.OpenSearchOutput{
		Host: "vpc-logs.eu-west-1.es.amazonaws.com", SearchIndex: v1.SearchIndex{Index: "logs"},
		AWS: &v1.AWSAuth{Region: "eu-west-1", Endpoint: ptr(v1.EndpointURL("https://vpc-logs.eu-west-1.es.amazonaws.com"))}}}
	if err := renderOpenSearch(&fluentbit.Section{}, spec, &outputEnv{creds: newCredentials()}); err == nil {
		t.Error("want an error for aws.endpoint")
	}
}
