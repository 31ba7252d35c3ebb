package v1alpha1

// SearchIndex picks the index records are written to: a fixed index, or one per day
// under a prefix (prefix-YYYY.MM.DD). Set exactly one.
type SearchIndex struct {
	// index is a fixed index or data stream name.
	// +optional
	// +kubebuilder:validation:MaxLength=255
	// +kubebuilder:validation:XValidation:rule="self.matches('^[a-z0-9][-a-z0-9_.]*$')",message="must be an index name: lowercase letters, digits, - _ ."
	Index string `json:"index,omitempty"`

	// dailyIndexPrefix writes to one index per day, named prefix-YYYY.MM.DD.
	// +optional
	// +kubebuilder:validation:MaxLength=200
	// +kubebuilder:validation:XValidation:rule="self.matches('^[a-z0-9][-a-z0-9_.]*$')",message="must be an index name prefix: lowercase letters, digits, - _ ."
	DailyIndexPrefix string `json:"dailyIndexPrefix,omitempty"`
}

// ElasticsearchOutput ships to Elasticsearch over its bulk API.
//
// +kubebuilder:validation:XValidation:rule="has(self.index) != has(self.dailyIndexPrefix)",message="set exactly one of index and dailyIndexPrefix"
// +kubebuilder:validation:XValidation:rule="has(self.host) != has(self.cloudId)",message="set exactly one of host and cloudId"
// +kubebuilder:validation:XValidation:rule="!has(self.cloudAuth) || has(self.cloudId)",message="cloudAuth needs cloudId"
// +kubebuilder:validation:XValidation:rule="[has(self.basicAuth), has(self.apiKey), has(self.cloudAuth)].filter(x, x).size() <= 1",message="set at most one of basicAuth, apiKey and cloudAuth"
type ElasticsearchOutput struct {
	// host of the cluster; required unless cloudId is set.
	// +optional
	Host Host `json:"host,omitempty"`

	// port of the cluster.
	// +optional
	// +kubebuilder:default=9200
	Port Port `json:"port,omitempty"`

	// path prefix when Elasticsearch sits behind a proxy.
	// +optional
	// +kubebuilder:validation:XValidation:rule="self.startsWith('/')",message="must start with '/'"
	Path *ConfigString `json:"path,omitempty"`

	SearchIndex `json:",inline"`

	// pipeline is an ingest pipeline to run on the records.
	// +optional
	Pipeline *ConfigString `json:"pipeline,omitempty"`

	// basicAuth authenticates with a user and password.
	// +optional
	BasicAuth *BasicAuth `json:"basicAuth,omitempty"`

	// apiKey authenticates with an Elasticsearch API key (the base64 id:key form).
	// +optional
	APIKey *SecretKeyRef `json:"apiKey,omitempty"`

	// cloudId of an Elastic Cloud deployment, used instead of host and port: the
	// name:base64 form the Elastic Cloud console shows, whose base64 part decodes to
	// domain$elasticsearch-id$kibana-id (a port may follow the domain). An ID that
	// decodes to no Elasticsearch id, or to anything but host names, leaves the output
	// out with InvalidValue: Fluent Bit would refuse to start with it.
	// +optional
	CloudID *ConfigString `json:"cloudId,omitempty"`

	// cloudAuth is the user:password of the Elastic Cloud deployment.
	// +optional
	CloudAuth *SecretKeyRef `json:"cloudAuth,omitempty"`

	// compression of bulk requests.
	// +optional
	// +kubebuilder:default=None
	Compression Compression `json:"compression,omitempty"`
}

// OpenSearchOutput ships to OpenSearch, including Amazon OpenSearch Service and
// Serverless with SigV4 signing.
//
// +kubebuilder:validation:XValidation:rule="has(self.index) != has(self.dailyIndexPrefix)",message="set exactly one of index and dailyIndexPrefix"
// +kubebuilder:validation:XValidation:rule="!(has(self.aws) && has(self.basicAuth))",message="set at most one of aws and basicAuth"
// +kubebuilder:validation:XValidation:rule="!self.serverless || has(self.aws)",message="serverless needs the aws block"
// +kubebuilder:validation:XValidation:rule="!has(self.aws) || !has(self.aws.endpoint)",message="aws.endpoint does not apply to OpenSearch: requests go to host"
type OpenSearchOutput struct {
	// host of the cluster or AWS domain endpoint.
	// +required
	Host Host `json:"host"`

	// port of the cluster.
	// +optional
	// +kubebuilder:default=443
	Port Port `json:"port,omitempty"`

	// path prefix when OpenSearch sits behind a proxy.
	// +optional
	// +kubebuilder:validation:XValidation:rule="self.startsWith('/')",message="must start with '/'"
	Path *ConfigString `json:"path,omitempty"`

	SearchIndex `json:",inline"`

	// pipeline is an ingest pipeline to run on the records.
	// +optional
	Pipeline *ConfigString `json:"pipeline,omitempty"`

	// basicAuth authenticates with a user and password.
	// +optional
	BasicAuth *BasicAuth `json:"basicAuth,omitempty"`

	// aws signs requests with SigV4 for Amazon OpenSearch Service.
	// +optional
	AWS *AWSAuth `json:"aws,omitempty"`

	// serverless targets an Amazon OpenSearch Serverless collection (service aoss)
	// instead of a managed domain (service es).
	// +optional
	// +kubebuilder:default=false
	Serverless bool `json:"serverless,omitempty"`

	// compression of bulk requests.
	// +optional
	// +kubebuilder:default=None
	Compression Compression `json:"compression,omitempty"`
}
