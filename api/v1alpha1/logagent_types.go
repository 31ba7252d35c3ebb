package v1alpha1

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// ConfigReload is how a running agent picks up a new configuration.
// +kubebuilder:validation:Enum=Restart;HotReload
type ConfigReload string

const (
	// ConfigReloadRestart rolls the DaemonSet within maxUnavailable. Tail positions and
	// the filesystem buffer live on the node, so nothing is lost or read twice.
	ConfigReloadRestart ConfigReload = "Restart"
	// ConfigReloadHotReload asks Fluent Bit to reload in place, falling back to a restart
	// when the reload fails or hangs. Every Fluent Bit counter restarts from zero.
	ConfigReloadHotReload ConfigReload = "HotReload"
)

// AgentLogLevel is the verbosity of Fluent Bit's own log.
// +kubebuilder:validation:Enum=error;warn;info;debug
type AgentLogLevel string

// LogAgentSpec describes one Fluent Bit DaemonSet.
type LogAgentSpec struct {
	// image of Fluent Bit; empty means the release this operator was built and tested with.
	// The image must hold Fluent Bit at /fluent-bit/bin/fluent-bit, as the upstream image
	// does: the agent starts it from there through fbexec, which the pod's init container
	// copies from the operator image.
	// +optional
	// +kubebuilder:validation:MaxLength=512
	// +kubebuilder:validation:XValidation:rule="self.matches('^[a-z0-9]+([._/:@-][a-zA-Z0-9_.-]+)*$')",message="must be an image reference such as cr.fluentbit.io/fluent/fluent-bit:5.1.1"
	Image string `json:"image,omitempty"`

	// imagePullPolicy of the agent container.
	// +optional
	// +kubebuilder:default=IfNotPresent
	// +kubebuilder:validation:Enum=Always;IfNotPresent;Never
	ImagePullPolicy corev1.PullPolicy `json:"imagePullPolicy,omitempty"`

	// imagePullSecrets in the operator namespace for pulling image.
	// +optional
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=8
	ImagePullSecrets []corev1.LocalObjectReference `json:"imagePullSecrets,omitempty"`

	// resources of the agent container; empty means requests of 100m CPU and 128Mi
	// memory and a 512Mi memory limit.
	// +optional
	Resources *corev1.ResourceRequirements `json:"resources,omitempty"`

	// tolerations let the agent run on tainted nodes; by default it tolerates every taint
	// so that every node's logs are collected.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=32
	Tolerations []corev1.Toleration `json:"tolerations,omitempty"`

	// nodeSelector limits the agent to matching nodes.
	// +optional
	// +kubebuilder:validation:MaxProperties=32
	NodeSelector map[string]string `json:"nodeSelector,omitempty"`

	// priorityClassName of the agent pods; a node-critical class keeps log collection
	// from being evicted first.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	PriorityClassName string `json:"priorityClassName,omitempty"`

	// hostPath is the directory on each node for tail positions and the filesystem
	// buffer, so that a restarted agent neither loses nor re-reads logs.
	// +optional
	// +kubebuilder:default="/var/lib/logplane"
	// +kubebuilder:validation:MaxLength=512
	// +kubebuilder:validation:XValidation:rule="self.matches('^(/[-A-Za-z0-9_.]+)+$') && !self.split('/').exists(s, s == '..')",message="must be an absolute directory path such as /var/lib/logplane"
	HostPath string `json:"hostPath,omitempty"`

	// metricsPort is where Fluent Bit serves its metrics and health endpoints.
	// +optional
	// +kubebuilder:default=2020
	// +kubebuilder:validation:Minimum=1024
	// +kubebuilder:validation:Maximum=65535
	MetricsPort int32 `json:"metricsPort,omitempty"`

	// configReload is how new configuration reaches running agents.
	// +optional
	// +kubebuilder:default=Restart
	ConfigReload ConfigReload `json:"configReload,omitempty"`

	// maxUnavailable bounds how many agent pods restart at once during a rollout.
	// +optional
	// +kubebuilder:default="10%"
	// +kubebuilder:validation:XIntOrString
	// +kubebuilder:validation:XValidation:rule="type(self) == int ? self >= 1 : self.matches('^[1-9][0-9]?%$|^100%$')",message="must be a positive number of pods or a percentage from 1% to 100%"
	MaxUnavailable *intstr.IntOrString `json:"maxUnavailable,omitempty"`

	// logLevel of Fluent Bit's own log.
	// +optional
	// +kubebuilder:default=warn
	LogLevel AgentLogLevel `json:"logLevel,omitempty"`

	// budgets bound what pipelines may claim of each agent pod: output sections, worker
	// threads (each costs open files), filesystem buffer on the node's disk and
	// configuration size. A pipeline over a budget is left out with OverBudget on its
	// status; pipelines are admitted oldest first, so a newcomer never pushes out one
	// that already runs.
	// +optional
	// +kubebuilder:default={}
	Budgets AgentBudgets `json:"budgets,omitempty"`
}

// LogAgentStatus is what the operator observed of an agent.
type LogAgentStatus struct {
	// conditions: ConfigGenerated, AgentHealthy and Ready.
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

	// desiredNodes is how many nodes should run the agent.
	// +optional
	DesiredNodes int32 `json:"desiredNodes,omitempty"`

	// readyNodes is how many run a ready agent with the current configuration.
	// +optional
	ReadyNodes int32 `json:"readyNodes,omitempty"`

	// pipelines is how many pipelines the agent's configuration carries.
	// +optional
	Pipelines int32 `json:"pipelines,omitempty"`

	// configHash identifies the configuration the agents should run.
	// +optional
	// +kubebuilder:validation:MaxLength=128
	ConfigHash string `json:"configHash,omitempty"`

	// budgetUsage is what the pipelines in that configuration claim of
	// spec.budgets.perAgent; pipelines over a budget are not in it (OverBudget).
	// +optional
	BudgetUsage *BudgetUsage `json:"budgetUsage,omitempty"`
}

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Cluster,shortName=lag,categories=logplane
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Nodes",type=integer,JSONPath=`.status.readyNodes`
// +kubebuilder:printcolumn:name="Desired",type=integer,JSONPath=`.status.desiredNodes`
// +kubebuilder:printcolumn:name="Pipelines",type=integer,JSONPath=`.status.pipelines`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`

// LogAgent is a Fluent Bit DaemonSet that collects container and node logs for the
// pipelines that select it. Without any LogAgent the operator runs one named "default".
type LogAgent struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec sets how the Fluent Bit DaemonSet runs: image, resources, placement, the
	// node directory for positions and buffers, and how configuration changes roll out.
	// +optional
	// +kubebuilder:default={}
	Spec LogAgentSpec `json:"spec,omitempty"`

	// status is what the operator observed.
	// +optional
	Status LogAgentStatus `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// LogAgentList is a list of LogAgents.
type LogAgentList struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []LogAgent `json:"items"`
}

func init() {
	SchemeBuilder.Register(&LogAgent{}, &LogAgentList{})
}
