package v1alpha1

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=lout,categories=logplane
// +kubebuilder:printcolumn:name="Type",type=string,JSONPath=`.spec.type`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Pipelines",type=integer,JSONPath=`.status.pipelineCount`
// +kubebuilder:printcolumn:name="Retention",type=string,JSONPath=`.spec.retentionPolicy`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`

// LogOutput is a tenant's destination, usable only by LogPipelines of its own namespace.
// Its credentials come only from Secrets in that namespace.
type LogOutput struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec names the destination kind (type), configures it in the block of that name,
	// and sets what every destination shares: tls, workers, retentionPolicy.
	// +required
	Spec OutputSpec `json:"spec"`

	// status is what the operator observed.
	// +optional
	Status OutputStatus `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// LogOutputList is a list of LogOutputs.
type LogOutputList struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []LogOutput `json:"items"`
}

func init() {
	SchemeBuilder.Register(&LogOutput{}, &LogOutputList{})
}
