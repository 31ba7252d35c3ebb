package v1alpha1

import (
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Delivery is the guarantee a log class asks for between the node and the destination.
// +kubebuilder:validation:Enum=AtLeastOnce;BestEffort
type Delivery string

const (
	// DeliveryAtLeastOnce buffers on the node's filesystem, bounded by buffer.maxSize, so
	// records survive agent restarts and destination outages; duplicates are possible.
	DeliveryAtLeastOnce Delivery = "AtLeastOnce"
	// DeliveryBestEffort buffers in memory; records in flight are lost when the agent restarts.
	DeliveryBestEffort Delivery = "BestEffort"
)

// RetentionPolicySpec is a log class: how long its logs are kept and how hard the
// pipeline tries to deliver them.
type RetentionPolicySpec struct {
	// retention is how long the destination keeps the logs, in days (90d) or years of
	// 365 days (1y). Where the destination offers only fixed values (CloudWatch Logs) the
	// next longer one is used and reported. It is applied to CloudWatch Logs groups, S3
	// key prefixes, OpenSearch (ISM) and Elasticsearch (ILM) daily indices; other
	// destinations report Unsupported. A destination with no retention of its own keeps
	// logs forever, so giving it this one deletes what is older: that is shortening, and
	// needs allowShortening (a log group logplane creates holds nothing and does not).
	// +required
	// +kubebuilder:validation:MaxLength=8
	// +kubebuilder:validation:XValidation:rule="self.matches('^[1-9][0-9]{0,4}d$|^[1-9][0-9]?y$')",message="must be a whole number of days or years, such as 30d, 90d or 1y"
	Retention string `json:"retention"`

	// allowShortening lets the operator lower an existing, longer retention at the
	// destination, including the first limit on one that keeps logs forever (an S3 key
	// prefix without logplane's rule, a log group or indices without retention).
	// Shortening deletes data, so it is never done without this: the output's state is
	// ShorteningBlocked, with the current and the requested values. It never lets a
	// rule cut short data that someone else's S3 lifecycle rule, ISM policy or index
	// template keeps longer (Conflict).
	// +optional
	// +kubebuilder:default=false
	AllowShortening bool `json:"allowShortening,omitempty"`

	// delivery guarantee for logs of this class.
	// +optional
	// +kubebuilder:default=BestEffort
	Delivery Delivery `json:"delivery,omitempty"`

	// buffer bounds what an agent holds per output while the destination is slow or down.
	// +optional
	// +kubebuilder:default={}
	Buffer RetentionBuffer `json:"buffer,omitempty"`

	// retry bounds how long delivery of a record is retried.
	// +optional
	// +kubebuilder:default={}
	Retry RetentionRetry `json:"retry,omitempty"`
}

// RetentionBuffer bounds on-node buffering.
type RetentionBuffer struct {
	// maxSize per output on each node; with AtLeastOnce the oldest chunks are dropped
	// (and counted) only when this fills.
	// +optional
	// +kubebuilder:default="1Gi"
	// +kubebuilder:validation:XValidation:rule="quantity(string(self)).compareTo(quantity('1Mi')) >= 0",message="must be at least 1Mi"
	// +kubebuilder:validation:XValidation:rule="quantity(string(self)).compareTo(quantity('100Gi')) <= 0",message="must be at most 100Gi"
	MaxSize *resource.Quantity `json:"maxSize,omitempty"`
}

// RetentionRetry bounds retries.
type RetentionRetry struct {
	// maxDuration of retries for one chunk of records before it is dropped (and counted),
	// up to 8760h (365 days); 0s retries without a time limit, bounded only by
	// buffer.maxSize.
	// +optional
	// +kubebuilder:default="1h"
	// +kubebuilder:validation:XValidation:rule="size(self) <= 20 && self.matches('^([0-9]{1,6}(\\\\.[0-9]{1,9})?(ms|s|m|h))+$') && duration(self) <= duration('8760h')",message="must be a duration from 0s (no limit) to 8760h, such as 30s, 10m or 1h30m"
	MaxDuration *metav1.Duration `json:"maxDuration,omitempty"`
}

// RetentionState is how far a retention policy is applied at one destination.
// +kubebuilder:validation:Enum=Enforced;Pending;Failed;Unsupported;ShorteningBlocked;Conflict
type RetentionState string

const (
	RetentionEnforced          RetentionState = "Enforced"
	RetentionPending           RetentionState = "Pending"
	RetentionFailed            RetentionState = "Failed"
	RetentionUnsupported       RetentionState = "Unsupported"
	RetentionShorteningBlocked RetentionState = "ShorteningBlocked"
	// RetentionConflict: the setting would cut short data that another setting at the
	// destination keeps longer (an overlapping S3 lifecycle rule, ISM policy or index
	// template); nothing is written.
	RetentionConflict RetentionState = "Conflict"
)

// OutputRetention is the enforcement state of a policy at one output's destination.
type OutputRetention struct {
	// output that references the policy.
	// +required
	Output ObjectReference `json:"output"`

	// state of enforcement.
	// +required
	State RetentionState `json:"state"`

	// effectiveRetention is what the destination now keeps, after rounding.
	// +optional
	// +kubebuilder:validation:MaxLength=32
	EffectiveRetention string `json:"effectiveRetention,omitempty"`

	// message explains the state in words.
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	Message string `json:"message,omitempty"`

	// lastApplied is when the destination last confirmed the setting.
	// +optional
	LastApplied *metav1.Time `json:"lastApplied,omitempty"`
}

// RetentionPolicyStatus is what the operator observed.
type RetentionPolicyStatus struct {
	// conditions: Ready when every supported output enforces the policy.
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

	// outputs lists every output that references the policy and its enforcement state.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=1024
	Outputs []OutputRetention `json:"outputs,omitempty"`
}

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Cluster,shortName=lrp,categories=logplane
// +kubebuilder:printcolumn:name="Retention",type=string,JSONPath=`.spec.retention`
// +kubebuilder:printcolumn:name="Delivery",type=string,JSONPath=`.spec.delivery`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`

// RetentionPolicy is a log class — access, error, trace, audit — that outputs reference:
// it sets retention at the destination and the delivery guarantee on the way there.
// Deleting a policy never deletes data; destination settings stay as they are.
type RetentionPolicy struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec sets how long the destination keeps logs of this class (retention) and how
	// hard the agent tries to get them there (delivery, buffer, retry).
	// +required
	Spec RetentionPolicySpec `json:"spec"`

	// status is what the operator observed.
	// +optional
	Status RetentionPolicyStatus `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// RetentionPolicyList is a list of RetentionPolicies.
type RetentionPolicyList struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []RetentionPolicy `json:"items"`
}

func init() {
	SchemeBuilder.Register(&RetentionPolicy{}, &RetentionPolicyList{})
}
