package v1alpha1

import (
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// CloudWatchLogsOutput ships to Amazon CloudWatch Logs.
//
// +kubebuilder:validation:XValidation:rule="has(self.logStreamName) != has(self.logStreamPrefix)",message="set exactly one of logStreamName and logStreamPrefix"
// +kubebuilder:validation:XValidation:rule="!has(self.aws.endpoint) || (url(self.aws.endpoint).getScheme() == 'https' && size(url(self.aws.endpoint).getPort()) == 0)",message="aws.endpoint must be https://host without a port: Fluent Bit's cloudwatch_logs output always uses TLS on port 443"
type CloudWatchLogsOutput struct {
	// aws selects the region and identity.
	// +required
	AWS AWSAuth `json:"aws"`

	// logGroupName is the log group records are written to.
	// +required
	// +kubebuilder:validation:MaxLength=512
	// +kubebuilder:validation:XValidation:rule="self.matches('^[.\\\\-_/#A-Za-z0-9]+$')",message="must be a CloudWatch log group name: letters, digits and . - _ / #"
	LogGroupName string `json:"logGroupName"`

	// logGroupTemplate builds the group name from record fields, such as
	// $kubernetes['namespace_name']; logGroupName is used when a field is missing.
	// Retention cannot be enforced on templated groups.
	// +optional
	LogGroupTemplate *ConfigString `json:"logGroupTemplate,omitempty"`

	// logStreamName is a fixed stream name.
	// +optional
	// +kubebuilder:validation:MaxLength=512
	// +kubebuilder:validation:XValidation:rule="!self.contains(':') && !self.contains('*')",message="must not contain ':' or '*'"
	LogStreamName *ConfigString `json:"logStreamName,omitempty"`

	// logStreamPrefix is prepended to the record tag to form one stream per source.
	// +optional
	// +kubebuilder:validation:MaxLength=256
	// +kubebuilder:validation:XValidation:rule="!self.contains(':') && !self.contains('*')",message="must not contain ':' or '*'"
	LogStreamPrefix *ConfigString `json:"logStreamPrefix,omitempty"`

	// logKey sends only this field's value as the message instead of the whole record.
	// +optional
	LogKey *TopLevelField `json:"logKey,omitempty"`

	// autoCreateGroup creates the log group when it does not exist.
	// +optional
	// +kubebuilder:default=false
	AutoCreateGroup bool `json:"autoCreateGroup,omitempty"`

	// logRetentionDays is applied by Fluent Bit when it creates the group. Prefer a
	// retentionPolicy on the output, which the operator enforces on existing groups too.
	// +optional
	// +kubebuilder:validation:Enum=1;3;5;7;14;30;60;90;120;150;180;365;400;545;731;1096;1827;2192;2557;2922;3288;3653
	LogRetentionDays *int32 `json:"logRetentionDays,omitempty"`
}

// KinesisFirehoseOutput ships to an Amazon Data Firehose delivery stream.
//
// +kubebuilder:validation:XValidation:rule="!(has(self.timeKey) && has(self.logKey))",message="set at most one of timeKey and logKey: logKey sends only that field, so there is no record to add the time to"
// +kubebuilder:validation:XValidation:rule="!has(self.aws.endpoint) || (url(self.aws.endpoint).getScheme() == 'https' && size(url(self.aws.endpoint).getPort()) == 0)",message="aws.endpoint must be https://host without a port: Fluent Bit's kinesis_firehose output always uses TLS on port 443"
type KinesisFirehoseOutput struct {
	// aws selects the region and identity.
	// +required
	AWS AWSAuth `json:"aws"`

	// deliveryStream is the name of the Firehose stream.
	// +required
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:XValidation:rule="self.matches('^[a-zA-Z0-9_.-]+$')",message="must be a delivery stream name: letters, digits, _ . -"
	DeliveryStream string `json:"deliveryStream"`

	// timeKey adds the record time under this field.
	// +optional
	TimeKey *TopLevelField `json:"timeKey,omitempty"`

	// logKey sends only this field's value instead of the whole record.
	// +optional
	LogKey *TopLevelField `json:"logKey,omitempty"`

	// compression of records sent to the stream.
	// +optional
	// +kubebuilder:default=None
	Compression Compression `json:"compression,omitempty"`
}

// KinesisStreamsOutput ships to an Amazon Kinesis Data Stream. Fluent Bit spreads
// records over shards with random partition keys.
//
// +kubebuilder:validation:XValidation:rule="!(has(self.timeKey) && has(self.logKey))",message="set at most one of timeKey and logKey: logKey sends only that field, so there is no record to add the time to"
// +kubebuilder:validation:XValidation:rule="!has(self.aws.endpoint) || (url(self.aws.endpoint).getScheme() == 'https' && size(url(self.aws.endpoint).getPort()) == 0)",message="aws.endpoint must be https://host without a port: Fluent Bit's kinesis_streams output always uses TLS on port 443"
type KinesisStreamsOutput struct {
	// aws selects the region and identity.
	// +required
	AWS AWSAuth `json:"aws"`

	// stream is the name of the Kinesis data stream.
	// +required
	// +kubebuilder:validation:MaxLength=128
	// +kubebuilder:validation:XValidation:rule="self.matches('^[a-zA-Z0-9_.-]+$')",message="must be a stream name: letters, digits, _ . -"
	Stream string `json:"stream"`

	// timeKey adds the record time under this field.
	// +optional
	TimeKey *TopLevelField `json:"timeKey,omitempty"`

	// logKey sends only this field's value instead of the whole record.
	// +optional
	LogKey *TopLevelField `json:"logKey,omitempty"`
}

// S3Compression of uploaded objects.
// +kubebuilder:validation:Enum=None;Gzip;Zstd
type S3Compression string

// S3StorageClass of uploaded objects.
// +kubebuilder:validation:Enum=STANDARD;STANDARD_IA;ONEZONE_IA;INTELLIGENT_TIERING;GLACIER_IR;GLACIER;DEEP_ARCHIVE
type S3StorageClass string

// S3Output writes records into objects in an Amazon S3 bucket.
type S3Output struct {
	// aws selects the region and identity.
	// +required
	AWS AWSAuth `json:"aws"`

	// bucket name.
	// +required
	// +kubebuilder:validation:MinLength=3
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:XValidation:rule="self.matches('^[a-z0-9][a-z0-9.-]*[a-z0-9]$') && !self.contains('..')",message="must be an S3 bucket name: lowercase letters, digits, '.' and '-'"
	Bucket string `json:"bucket"`

	// keyFormat is the object key; $TAG, $UUID, $INDEX and strftime (%Y/%m/%d) are
	// expanded. Retention applies to the literal prefix before the first $ or %.
	// +optional
	// +kubebuilder:default="/logs/$TAG/%Y/%m/%d/%H%M%S-$UUID"
	// +kubebuilder:validation:XValidation:rule="self.startsWith('/')",message="must start with '/'"
	KeyFormat ConfigString `json:"keyFormat,omitempty"`

	// totalFileSize is the size an object grows to before upload, from 1M to 50G.
	// +optional
	// +kubebuilder:default="100M"
	// +kubebuilder:validation:XValidation:rule="quantity(string(self)).compareTo(quantity('1M')) >= 0 && quantity(string(self)).compareTo(quantity('50G')) <= 0",message="must be between 1M and 50G"
	TotalFileSize *resource.Quantity `json:"totalFileSize,omitempty"`

	// uploadTimeout uploads an object after this long even when it is smaller than
	// totalFileSize, from 1s to 168h (7 days): records wait on the node's disk until
	// then. Fluent Bit counts it in whole seconds.
	// +optional
	// +kubebuilder:default="10m"
	// +kubebuilder:validation:XValidation:rule="size(self) <= 20 && self.matches('^([0-9]{1,6}(\\\\.[0-9]{1,9})?(ms|s|m|h))+$') && duration(self) >= duration('1s') && duration(self) <= duration('168h')",message="must be a duration from 1s to 168h, such as 30s, 10m or 1h30m"
	UploadTimeout *metav1.Duration `json:"uploadTimeout,omitempty"`

	// compression of uploaded objects.
	// +optional
	// +kubebuilder:default=Gzip
	Compression S3Compression `json:"compression,omitempty"`

	// storageClass of uploaded objects.
	// +optional
	StorageClass S3StorageClass `json:"storageClass,omitempty"`
}
