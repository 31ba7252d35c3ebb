package v1alpha1

import "k8s.io/apimachinery/pkg/api/resource"

// AgentBudgets bound what the pipelines of one LogAgent may claim of each agent pod.
// The defaults let the agent start where a container gets 1024 open files, soft and
// hard (the agent raises its soft limit to the hard one, 524288 under containerd 2.x):
// see docs/limits.md.
type AgentBudgets struct {
	// perNamespace bounds what the LogPipelines of one namespace may claim together.
	// ClusterLogPipelines count only against perAgent.
	// +optional
	// +kubebuilder:default={}
	PerNamespace NamespaceBudget `json:"perNamespace,omitempty"`

	// perAgent bounds what all pipelines of the agent may claim together.
	// +optional
	// +kubebuilder:default={}
	PerAgent AgentBudget `json:"perAgent,omitempty"`
}

// NamespaceBudget is what the LogPipelines of one namespace may claim of an agent pod.
type NamespaceBudget struct {
	// outputSections is how many output sections the namespace's pipelines may have
	// together: a pipeline with N outputs has N.
	// +optional
	// +kubebuilder:default=16
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=100000
	OutputSections int32 `json:"outputSections,omitempty"`

	// workers is how many output worker threads the namespace's pipelines may have
	// together: the sum of their outputs' workers (an output without workers has its
	// plugin's default, 1 or 2).
	// +optional
	// +kubebuilder:default=12
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=100000
	Workers int32 `json:"workers,omitempty"`

	// filterThreads is how many threads the namespace's filters may start: each
	// throttle filter runs a thread of its own in every output section of its pipeline.
	// +optional
	// +kubebuilder:default=32
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=100000
	FilterThreads int32 `json:"filterThreads,omitempty"`

	// filesystemBuffer is how much of the node's disk the namespace's outputs may claim
	// for buffering together: the buffer.maxSize of each output section that buffers on
	// disk (s3 always does; any output does while the agent buffers on the filesystem
	// because some pipeline asks for AtLeastOnce).
	// +optional
	// +kubebuilder:default="5Gi"
	// +kubebuilder:validation:XValidation:rule="quantity(string(self)).compareTo(quantity('1Mi')) >= 0",message="must be at least 1Mi"
	// +kubebuilder:validation:XValidation:rule="quantity(string(self)).compareTo(quantity('100Ti')) <= 0",message="must be at most 100Ti"
	FilesystemBuffer *resource.Quantity `json:"filesystemBuffer,omitempty"`

	// pipelineConfigBytes is how many bytes of configuration one pipeline may render
	// to (its output sections with their filters and selection).
	// +optional
	// +kubebuilder:default=131072
	// +kubebuilder:validation:Minimum=1024
	// +kubebuilder:validation:Maximum=16777216
	PipelineConfigBytes int32 `json:"pipelineConfigBytes,omitempty"`
}

// AgentBudget is what all pipelines of an agent may claim of each agent pod.
type AgentBudget struct {
	// outputSections is how many output sections the agent's pipelines may have together.
	// +optional
	// +kubebuilder:default=48
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=100000
	OutputSections int32 `json:"outputSections,omitempty"`

	// workers is how many output worker threads the agent may run: each costs about 10
	// open files, so this is the agent's open-file budget. Raise it only where the
	// agent container's hard RLIMIT_NOFILE is higher than 1024 (the agent raises its
	// soft limit to the hard one; containerd 2.x gives 524288).
	// +optional
	// +kubebuilder:default=32
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=100000
	Workers int32 `json:"workers,omitempty"`

	// filterThreads is how many threads all filters of the agent may start (throttle
	// filters, one per output section they apply to). Threads cost no open files but
	// count against the pod's process limit (podPidsLimit, CRI-O's pids_limit).
	// +optional
	// +kubebuilder:default=128
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=100000
	FilterThreads int32 `json:"filterThreads,omitempty"`

	// filesystemBuffer is how much of each node's disk all output sections may claim
	// for buffering together.
	// +optional
	// +kubebuilder:default="20Gi"
	// +kubebuilder:validation:XValidation:rule="quantity(string(self)).compareTo(quantity('1Mi')) >= 0",message="must be at least 1Mi"
	// +kubebuilder:validation:XValidation:rule="quantity(string(self)).compareTo(quantity('100Ti')) <= 0",message="must be at most 100Ti"
	FilesystemBuffer *resource.Quantity `json:"filesystemBuffer,omitempty"`
}

// BudgetUsage is what the pipelines in an agent's configuration claim together, to
// compare with its spec.budgets.perAgent.
type BudgetUsage struct {
	// outputSections of the configuration.
	OutputSections int32 `json:"outputSections"`

	// workers of its output sections (their plugins' defaults where unset).
	Workers int32 `json:"workers"`

	// filterThreads its filters start.
	FilterThreads int32 `json:"filterThreads"`

	// filesystemBuffer its outputs may fill on each node's disk.
	FilesystemBuffer resource.Quantity `json:"filesystemBuffer"`
}
