package v1alpha1

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// LogPipelineSpec is a tenant's pipeline. It only ever sees records of its own
// namespace: there is no field that could name another.
//
// +kubebuilder:validation:XValidation:rule="has(self.outputRefs) || has(self.clusterOutputRefs)",message="a pipeline needs at least one destination in outputRefs or clusterOutputRefs"
type LogPipelineSpec struct {
	// agent is the LogAgent that runs the container input of this pipeline.
	// +optional
	// +kubebuilder:default=default
	Agent AgentName `json:"agent,omitempty"`

	// input selects the logs of this namespace that the pipeline ships.
	// +required
	Input LogPipelineInput `json:"input"`

	// filters process records in order before they reach the outputs. At most one is
	// a throttle: each runs a thread of its own, per output, in the agent every tenant
	// of a node shares.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=32
	// +kubebuilder:validation:XValidation:rule="self.filter(f, f.type == 'throttle').size() <= 1",message="at most one throttle filter: each runs a thread of its own, per output, in the agent every tenant of a node shares"
	Filters []Filter `json:"filters,omitempty"`

	// outputRefs are names of LogOutputs in this namespace.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=16
	OutputRefs []ResourceName `json:"outputRefs,omitempty"`

	// clusterOutputRefs are names of ClusterLogOutputs whose allowedNamespaces admit this namespace.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=16
	ClusterOutputRefs []ResourceName `json:"clusterOutputRefs,omitempty"`
}

// LogPipelineInput is where a tenant pipeline reads logs: container output through the
// node agent, or log files inside pods through an injected sidecar. Set exactly one.
//
// +kubebuilder:validation:XValidation:rule="has(self.containers) != has(self.files)",message="set exactly one of input.containers and input.files"
type LogPipelineInput struct {
	// containers reads stdout and stderr of this namespace's containers through the node agent.
	// +optional
	Containers *ContainerSelection `json:"containers,omitempty"`

	// files tails log files inside selected pods through an injected Fluent Bit sidecar,
	// for apps that write files and for nodes where DaemonSets cannot run.
	// +optional
	Files *FileInput `json:"files,omitempty"`
}

// LogFilePath is an absolute file path inside a container; '*' globs are allowed in the
// file name.
//
// +kubebuilder:validation:MinLength=2
// +kubebuilder:validation:MaxLength=1024
// +kubebuilder:validation:XValidation:rule="self.startsWith('/') && !self.endsWith('/')",message="must be an absolute path to a file, such as /var/log/app/*.log"
// +kubebuilder:validation:XValidation:rule="!self.split('/').exists(s, s == '..')",message="must not contain '..'"
// +kubebuilder:validation:XValidation:rule="self.matches('^[-A-Za-z0-9_./*]+$')",message="may contain only letters, digits, '-', '_', '.', '/' and '*'"
// +kubebuilder:validation:XValidation:rule="!self.substring(0, self.lastIndexOf('/')).contains('*')",message="'*' is allowed in the file name only, not in directories: the directory is shared with the sidecar"
type LogFilePath string

// FileInput tails files that containers write, through a Fluent Bit sidecar injected
// into matching pods. The directory of each path is replaced by a volume shared with the
// sidecar, so the application must create its files there at runtime.
type FileInput struct {
	// podSelector selects the pods to inject; pods must also live in a namespace labelled
	// for injection.
	// +required
	PodSelector metav1.LabelSelector `json:"podSelector"`

	// container writes the files; empty means the pod's first container.
	// +optional
	Container ContainerName `json:"container,omitempty"`

	// paths of the files to tail.
	// +required
	// +listType=set
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=16
	Paths []LogFilePath `json:"paths"`
}

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=lpl,categories=logplane
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Records/s",type=integer,JSONPath=`.status.throughput.recordsPerSecond`
// +kubebuilder:printcolumn:name="Dropped/s",type=integer,JSONPath=`.status.throughput.droppedRecordsPerSecond`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`

// LogPipeline ships one namespace's logs — container output or files inside pods —
// through filters to destinations. It is the tenant's view of logplane.
type LogPipeline struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec selects logs of this namespace (input), processes them in order (filters) and
	// names where they go (outputRefs, clusterOutputRefs).
	// +required
	Spec LogPipelineSpec `json:"spec"`

	// status is what the operator observed.
	// +optional
	Status LogPipelineStatus `json:"status,omitempty"`
}

// LogPipelineStatus is what a tenant pipeline reports.
type LogPipelineStatus struct {
	PipelineStatus `json:",inline"`

	// sidecars counts pods running this pipeline's file-tailing sidecar.
	// +optional
	Sidecars *SidecarCounts `json:"sidecars,omitempty"`
}

// +kubebuilder:object:root=true

// LogPipelineList is a list of LogPipelines.
type LogPipelineList struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []LogPipeline `json:"items"`
}

func init() {
	SchemeBuilder.Register(&LogPipeline{}, &LogPipelineList{})
}
