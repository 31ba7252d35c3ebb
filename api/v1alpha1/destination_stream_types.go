package v1alpha1

// SyslogMode is the transport to a syslog server.
// +kubebuilder:validation:Enum=UDP;TCP;TLS
type SyslogMode string

// SyslogFormat is the syslog message format.
// +kubebuilder:validation:Enum=RFC3164;RFC5424
type SyslogFormat string

// SyslogOutput ships to a syslog server.
type SyslogOutput struct {
	// host of the syslog server.
	// +required
	Host Host `json:"host"`

	// port of the syslog server.
	// +optional
	// +kubebuilder:default=514
	Port Port `json:"port,omitempty"`

	// mode is the transport; TLS needs the output's tls block.
	// +optional
	// +kubebuilder:default=TCP
	Mode SyslogMode `json:"mode,omitempty"`

	// format of the messages.
	// +optional
	// +kubebuilder:default=RFC5424
	Format SyslogFormat `json:"format,omitempty"`

	// messageKey is the record field sent as the message.
	// +optional
	// +kubebuilder:default=log
	MessageKey TopLevelField `json:"messageKey,omitempty"`

	// severityKey is the record field holding the severity.
	// +optional
	SeverityKey *TopLevelField `json:"severityKey,omitempty"`

	// hostnameKey is the record field holding the host name.
	// +optional
	HostnameKey *TopLevelField `json:"hostnameKey,omitempty"`

	// appNameKey is the record field holding the application name.
	// +optional
	AppNameKey *TopLevelField `json:"appNameKey,omitempty"`
}

// ForwardOutput ships to a Fluentd or Fluent Bit aggregator over the forward protocol.
type ForwardOutput struct {
	// host of the aggregator.
	// +required
	Host Host `json:"host"`

	// port of the aggregator.
	// +optional
	// +kubebuilder:default=24224
	Port Port `json:"port,omitempty"`

	// sharedKey turns on the secure-forward handshake; needs tls.
	// +optional
	SharedKey *SecretKeyRef `json:"sharedKey,omitempty"`

	// selfHostname is the name this agent presents in the secure-forward handshake.
	// +optional
	SelfHostname *Host `json:"selfHostname,omitempty"`

	// requireAck waits for the aggregator to acknowledge each chunk, so that delivery
	// figures mean the aggregator has the records.
	// +optional
	// +kubebuilder:default=true
	RequireAck bool `json:"requireAck,omitempty"`

	// compression of forwarded chunks.
	// +optional
	// +kubebuilder:default=None
	Compression Compression `json:"compression,omitempty"`
}

// KafkaBroker is a host:port address of a Kafka broker.
//
// +kubebuilder:validation:MaxLength=260
// +kubebuilder:validation:XValidation:rule="self.matches('^[A-Za-z0-9]([-A-Za-z0-9.]*[A-Za-z0-9])?:[0-9]{1,5}$') || self.matches('^\\\\[[0-9a-fA-F:.]+\\\\]:[0-9]{1,5}$')",message="must be host:port, such as kafka-0.kafka:9092"
type KafkaBroker string

// KafkaFormat is how records are serialised into Kafka messages.
// +kubebuilder:validation:Enum=JSON;MsgPack;GELF
type KafkaFormat string

// SASLMechanism is the SASL authentication mechanism of a Kafka cluster.
// +kubebuilder:validation:Enum=PLAIN;SCRAM-SHA-256;SCRAM-SHA-512
type SASLMechanism string

// KafkaSASL authenticates to Kafka with SASL.
type KafkaSASL struct {
	// mechanism of SASL authentication.
	// +required
	Mechanism SASLMechanism `json:"mechanism"`

	// username to authenticate as; Fluent Bit refuses an empty one.
	// +required
	// +kubebuilder:validation:MinLength=1
	Username ConfigString `json:"username"`

	// password, read from a Secret.
	// +required
	Password SecretKeyRef `json:"password"`
}

// KafkaOutput ships to Apache Kafka.
type KafkaOutput struct {
	// brokers to bootstrap from.
	// +required
	// +listType=set
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=32
	Brokers []KafkaBroker `json:"brokers"`

	// topic records are written to.
	// +required
	// +kubebuilder:validation:MaxLength=249
	// +kubebuilder:validation:XValidation:rule="self.matches('^[a-zA-Z0-9._-]+$')",message="must be a topic name: letters, digits, . _ -"
	Topic string `json:"topic"`

	// messageKey is the record field used as the message key.
	// +optional
	MessageKey *TopLevelField `json:"messageKey,omitempty"`

	// format of the messages.
	// +optional
	// +kubebuilder:default=JSON
	Format KafkaFormat `json:"format,omitempty"`

	// sasl authentication; use with the output's tls block for SASL_SSL.
	// +optional
	SASL *KafkaSASL `json:"sasl,omitempty"`
}
