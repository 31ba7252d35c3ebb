package v1alpha1

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// ClusterLogPipelineSpec is a platform pipeline over many namespaces and the nodes.
type ClusterLogPipelineSpec struct {
	// agent is the LogAgent that runs this pipeline.
	// +optional
	// +kubebuilder:default=default
	Agent AgentName `json:"agent,omitempty"`

	// input selects the logs the pipeline ships.
	// +required
	Input ClusterLogPipelineInput `json:"input"`

	// filters process records in order before they reach the outputs. At most one is
	// a throttle: each runs a thread of its own, per output, in the agent every tenant
	// of a node shares.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=32
	// +kubebuilder:validation:XValidation:rule="self.filter(f, f.type == 'throttle').size() <= 1",message="at most one throttle filter: each runs a thread of its own, per output, in the agent every tenant of a node shares"
	Filters []Filter `json:"filters,omitempty"`

	// clusterOutputRefs are names of ClusterLogOutputs.
	// +required
	// +listType=set
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=16
	ClusterOutputRefs []ResourceName `json:"clusterOutputRefs"`
}

// ClusterLogPipelineInput lists the sources of a platform pipeline; set at least one.
//
// +kubebuilder:validation:XValidation:rule="has(self.containers) || has(self.node) || has(self.events)",message="set at least one of input.containers, input.node and input.events"
type ClusterLogPipelineInput struct {
	// containers reads stdout and stderr of containers in the selected namespaces.
	// +optional
	Containers *ClusterContainerInput `json:"containers,omitempty"`

	// node reads logs of the nodes themselves: systemd units and host files.
	// +optional
	Node *NodeInput `json:"node,omitempty"`

	// events ships Kubernetes events as log records.
	// +optional
	Events *EventsInput `json:"events,omitempty"`
}

// NamespaceSelection picks namespaces. A namespace is selected when it is listed in
// include or matches selector (every namespace when both are empty), and is not listed
// in exclude. System namespaces (kube-*, the operator's own) are selected only when
// listed in include by name.
type NamespaceSelection struct {
	// selector matches namespace labels.
	// +optional
	Selector *metav1.LabelSelector `json:"selector,omitempty"`

	// include lists namespaces by name.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=256
	Include []NamespaceName `json:"include,omitempty"`

	// exclude lists namespaces never selected.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=256
	Exclude []NamespaceName `json:"exclude,omitempty"`
}

// ClusterContainerInput selects container logs across namespaces.
type ClusterContainerInput struct {
	// namespaces to read from; empty means every namespace but the system ones.
	// +optional
	Namespaces NamespaceSelection `json:"namespaces,omitempty"`

	ContainerSelection `json:",inline"`
}

// SystemdUnit is the name of a systemd unit, such as kubelet.service.
//
// +kubebuilder:validation:MinLength=1
// +kubebuilder:validation:MaxLength=256
// +kubebuilder:validation:XValidation:rule="self.matches('^[A-Za-z0-9:_.@-]+$')",message="must be a systemd unit name such as kubelet.service"
type SystemdUnit string

// HostFilePath is an absolute path of a file on the node; '*' globs are allowed.
//
// +kubebuilder:validation:MinLength=2
// +kubebuilder:validation:MaxLength=1024
// +kubebuilder:validation:XValidation:rule="self.startsWith('/') && !self.endsWith('/')",message="must be an absolute path to a file, such as /var/log/audit/*.log"
// +kubebuilder:validation:XValidation:rule="!self.split('/').exists(s, s == '..')",message="must not contain '..'"
// +kubebuilder:validation:XValidation:rule="self.matches('^[-A-Za-z0-9_./*]+$')",message="may contain only letters, digits, '-', '_', '.', '/' and '*'"
type HostFilePath string

// NodeInput reads logs written by the node rather than by containers.
//
// +kubebuilder:validation:XValidation:rule="has(self.systemdUnits) || has(self.files)",message="set at least one of systemdUnits and files"
type NodeInput struct {
	// systemdUnits are read from the node's journal.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=64
	SystemdUnits []SystemdUnit `json:"systemdUnits,omitempty"`

	// files on the node to tail.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=64
	Files []HostFilePath `json:"files,omitempty"`
}

// EventsInput ships Kubernetes events. They are collected once per cluster, not per node.
type EventsInput struct {
	// namespaces whose events to ship; empty means every namespace but the system ones.
	// +optional
	Namespaces NamespaceSelection `json:"namespaces,omitempty"`
}

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Cluster,shortName=clpl,categories=logplane
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Records/s",type=integer,JSONPath=`.status.throughput.recordsPerSecond`
// +kubebuilder:printcolumn:name="Dropped/s",type=integer,JSONPath=`.status.throughput.droppedRecordsPerSecond`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`

// ClusterLogPipeline is a platform team's pipeline: container logs of many namespaces,
// node logs and Kubernetes events, shipped to ClusterLogOutputs.
type ClusterLogPipeline struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec selects container logs of many namespaces, node logs and events (input),
	// processes them in order (filters) and names where they go (clusterOutputRefs).
	// +required
	Spec ClusterLogPipelineSpec `json:"spec"`

	// status is what the operator observed.
	// +optional
	Status ClusterLogPipelineStatus `json:"status,omitempty"`
}

// ClusterLogPipelineStatus is what a platform pipeline reports.
type ClusterLogPipelineStatus struct {
	PipelineStatus `json:",inline"`

	// namespaces is how many namespaces the container input currently selects.
	// +optional
	Namespaces int32 `json:"namespaces,omitempty"`
}

// +kubebuilder:object:root=true

// ClusterLogPipelineList is a list of ClusterLogPipelines.
type ClusterLogPipelineList struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []ClusterLogPipeline `json:"items"`
}

func init() {
	SchemeBuilder.Register(&ClusterLogPipeline{}, &ClusterLogPipelineList{})
}
