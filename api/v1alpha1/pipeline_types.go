package v1alpha1

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// ContainerName is the name of a container in a pod.
//
// +kubebuilder:validation:MinLength=1
// +kubebuilder:validation:MaxLength=63
// +kubebuilder:validation:XValidation:rule="!format.dns1123Label().validate(self).hasValue()",message="must be a container name: lowercase letters, digits and '-'"
type ContainerName string

// NamespaceName is the name of a namespace.
//
// +kubebuilder:validation:MinLength=1
// +kubebuilder:validation:MaxLength=63
// +kubebuilder:validation:XValidation:rule="!format.dns1123Label().validate(self).hasValue()",message="must be a namespace name: lowercase letters, digits and '-'"
type NamespaceName string

// ContainerSelection chooses container logs by pod labels and container names.
type ContainerSelection struct {
	// podSelector selects pods by label; empty selects every pod.
	// +optional
	PodSelector *metav1.LabelSelector `json:"podSelector,omitempty"`

	// include limits the pipeline to these container names; empty means every container.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=64
	Include []ContainerName `json:"include,omitempty"`

	// exclude leaves out these container names, for example istio-proxy.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=64
	Exclude []ContainerName `json:"exclude,omitempty"`
}

// Agent name selects the LogAgent that runs a pipeline.
//
// +kubebuilder:validation:MinLength=1
// +kubebuilder:validation:MaxLength=63
// +kubebuilder:validation:XValidation:rule="!format.dns1123Label().validate(self).hasValue()",message="must be the name of a LogAgent: lowercase letters, digits and '-'"
type AgentName string

// DefaultAgentName is the LogAgent that pipelines use unless they name another; the
// operator runs a built-in one under this name when no LogAgent of that name exists.
const DefaultAgentName = "default"

// SidecarCounts tells how many pods run a pipeline's file-tailing sidecar.
type SidecarCounts struct {
	// injected pods run the sidecar with the current configuration.
	// +optional
	Injected int32 `json:"injected,omitempty"`

	// outdated pods run the sidecar with an older configuration; restart their workloads.
	// +optional
	Outdated int32 `json:"outdated,omitempty"`

	// missing pods match the pipeline but have no sidecar (created before injection
	// was enabled, or injection failed); restart their workloads.
	// +optional
	Missing int32 `json:"missing,omitempty"`
}

// PipelineStatus is what a pipeline reports about itself.
type PipelineStatus struct {
	// conditions: ConfigGenerated, AgentHealthy, FlowHealthy and Ready summarising them.
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

	// throughput is the measured flow of records through the pipeline.
	// +optional
	Throughput *Throughput `json:"throughput,omitempty"`
}
