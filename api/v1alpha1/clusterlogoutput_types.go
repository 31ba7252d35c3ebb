package v1alpha1

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// ClusterLogOutputSpec is a platform destination and who may use it.
type ClusterLogOutputSpec struct {
	OutputSpec `json:",inline"`
	// RawParameterRules holds no field: it carries the CEL rules that check
	// rawParameters against spec.type, generated from Fluent Bit.
	RawParameterRules `json:",inline"`

	// rawParameters are keys of spec.type's Fluent Bit output plugin, passed through as
	// they are, for settings this API does not model yet. A key is accepted only when
	// Fluent Bit documents it for that plugin (fluent-bit -o <plugin> -h; lower case)
	// and it cannot select records (match, match_regex, alias), name a file, directory
	// or socket (*_file, *_path, *_dir, store_dir, upstream, unix_path, db), carry or
	// choose credentials (profile, aws_profile, role_arn, external_id, sts_endpoint,
	// aws_auth, *passwd, *password, *_key, *token*, *secret*, apikey, *user,
	// cloud_auth, oauth2.*, authorization_*), set threads (workers, threaded), override
	// what logplane sets from the retention policy (storage.*, retry_limit,
	// store_dir_limit_size), add processors, or pass settings to librdkafka (rdkafka.*);
	// nor may it be a key logplane sets from the typed fields. Values are not checked:
	// the output carries an Unsupported condition while any are set. LogOutputs have no
	// rawParameters, since a tenant's keys would reach the Fluent Bit process every
	// tenant shares; the API server drops the field from LogOutputs stored with it.
	// +optional
	// +listType=map
	// +listMapKey=key
	// +kubebuilder:validation:MaxItems=32
	RawParameters []RawParameter `json:"rawParameters,omitempty"`

	// allowedNamespaces selects, by label, the namespaces whose LogPipelines may send
	// here. Unset admits none: only ClusterLogPipelines may use the output. Unlike most
	// selectors, an empty one ({}) admits none too, so that a stray {} never opens a
	// platform destination to every tenant; to admit all, use matchExpressions
	// [{key: kubernetes.io/metadata.name, operator: Exists}].
	// +optional
	AllowedNamespaces *metav1.LabelSelector `json:"allowedNamespaces,omitempty"`
}

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Cluster,shortName=clout,categories=logplane
// +kubebuilder:printcolumn:name="Type",type=string,JSONPath=`.spec.type`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Pipelines",type=integer,JSONPath=`.status.pipelineCount`
// +kubebuilder:printcolumn:name="Retention",type=string,JSONPath=`.spec.retentionPolicy`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`

// ClusterLogOutput is a destination owned by the platform team. ClusterLogPipelines can
// use it, and LogPipelines of the namespaces that allowedNamespaces admits. Its
// credentials come from Secrets in the operator's namespace.
type ClusterLogOutput struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec names the destination kind (type), configures it in the block of that name,
	// sets what every destination shares (tls, workers, retentionPolicy) and which
	// tenant namespaces may use it (allowedNamespaces).
	// +required
	Spec ClusterLogOutputSpec `json:"spec"`

	// status is what the operator observed.
	// +optional
	Status OutputStatus `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// ClusterLogOutputList is a list of ClusterLogOutputs.
type ClusterLogOutputList struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []ClusterLogOutput `json:"items"`
}

func init() {
	SchemeBuilder.Register(&ClusterLogOutput{}, &ClusterLogOutputList{})
}
