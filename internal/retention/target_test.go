package retention

import (
	"strings"
	"testing"

	v1 "github.com/logplane/logplane/api/v1alpha1"
	"github.com/logplane/logplane/internal/identity"
)

func TestUnsupported(t *testing.T) {
	aws := v1.AWSAuth{Region: "eu-west-1"}
	cases := []struct {
		name string
		spec v1.OutputSpec
		want string // substring of the reason; "" when supported
	}{
		{"cloudwatch fixed group", v1.OutputSpec{Type: v1.OutputCloudWatchLogs, CloudWatchLogs: &v1.CloudWatchLogsOutput{AWS: aws, LogGroupName: "/k8s/a"}}, ""},
		{"cloudwatch templated group", v1.OutputSpec{Type: v1.OutputCloudWatchLogs, CloudWatchLogs: &v1.CloudWatchLogsOutput{AWS: aws, LogGroupName: "/k8s/a",
			LogGroupTemplate: ptr(v1.ConfigString("/k8s/$kubernetes['namespace_name']"))}}, "logGroupTemplate"},
		{"s3 with prefix", v1.OutputSpec{Type: v1.OutputS3, S3: &v1.S3Output{AWS: aws, Bucket: "b", KeyFormat: "/logs/$TAG/%Y"}}, ""},
		{"s3 default key format", v1.OutputSpec{Type: v1.OutputS3, S3: &v1.S3Output{AWS: aws, Bucket: "b"}}, ""},
		{"s3 without prefix", v1.OutputSpec{Type: v1.OutputS3, S3: &v1.S3Output{AWS: aws, Bucket: "b", KeyFormat: "/$TAG/%Y"}}, "whole bucket"},
		{"opensearch daily", v1.OutputSpec{Type: v1.OutputOpenSearch, OpenSearch: &v1.OpenSearchOutput{Host: "os", SearchIndex: v1.SearchIndex{DailyIndexPrefix: "app"}}}, ""},
		{"opensearch fixed index", v1.OutputSpec{Type: v1.OutputOpenSearch, OpenSearch: &v1.OpenSearchOutput{Host: "os", SearchIndex: v1.SearchIndex{Index: "app"}}}, "fixed index"},
		{"opensearch serverless", v1.OutputSpec{Type: v1.OutputOpenSearch, OpenSearch: &v1.OpenSearchOutput{Host: "os", Serverless: true, AWS: &aws,
			SearchIndex: v1.SearchIndex{DailyIndexPrefix: "app"}}}, "Serverless"},
		{"elasticsearch daily", v1.OutputSpec{Type: v1.OutputElasticsearch, Elasticsearch: &v1.ElasticsearchOutput{Host: "es", SearchIndex: v1.SearchIndex{DailyIndexPrefix: "app"}}}, ""},
		{"elasticsearch fixed index", v1.OutputSpec{Type: v1.OutputElasticsearch, Elasticsearch: &v1.ElasticsearchOutput{Host: "es", SearchIndex: v1.SearchIndex{Index: "app"}}}, "fixed index"},
		{"loki", v1.OutputSpec{Type: v1.OutputLoki, Loki: &v1.LokiOutput{}}, "loki destinations have no retention setting"},
		{"kafka", v1.OutputSpec{Type: v1.OutputKafka}, "kafka destinations"},
		{"firehose", v1.OutputSpec{Type: v1.OutputKinesisFirehose}, "kinesisFirehose destinations"},
		{"stdout", v1.OutputSpec{Type: v1.OutputStdout}, "stdout destinations"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := Unsupported(&c.spec)
			if c.want == "" && got != "" || c.want != "" && !strings.Contains(got, c.want) {
				t.Errorf("Unsupported = %q, want %q", got, c.want)
			}
		})
	}
	// Every type the API knows has an answer, and only four are supported at all.
	for _, typ := range []v1.OutputType{"kinesisStreams", "splunk", "http", "syslog", "forward", "datadog", "otlp"} {
		if Unsupported(&v1.OutputSpec{Type: typ}) == "" {
			t.Errorf("%s reported as supported", typ)
		}
	}
}

func TestS3Prefix(t *testing.T) {
	cases := map[v1.ConfigString]string{
		"/logs/$TAG/%Y/%m/%d/%H%M%S-$UUID": "logs/",
		"/team-a/access/%Y/$UUID":          "team-a/access/",
		"/logs-$TAG":                       "logs-",
		"/$TAG/%Y":                         "",
		"/%Y/$TAG":                         "",
		"/archive.log":                     "archive.log",
		"":                                 "fluent-bit-logs/",
	}
	for in, want := range cases {
		if got := S3Prefix(in); got != want {
			t.Errorf("S3Prefix(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestOwnedName(t *testing.T) {
	cases := []struct {
		ref  v1.ObjectReference
		want string
	}{
		{v1.ObjectReference{Kind: "LogOutput", Namespace: "team-a", Name: "archive"}, "logplane-lo.team-a.archive"},
		{v1.ObjectReference{Kind: "ClusterLogOutput", Name: "archive"}, "logplane-clo.archive"},
		// Dashes cannot make two outputs collide: a namespace never contains a dot.
		{v1.ObjectReference{Kind: "LogOutput", Namespace: "a-b", Name: "c"}, "logplane-lo.a-b.c"},
		{v1.ObjectReference{Kind: "LogOutput", Namespace: "a", Name: "b-c"}, "logplane-lo.a.b-c"},
	}
	for _, c := range cases {
		if got := (Target{Output: c.ref}).OwnedName(); got != c.want {
			t.Errorf("OwnedName(%v) = %q, want %q", c.ref, got, c.want)
		}
	}
	long := Target{Output: v1.ObjectReference{Kind: "LogOutput", Namespace: strings.Repeat("n", 63), Name: strings.Repeat("x", 253)}}
	other := long
	other.Output.Name = strings.Repeat("x", 252) + "y"
	a, b := long.OwnedName(), other.OwnedName()
	if len(a) > maxOwnedNameLength || len(b) > maxOwnedNameLength || a == b {
		t.Errorf("long names must fit 255 characters and stay distinct: %d %d %v", len(a), len(b), a == b)
	}
}

// Issue 19 item 4: a tenant output on a shared Amazon OpenSearch domain under a granted
// identity gets an ISM policy only inside an indexPrefix granted to its namespace.
func TestGrantedScopeOpenSearch(t *testing.T) {
	search := func(prefix string) *v1.OutputSpec {
		return &v1.OutputSpec{Type: v1.OutputOpenSearch, OpenSearch: &v1.OpenSearchOutput{Host: "search.shared",
			AWS: &v1.AWSAuth{Region: "eu-west-1"}, SearchIndex: v1.SearchIndex{DailyIndexPrefix: prefix}}}
	}
	cases := []struct {
		name   string
		spec   *v1.OutputSpec
		v      identity.Verdict
		refuse string
	}{
		{"inside the granted indices", search("shop-web"), identity.Verdict{Use: identity.GrantedRole, Grant: "g", IndexPrefix: "shop-"}, ""},
		{"a whole-domain grant sets no policy", search("audit"), identity.Verdict{Use: identity.GrantedAgent, Grant: "g"},
			`IdentityGrant g lets the namespace write to OpenSearch host search.shared but names no indexPrefix that holds the indices audit-*`},
		{"the ask is the output's own start", search("shop"), identity.Verdict{Use: identity.GrantedRole, Grant: "g"}, `indexPrefix: "shop-"`},
		{"own keys answer for themselves", search("audit"), identity.Verdict{Use: identity.Own}, ""},
	}
	for _, c := range cases {
		got := GrantedScope(c.spec, c.v)
		if c.refuse == "" && got != "" || c.refuse != "" && !strings.Contains(got, c.refuse) {
			t.Errorf("%s: GrantedScope = %q, want %q", c.name, got, c.refuse)
		}
	}
}
