package v1alpha1

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// OutputType names a kind of destination.
// +kubebuilder:validation:Enum=cloudwatchLogs;kinesisFirehose;kinesisStreams;s3;elasticsearch;opensearch;loki;splunk;http;syslog;forward;kafka;datadog;otlp;stdout
type OutputType string

const (
	// OutputCloudWatchLogs ships to Amazon CloudWatch Logs.
	OutputCloudWatchLogs OutputType = "cloudwatchLogs"
	// OutputKinesisFirehose ships to Amazon Data Firehose delivery stream.
	OutputKinesisFirehose OutputType = "kinesisFirehose"
	// OutputKinesisStreams ships to Amazon Kinesis Data Stream.
	OutputKinesisStreams OutputType = "kinesisStreams"
	// OutputS3 ships to Amazon S3 objects.
	OutputS3 OutputType = "s3"
	// OutputElasticsearch ships to Elasticsearch.
	OutputElasticsearch OutputType = "elasticsearch"
	// OutputOpenSearch ships to OpenSearch, including Amazon OpenSearch Service with SigV4.
	OutputOpenSearch OutputType = "opensearch"
	// OutputLoki ships to Grafana Loki.
	OutputLoki OutputType = "loki"
	// OutputSplunk ships to Splunk HTTP Event Collector.
	OutputSplunk OutputType = "splunk"
	// OutputHTTP ships to any HTTP endpoint.
	OutputHTTP OutputType = "http"
	// OutputSyslog ships to a syslog server.
	OutputSyslog OutputType = "syslog"
	// OutputForward ships to a Fluentd or Fluent Bit aggregator over the forward protocol.
	OutputForward OutputType = "forward"
	// OutputKafka ships to Apache Kafka.
	OutputKafka OutputType = "kafka"
	// OutputDatadog ships to Datadog Logs.
	OutputDatadog OutputType = "datadog"
	// OutputOTLP ships to an OpenTelemetry (OTLP) receiver.
	OutputOTLP OutputType = "otlp"
	// OutputStdout ships to the agent's own standard output, for debugging.
	OutputStdout OutputType = "stdout"
)

// OutputSpec is a destination: spec.type and the one block of the same name, plus the
// settings every destination shares. Shared by LogOutput and ClusterLogOutput.
//
// +kubebuilder:validation:XValidation:rule="self.type == 'cloudwatchLogs' ? has(self.cloudwatchLogs) : !has(self.cloudwatchLogs)",message="type cloudwatchLogs needs the cloudwatchLogs block, and the cloudwatchLogs block needs type cloudwatchLogs"
// +kubebuilder:validation:XValidation:rule="self.type == 'kinesisFirehose' ? has(self.kinesisFirehose) : !has(self.kinesisFirehose)",message="type kinesisFirehose needs the kinesisFirehose block, and the kinesisFirehose block needs type kinesisFirehose"
// +kubebuilder:validation:XValidation:rule="self.type == 'kinesisStreams' ? has(self.kinesisStreams) : !has(self.kinesisStreams)",message="type kinesisStreams needs the kinesisStreams block, and the kinesisStreams block needs type kinesisStreams"
// +kubebuilder:validation:XValidation:rule="self.type == 's3' ? has(self.s3) : !has(self.s3)",message="type s3 needs the s3 block, and the s3 block needs type s3"
// +kubebuilder:validation:XValidation:rule="self.type == 'elasticsearch' ? has(self.elasticsearch) : !has(self.elasticsearch)",message="type elasticsearch needs the elasticsearch block, and the elasticsearch block needs type elasticsearch"
// +kubebuilder:validation:XValidation:rule="self.type == 'opensearch' ? has(self.opensearch) : !has(self.opensearch)",message="type opensearch needs the opensearch block, and the opensearch block needs type opensearch"
// +kubebuilder:validation:XValidation:rule="self.type == 'loki' ? has(self.loki) : !has(self.loki)",message="type loki needs the loki block, and the loki block needs type loki"
// +kubebuilder:validation:XValidation:rule="self.type == 'splunk' ? has(self.splunk) : !has(self.splunk)",message="type splunk needs the splunk block, and the splunk block needs type splunk"
// +kubebuilder:validation:XValidation:rule="self.type == 'http' ? has(self.http) : !has(self.http)",message="type http needs the http block, and the http block needs type http"
// +kubebuilder:validation:XValidation:rule="self.type == 'syslog' ? has(self.syslog) : !has(self.syslog)",message="type syslog needs the syslog block, and the syslog block needs type syslog"
// +kubebuilder:validation:XValidation:rule="self.type == 'forward' ? has(self.forward) : !has(self.forward)",message="type forward needs the forward block, and the forward block needs type forward"
// +kubebuilder:validation:XValidation:rule="self.type == 'kafka' ? has(self.kafka) : !has(self.kafka)",message="type kafka needs the kafka block, and the kafka block needs type kafka"
// +kubebuilder:validation:XValidation:rule="self.type == 'datadog' ? has(self.datadog) : !has(self.datadog)",message="type datadog needs the datadog block, and the datadog block needs type datadog"
// +kubebuilder:validation:XValidation:rule="self.type == 'otlp' ? has(self.otlp) : !has(self.otlp)",message="type otlp needs the otlp block, and the otlp block needs type otlp"
// +kubebuilder:validation:XValidation:rule="self.type == 'stdout' ? has(self.stdout) : !has(self.stdout)",message="type stdout needs the stdout block, and the stdout block needs type stdout"
// +kubebuilder:validation:XValidation:rule="!(self.type == 'stdout' && has(self.tls))",message="tls does not apply to type stdout"
// +kubebuilder:validation:XValidation:rule="!(self.type == 'kafka' && has(self.tls) && has(self.tls.serverName))",message="tls.serverName is not supported for kafka"
// +kubebuilder:validation:XValidation:rule="!(has(self.cloudwatchLogs) && has(self.cloudwatchLogs.logRetentionDays) && has(self.retentionPolicy))",message="set retention either with retentionPolicy or with cloudwatchLogs.logRetentionDays, not both"
// +kubebuilder:validation:XValidation:rule="!(has(self.syslog) && self.syslog.mode == 'UDP' && has(self.tls))",message="tls cannot be used with syslog mode UDP; use mode TLS"
// +kubebuilder:validation:XValidation:rule="!(has(self.syslog) && self.syslog.mode == 'TLS' && !has(self.tls))",message="syslog mode TLS needs the tls block"
// +kubebuilder:validation:XValidation:rule="!(has(self.forward) && has(self.forward.sharedKey) && !has(self.tls))",message="forward.sharedKey (secure forward) needs the tls block"
type OutputSpec struct {
	// type of the destination; the block of the same name configures it.
	// +required
	Type OutputType `json:"type"`

	// cloudwatchLogs ships to Amazon CloudWatch Logs.
	// +optional
	CloudWatchLogs *CloudWatchLogsOutput `json:"cloudwatchLogs,omitempty"`

	// kinesisFirehose ships to Amazon Data Firehose delivery stream.
	// +optional
	KinesisFirehose *KinesisFirehoseOutput `json:"kinesisFirehose,omitempty"`

	// kinesisStreams ships to Amazon Kinesis Data Stream.
	// +optional
	KinesisStreams *KinesisStreamsOutput `json:"kinesisStreams,omitempty"`

	// s3 ships to Amazon S3 objects.
	// +optional
	S3 *S3Output `json:"s3,omitempty"`

	// elasticsearch ships to Elasticsearch.
	// +optional
	Elasticsearch *ElasticsearchOutput `json:"elasticsearch,omitempty"`

	// opensearch ships to OpenSearch, including Amazon OpenSearch Service with SigV4.
	// +optional
	OpenSearch *OpenSearchOutput `json:"opensearch,omitempty"`

	// loki ships to Grafana Loki.
	// +optional
	Loki *LokiOutput `json:"loki,omitempty"`

	// splunk ships to Splunk HTTP Event Collector.
	// +optional
	Splunk *SplunkOutput `json:"splunk,omitempty"`

	// http ships to any HTTP endpoint.
	// +optional
	HTTP *HTTPOutput `json:"http,omitempty"`

	// syslog ships to a syslog server.
	// +optional
	Syslog *SyslogOutput `json:"syslog,omitempty"`

	// forward ships to a Fluentd or Fluent Bit aggregator over the forward protocol.
	// +optional
	Forward *ForwardOutput `json:"forward,omitempty"`

	// kafka ships to Apache Kafka.
	// +optional
	Kafka *KafkaOutput `json:"kafka,omitempty"`

	// datadog ships to Datadog Logs.
	// +optional
	Datadog *DatadogOutput `json:"datadog,omitempty"`

	// otlp ships to an OpenTelemetry (OTLP) receiver.
	// +optional
	OTLP *OTLPOutput `json:"otlp,omitempty"`

	// stdout ships to the agent's own standard output, for debugging.
	// +optional
	Stdout *StdoutOutput `json:"stdout,omitempty"`

	// tls secures the connection; its presence turns TLS on.
	// +optional
	TLS *TLS `json:"tls,omitempty"`

	// workers is how many threads deliver to this destination in parallel.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=16
	Workers *int32 `json:"workers,omitempty"`

	// retentionPolicy names the RetentionPolicy (log class) of the logs sent here.
	// +optional
	RetentionPolicy ResourceName `json:"retentionPolicy,omitempty"`
}

// OutputStatus is what an output reports.
type OutputStatus struct {
	// conditions: Ready, and RetentionEnforced when a retention policy is set.
	// +optional
	// +listType=map
	// +listMapKey=type
	// +patchStrategy=merge
	// +patchMergeKey=type
	// +kubebuilder:validation:MaxItems=16
	Conditions []metav1.Condition `json:"conditions,omitempty" patchStrategy:"merge" patchMergeKey:"type"`

	// observedGeneration is the generation the status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// pipelines that send to this output.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=4096
	Pipelines []ObjectReference `json:"pipelines,omitempty"`

	// pipelineCount is the number of pipelines that send to this output.
	// +optional
	PipelineCount int32 `json:"pipelineCount,omitempty"`
}
