package v1alpha1

// ConfigString is any user-supplied text that ends up in the generated Fluent Bit
// configuration. Fluent Bit reads newlines as new entries, "@" at the start of a line as
// a directive (@INCLUDE, @SET), "[" as a section header, and expands "${NAME}" from the
// agent's environment — which holds every tenant's credentials. These rules make such
// values impossible to express instead of relying on escaping alone.
//
// +kubebuilder:validation:MaxLength=1024
// +kubebuilder:validation:XValidation:rule="!self.contains('\\n') && !self.contains('\\r')",message="must be a single line: newline and carriage return characters are not allowed"
// +kubebuilder:validation:XValidation:rule="!self.startsWith('@') && !self.startsWith('[')",message="must not start with '@' or '[': Fluent Bit would read it as a directive or a section header"
// +kubebuilder:validation:XValidation:rule="!self.contains('${')",message="must not contain '${': Fluent Bit would expand it from the agent's environment, which holds other pipelines' credentials"
type ConfigString string

// ResourceName is the name of another Kubernetes object.
//
// +kubebuilder:validation:MinLength=1
// +kubebuilder:validation:MaxLength=253
// +kubebuilder:validation:XValidation:rule="!format.dns1123Subdomain().validate(self).hasValue()",message="must be a valid object name: lowercase letters, digits, '-' and '.', starting and ending with a letter or digit"
type ResourceName string

// Host is a DNS name or an IP address of a destination.
//
// +kubebuilder:validation:MinLength=1
// +kubebuilder:validation:MaxLength=253
// +kubebuilder:validation:XValidation:rule="isIP(self) || self.matches('^[A-Za-z0-9]([-A-Za-z0-9.]*[A-Za-z0-9])?$')",message="must be a DNS name or an IP address (no scheme, port or path)"
type Host string

// Port is a TCP or UDP port number.
//
// +kubebuilder:validation:Minimum=1
// +kubebuilder:validation:Maximum=65535
type Port int32

// SecretKeyRef selects one key of a Secret. For namespaced resources the Secret lives in
// the resource's own namespace; for cluster-scoped ones in the operator's namespace.
// There is deliberately no namespace field: a reference can never reach across tenants.
type SecretKeyRef struct {
	// name of the Secret.
	// +required
	Name ResourceName `json:"name"`

	// key within the Secret's data.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[-._a-zA-Z0-9]+$`
	Key string `json:"key"`
}

// KeyValue is a named value.
type KeyValue struct {
	// key names the field or setting.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=256
	// +kubebuilder:validation:Pattern=`^[A-Za-z0-9_][-A-Za-z0-9_.]*$`
	Key string `json:"key"`

	// value to set; Fluent Bit refuses an empty one.
	// +required
	// +kubebuilder:validation:MinLength=1
	Value ConfigString `json:"value"`
}

// TLS configures transport security towards a destination. Its presence turns TLS on.
//
// +kubebuilder:validation:XValidation:rule="has(self.cert) == has(self.key)",message="cert and key must be given together for client authentication"
type TLS struct {
	// insecureSkipVerify turns off verification of the server certificate. Only for testing.
	// +optional
	InsecureSkipVerify bool `json:"insecureSkipVerify,omitempty"`

	// serverName overrides the name used for SNI and certificate verification.
	// +optional
	ServerName *Host `json:"serverName,omitempty"`

	// ca is a PEM bundle of certificate authorities to trust instead of the system roots.
	// +optional
	CA *SecretKeyRef `json:"ca,omitempty"`

	// cert is the PEM client certificate for mutual TLS; requires key.
	// +optional
	Cert *SecretKeyRef `json:"cert,omitempty"`

	// key is the PEM private key of the client certificate; requires cert.
	// +optional
	Key *SecretKeyRef `json:"key,omitempty"`
}

// BasicAuth is HTTP basic authentication.
type BasicAuth struct {
	// user name.
	// +required
	User ConfigString `json:"user"`

	// password, read from a Secret.
	// +required
	Password SecretKeyRef `json:"password"`
}

// AWSAuth selects the AWS region and identity used by AWS destinations. Without static
// credentials the agent uses the default credential chain (IRSA, EKS Pod Identity,
// instance profile), directly or to assume roleArn; a LogOutput may do so only when an
// IdentityGrant hands its namespace that role (or the agent's identity) for its
// destination, and is left out otherwise (IdentityNotGranted).
type AWSAuth struct {
	// region of the destination, such as eu-west-1.
	// +required
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:XValidation:rule="self.matches('^[a-z]{2}(-[a-z]+)+-[0-9]+$')",message="must be an AWS region such as us-east-1 or eu-central-1"
	Region string `json:"region"`

	// roleArn is an IAM role to assume before writing: with credentials when set, else
	// with the agent's identity, which a LogOutput needs an IdentityGrant for.
	// +optional
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:XValidation:rule="self.matches('^arn:aws[a-z-]*:iam::[0-9]{12}:role/[\\\\w+=,.@/-]+$')",message="must be an IAM role ARN such as arn:aws:iam::123456789012:role/log-writer"
	RoleArn string `json:"roleArn,omitempty"`

	// externalId is passed when assuming roleArn; requires roleArn.
	// +optional
	// +kubebuilder:validation:MinLength=2
	// +kubebuilder:validation:MaxLength=1224
	// +kubebuilder:validation:Pattern=`^[\w+=,.@:/-]+$`
	ExternalID string `json:"externalId,omitempty"`

	// stsEndpoint overrides the STS endpoint used to assume roleArn, as https://host:
	// Fluent Bit always reaches STS with TLS on port 443.
	// +optional
	// +kubebuilder:validation:XValidation:rule="url(self).getScheme() == 'https' && size(url(self).getPort()) == 0 && size(url(self).getEscapedPath()) <= 1",message="must be https://host without a port or path: Fluent Bit always reaches STS with TLS on port 443"
	StsEndpoint *EndpointURL `json:"stsEndpoint,omitempty"`

	// endpoint overrides the service endpoint (VPC endpoints, FIPS, LocalStack), as an https URL.
	// +optional
	Endpoint *EndpointURL `json:"endpoint,omitempty"`

	// credentials are static access keys. Prefer roles (IRSA, Pod Identity) over keys.
	// +optional
	Credentials *AWSCredentials `json:"credentials,omitempty"`
}

// AWSCredentials are static AWS access keys read from Secrets.
type AWSCredentials struct {
	// accessKeyId of the IAM user.
	// +required
	AccessKeyID SecretKeyRef `json:"accessKeyId"`

	// secretAccessKey of the IAM user.
	// +required
	SecretAccessKey SecretKeyRef `json:"secretAccessKey"`
}

// EndpointURL is an absolute http(s) URL.
//
// +kubebuilder:validation:MaxLength=2048
// +kubebuilder:validation:XValidation:rule="isURL(self) && url(self).getScheme() in ['http', 'https'] && size(url(self).getHostname()) > 0",message="must be an absolute http or https URL"
// +kubebuilder:validation:XValidation:rule="!self.contains('${') && !self.contains('\\n') && !self.contains('\\r')",message="must not contain '${' or line breaks"
type EndpointURL string

// Header is an HTTP header sent with every request, with a literal value or one read
// from a Secret.
//
// +kubebuilder:validation:XValidation:rule="has(self.value) != has(self.valueFrom)",message="set exactly one of value and valueFrom"
type Header struct {
	// name of the header.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=128
	// +kubebuilder:validation:Pattern=`^[A-Za-z0-9!#$%&'*+.^_|~-]+$`
	Name string `json:"name"`

	// value of the header.
	// +optional
	Value *ConfigString `json:"value,omitempty"`

	// valueFrom reads the value from a Secret, for tokens and API keys.
	// +optional
	ValueFrom *SecretKeyRef `json:"valueFrom,omitempty"`
}

// Compression of the payload sent to a destination.
// +kubebuilder:validation:Enum=None;Gzip
type Compression string

const (
	// CompressionNone sends payloads as they are.
	CompressionNone Compression = "None"
	// CompressionGzip compresses payloads with gzip.
	CompressionGzip Compression = "Gzip"
)

// ObjectReference names a logplane object that refers to, or is referred to by, another.
type ObjectReference struct {
	// kind of the object, such as LogPipeline.
	// +required
	// +kubebuilder:validation:MaxLength=64
	Kind string `json:"kind"`

	// namespace of the object; empty for cluster-scoped kinds.
	// +optional
	// +kubebuilder:validation:MaxLength=63
	Namespace string `json:"namespace,omitempty"`

	// name of the object.
	// +required
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`
}
