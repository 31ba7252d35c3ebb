package render

import (
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/logplane/logplane/api/v1alpha1"
	"github.com/logplane/logplane/internal/fluentbit"
)

// staticKeys is an aws block that uses access keys from a Secret.
func staticKeys(region string) v1.AWSAuth {
	return v1.AWSAuth{Region: region, Credentials: &v1.AWSCredentials{
		AccessKeyID:     v1.SecretKeyRef{Name: "aws", Key: "access-key-id"},
		SecretAccessKey: v1.SecretKeyRef{Name: "aws", Key: "secret-access-key"},
	}}
}

// assumedRole is an aws block that assumes a role through custom endpoints.
func assumedRole(region, endpoint string) v1.AWSAuth {
	return v1.AWSAuth{Region: region, RoleArn: "arn:aws:iam::123456789012:role/log-writer",
		ExternalID: "team-a-logs", StsEndpoint: ptr(v1.EndpointURL("https://sts.eu-west-1.amazonaws.com")),
		Endpoint: ptr(v1.EndpointURL(endpoint))}
}

func TestAWSDestinations(t *testing.T) {
	size := resource.MustParse("100M")
	runDestinationGoldens(t, []destinationCase{
		{name: "cloudwatch-logs-minimal", spec: v1.OutputSpec{Type: v1.OutputCloudWatchLogs, CloudWatchLogs: &v1.CloudWatchLogsOutput{
			AWS: v1.AWSAuth{Region: "eu-west-1"}, LogGroupName: "/k8s/team-a", LogStreamPrefix: ptr(v1.ConfigString("web-"))}}},
		{name: "cloudwatch-logs-full", spec: v1.OutputSpec{Type: v1.OutputCloudWatchLogs, CloudWatchLogs: &v1.CloudWatchLogsOutput{
			AWS: staticKeys("eu-west-1"), LogGroupName: "/k8s/team-a",
			LogGroupTemplate: ptr(v1.ConfigString("/k8s/$kubernetes['namespace_name']")),
			LogStreamName:    ptr(v1.ConfigString("web")), LogKey: ptr(v1.TopLevelField("log")),
			AutoCreateGroup: true, LogRetentionDays: ptr(int32(30)),
		}, TLS: &v1.TLS{CA: &v1.SecretKeyRef{Name: "tls", Key: "ca.crt"}}, Workers: ptr(int32(2))}},
		{name: "kinesis-firehose-minimal", spec: v1.OutputSpec{Type: v1.OutputKinesisFirehose, KinesisFirehose: &v1.KinesisFirehoseOutput{
			AWS: v1.AWSAuth{Region: "us-east-1"}, DeliveryStream: "team-a-logs", Compression: v1.CompressionNone}}},
		{name: "kinesis-firehose-full", spec: v1.OutputSpec{Type: v1.OutputKinesisFirehose, KinesisFirehose: &v1.KinesisFirehoseOutput{
			AWS: assumedRole("us-east-1", "https://firehose-fips.us-east-1.amazonaws.com"), DeliveryStream: "team-a-logs",
			LogKey: ptr(v1.TopLevelField("log")), Compression: v1.CompressionGzip}}},
		{name: "kinesis-firehose-time-key", spec: v1.OutputSpec{Type: v1.OutputKinesisFirehose, KinesisFirehose: &v1.KinesisFirehoseOutput{
			AWS: staticKeys("us-east-1"), DeliveryStream: "team-a-logs", TimeKey: ptr(v1.TopLevelField("time"))}}},
		{name: "kinesis-streams-minimal", spec: v1.OutputSpec{Type: v1.OutputKinesisStreams, KinesisStreams: &v1.KinesisStreamsOutput{
			AWS: v1.AWSAuth{Region: "eu-central-1"}, Stream: "team-a"}}},
		{name: "kinesis-streams-full", spec: v1.OutputSpec{Type: v1.OutputKinesisStreams, KinesisStreams: &v1.KinesisStreamsOutput{
			AWS: staticKeys("eu-central-1"), Stream: "team-a", TimeKey: ptr(v1.TopLevelField("time"))}}},
		{name: "kinesis-streams-log-key", spec: v1.OutputSpec{Type: v1.OutputKinesisStreams, KinesisStreams: &v1.KinesisStreamsOutput{
			AWS: assumedRole("eu-central-1", "https://kinesis.eu-central-1.amazonaws.com"), Stream: "team-a",
			LogKey: ptr(v1.TopLevelField("message"))}}},
		{name: "s3-minimal", spec: v1.OutputSpec{Type: v1.OutputS3, S3: &v1.S3Output{
			AWS: v1.AWSAuth{Region: "eu-west-1"}, Bucket: "team-a-logs", Compression: "None"}}},
		{name: "s3-full", spec: v1.OutputSpec{Type: v1.OutputS3, S3: &v1.S3Output{
			AWS: assumedRole("eu-west-1", "https://minio.storage.svc:9000"), Bucket: "team-a-logs",
			KeyFormat: "/logs/$TAG/%Y/%m/%d/%H%M%S-$UUID", TotalFileSize: &size,
			UploadTimeout: &metav1.Duration{Duration: 10 * time.Minute}, Compression: "Zstd", StorageClass: "STANDARD_IA",
		}, TLS: &v1.TLS{CA: &v1.SecretKeyRef{Name: "minio-ca", Key: "ca.crt"}}}},
		{name: "s3-static-keys", spec: v1.OutputSpec{Type: v1.OutputS3, S3: &v1.S3Output{
			AWS: staticKeys("us-west-2"), Bucket: "team-a-archive", TotalFileSize: ptr(resource.MustParse("1Gi")),
			UploadTimeout: &metav1.Duration{Duration: 90*time.Second + 500*time.Millisecond}, Compression: "Gzip",
			StorageClass: "GLACIER_IR"}}, policy: atLeastOnce("10Gi", 0)},
	})
}

// TestAWSDestinationErrors covers settings Fluent Bit cannot express or would refuse at
// startup; they must fail the output, not the whole configuration.
func TestAWSDestinationErrors(t *testing.T) {
	region := v1.AWSAuth{Region: "eu-west-1"}
	cases := []struct {
		name string
		spec v1.OutputSpec
		want string
	}{
		{"kinesis-time-and-log-key", v1.OutputSpec{Type: v1.OutputKinesisFirehose, KinesisFirehose: &v1.KinesisFirehoseOutput{
			AWS: region, DeliveryStream: "s", TimeKey: ptr(v1.TopLevelField("time")), LogKey: ptr(v1.TopLevelField("log"))}},
			"timeKey cannot be combined with logKey"},
		{"nested-log-key", v1.OutputSpec{Type: v1.OutputKinesisStreams, KinesisStreams: &v1.KinesisStreamsOutput{
			AWS: region, Stream: "s", LogKey: ptr(v1.TopLevelField("$kubernetes['pod_name']"))}},
			"top-level field"},
		{"cloudwatch-no-stream", v1.OutputSpec{Type: v1.OutputCloudWatchLogs, CloudWatchLogs: &v1.CloudWatchLogsOutput{
			AWS: region, LogGroupName: "g"}}, "exactly one of logStreamName and logStreamPrefix"},
		{"s3-key-format", v1.OutputSpec{Type: v1.OutputS3, S3: &v1.S3Output{AWS: region, Bucket: "b", KeyFormat: "logs/$TAG"}},
			"must start with '/'"},
		{"s3-file-size", v1.OutputSpec{Type: v1.OutputS3, S3: &v1.S3Output{AWS: region, Bucket: "b",
			TotalFileSize: ptr(resource.MustParse("1Mi")), Compression: "Gzip"}}, ""},
		{"s3-file-size-small", v1.OutputSpec{Type: v1.OutputS3, S3: &v1.S3Output{AWS: region, Bucket: "b",
			TotalFileSize: ptr(resource.MustParse("999k"))}}, "between 1M and 50G"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			env := &outputEnv{secretNamespace: "team-a", creds: newCredentials(), outputID: "id"}
			var s fluentbit.Section
			err := destinations[c.spec.Type].render(&s, &c.spec, env)
			switch {
			case c.want == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
				t.Fatalf("error %v, want one containing %q", err, c.want)
			}
		})
	}
}
