package v1alpha1

// URIPath is the path part of a URL.
//
// +kubebuilder:validation:MaxLength=1024
// +kubebuilder:validation:XValidation:rule="self.startsWith('/')",message="must start with '/'"
// +kubebuilder:validation:XValidation:rule="self.matches('^[-A-Za-z0-9._~!$&\\'()*+,;=:@/%?]*$') && !self.contains('${')",message="must be a URL path: no spaces, line breaks or '${'"
type URIPath string

// HTTPFormat is the body format sent to an HTTP endpoint.
// +kubebuilder:validation:Enum=JSON;JSONLines;MsgPack;GELF
type HTTPFormat string

// HTTPOutput ships to any HTTP endpoint.
type HTTPOutput struct {
	// host of the endpoint.
	// +required
	Host Host `json:"host"`

	// port of the endpoint.
	// +optional
	// +kubebuilder:default=443
	Port Port `json:"port,omitempty"`

	// path of the endpoint.
	// +optional
	// +kubebuilder:default="/"
	Path URIPath `json:"path,omitempty"`

	// method of the requests.
	// +optional
	// +kubebuilder:default=POST
	// +kubebuilder:validation:Enum=POST;PUT
	Method string `json:"method,omitempty"`

	// format of the request body.
	// +optional
	// +kubebuilder:default=JSONLines
	Format HTTPFormat `json:"format,omitempty"`

	// headers sent with every request.
	// +optional
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=32
	Headers []Header `json:"headers,omitempty"`

	// basicAuth authenticates with a user and password.
	// +optional
	BasicAuth *BasicAuth `json:"basicAuth,omitempty"`

	// compression of request bodies.
	// +optional
	// +kubebuilder:default=None
	Compression Compression `json:"compression,omitempty"`
}

// LokiLineFormat is how a record becomes a Loki log line.
// +kubebuilder:validation:Enum=JSON;KeyValue
type LokiLineFormat string

// LokiOutput ships to Grafana Loki.
//
// +kubebuilder:validation:XValidation:rule="!(has(self.basicAuth) && has(self.bearerToken))",message="set at most one of basicAuth and bearerToken"
type LokiOutput struct {
	// host of Loki or its gateway.
	// +required
	Host Host `json:"host"`

	// port of Loki.
	// +optional
	// +kubebuilder:default=3100
	Port Port `json:"port,omitempty"`

	// tenantId is sent as X-Scope-OrgID for multi-tenant Loki.
	// +optional
	TenantID *ConfigString `json:"tenantId,omitempty"`

	// labels are fixed stream labels.
	// +optional
	// +listType=map
	// +listMapKey=key
	// +kubebuilder:validation:MaxItems=16
	// +kubebuilder:validation:XValidation:rule="self.all(l, l.key.matches('^[A-Za-z_][A-Za-z0-9_]*$'))",message="Loki label names are letters, digits and '_', not starting with a digit"
	// +kubebuilder:validation:XValidation:rule="self.all(l, !l.value.contains(',') && !l.value.startsWith('$'))",message="Loki label values must not contain ',' or start with '$'"
	Labels []KeyValue `json:"labels,omitempty"`

	// labelKeys are record fields turned into stream labels. Keep them few and of low
	// cardinality: every distinct value makes a new stream.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=16
	LabelKeys []FieldPath `json:"labelKeys,omitempty"`

	// removeKeys are record fields removed from the line, such as those made labels.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=32
	RemoveKeys []FieldPath `json:"removeKeys,omitempty"`

	// lineFormat is how the rest of the record is written as the log line.
	// +optional
	// +kubebuilder:default=JSON
	LineFormat LokiLineFormat `json:"lineFormat,omitempty"`

	// basicAuth authenticates with a user and password.
	// +optional
	BasicAuth *BasicAuth `json:"basicAuth,omitempty"`

	// bearerToken authenticates with a token.
	// +optional
	BearerToken *SecretKeyRef `json:"bearerToken,omitempty"`
}

// SplunkOutput ships to a Splunk HTTP Event Collector.
type SplunkOutput struct {
	// host of the HTTP Event Collector.
	// +required
	Host Host `json:"host"`

	// port of the HTTP Event Collector.
	// +optional
	// +kubebuilder:default=8088
	Port Port `json:"port,omitempty"`

	// token of the HTTP Event Collector.
	// +required
	Token SecretKeyRef `json:"token"`

	// index to write to; the token's default index when empty.
	// +optional
	Index *ConfigString `json:"index,omitempty"`

	// source of the events.
	// +optional
	Source *ConfigString `json:"source,omitempty"`

	// sourceType of the events.
	// +optional
	SourceType *ConfigString `json:"sourceType,omitempty"`

	// eventKey sends only this field's value as the event instead of the whole record.
	// +optional
	EventKey *FieldPath `json:"eventKey,omitempty"`

	// compression of request bodies.
	// +optional
	// +kubebuilder:default=None
	Compression Compression `json:"compression,omitempty"`
}

// DatadogOutput ships to Datadog Logs.
type DatadogOutput struct {
	// site is the Datadog site's log intake host.
	// +optional
	// +kubebuilder:default="http-intake.logs.datadoghq.com"
	Host Host `json:"host,omitempty"`

	// apiKey of the Datadog organisation.
	// +required
	APIKey SecretKeyRef `json:"apiKey"`

	// service name attached to the logs.
	// +optional
	Service *ConfigString `json:"service,omitempty"`

	// source (integration name) attached to the logs.
	// +optional
	Source *ConfigString `json:"source,omitempty"`

	// tags attached to the logs, as key:value.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=32
	// +kubebuilder:validation:items:XValidation:rule="!self.contains(',')",message="a tag must not contain ',': Datadog tags are sent as one comma-separated list"
	Tags []ConfigString `json:"tags,omitempty"`

	// messageKey is the record field holding the message.
	// +optional
	MessageKey *TopLevelField `json:"messageKey,omitempty"`

	// compression of request bodies.
	// +optional
	// +kubebuilder:default=Gzip
	Compression Compression `json:"compression,omitempty"`
}

// OTLPProtocol is the OTLP transport.
// +kubebuilder:validation:Enum=HTTP;GRPC
type OTLPProtocol string

// OTLPOutput ships to an OpenTelemetry (OTLP) receiver, such as an OpenTelemetry Collector.
type OTLPOutput struct {
	// host of the receiver.
	// +required
	Host Host `json:"host"`

	// port of the receiver; empty means the OTLP standard port of the protocol: 4318
	// for HTTP, 4317 for GRPC.
	// +optional
	Port Port `json:"port,omitempty"`

	// protocol of the receiver.
	// +optional
	// +kubebuilder:default=HTTP
	Protocol OTLPProtocol `json:"protocol,omitempty"`

	// logsPath is the path of the logs endpoint for protocol HTTP.
	// +optional
	// +kubebuilder:default="/v1/logs"
	LogsPath URIPath `json:"logsPath,omitempty"`

	// headers sent with every request.
	// +optional
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=32
	Headers []Header `json:"headers,omitempty"`

	// compression of request bodies.
	// +optional
	// +kubebuilder:default=None
	Compression Compression `json:"compression,omitempty"`
}

// StdoutFormat is how records are printed.
// +kubebuilder:validation:Enum=JSONLines;MsgPack
type StdoutFormat string

// StdoutOutput prints records on the agent's standard output, for debugging.
type StdoutOutput struct {
	// format of printed records.
	// +optional
	// +kubebuilder:default=JSONLines
	Format StdoutFormat `json:"format,omitempty"`
}
