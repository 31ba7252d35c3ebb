package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// IdentityGrantSpec lets the LogOutputs of some namespaces write to AWS through the
// agent's identity: by assuming one of the listed roles, or (rarely) as the agent itself.
// A LogOutput with static keys of its own (aws.credentials) needs no grant.
//
// +kubebuilder:validation:XValidation:rule="(has(self.roles) && size(self.roles) > 0) || has(self.agentIdentity)",message="grant at least one role or agentIdentity"
type IdentityGrantSpec struct {
	// namespaceSelector selects, by label, the namespaces the grant applies to. Unlike
	// most selectors, an empty one ({}) selects none, so that a stray {} never hands
	// the agent's identity to every tenant; to select all, use matchExpressions
	// [{key: kubernetes.io/metadata.name, operator: Exists}].
	// +required
	NamespaceSelector metav1.LabelSelector `json:"namespaceSelector"`

	// roles are the IAM roles the selected namespaces' LogOutputs may name in
	// aws.roleArn without credentials of their own: the agent assumes them with its own
	// identity (IRSA, Pod Identity, the node's role).
	// +optional
	// +listType=map
	// +listMapKey=roleArn
	// +kubebuilder:validation:MaxItems=64
	Roles []RoleGrant `json:"roles,omitempty"`

	// agentIdentity, when set, lets the selected namespaces' LogOutputs without
	// credentials or roleArn write as the agent itself. The agent's identity usually
	// reaches the platform's own destinations, so this is rarely what you want; prefer
	// a role made for the tenant.
	// +optional
	AgentIdentity *AgentIdentityGrant `json:"agentIdentity,omitempty"`
}

// RoleGrant is one IAM role a grant hands out.
type RoleGrant struct {
	// roleArn is the IAM role, as LogOutputs name it in aws.roleArn.
	// +required
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:XValidation:rule="self.matches('^arn:aws[a-z-]*:iam::[0-9]{12}:role/[\\\\w+=,.@/-]+$')",message="must be an IAM role ARN such as arn:aws:iam::123456789012:role/log-writer"
	RoleArn string `json:"roleArn"`

	// destinations restricts the role to these destinations; unset or empty allows any
	// destination the role's own policy allows.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=64
	Destinations []GrantedDestination `json:"destinations,omitempty"`
}

// AgentIdentityGrant hands out the agent's own identity.
type AgentIdentityGrant struct {
	// destinations restricts the agent's identity to these destinations; unset or
	// empty allows any destination the agent can reach.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=64
	Destinations []GrantedDestination `json:"destinations,omitempty"`
}

// AWSOutputType is an output type that writes to AWS: an OutputType of its own, so that
// a grant cannot name a destination that never uses an AWS identity.
// +kubebuilder:validation:Enum=cloudwatchLogs;kinesisFirehose;kinesisStreams;s3;opensearch
type AWSOutputType string

// GrantedDestination is one AWS destination, or a family of them by name prefix: the
// log group of a cloudwatchLogs output, the delivery stream of kinesisFirehose, the
// stream of kinesisStreams, the bucket of s3, the host of opensearch. For s3, keyPrefix
// narrows it to part of the bucket; for opensearch, indexPrefix to part of the indices.
//
// +kubebuilder:validation:XValidation:rule="has(self.name) != has(self.namePrefix)",message="set exactly one of name and namePrefix"
// +kubebuilder:validation:XValidation:rule="!has(self.keyPrefix) || self.type == 's3'",message="keyPrefix applies to s3 destinations only"
// +kubebuilder:validation:XValidation:rule="!has(self.indexPrefix) || self.type == 'opensearch'",message="indexPrefix applies to opensearch destinations only"
type GrantedDestination struct {
	// type of the output.
	// +required
	Type AWSOutputType `json:"type"`

	// name is the destination's exact name.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=512
	Name string `json:"name,omitempty"`

	// namePrefix admits every destination whose name starts with it, such as /shop/
	// for the log groups /shop/web and /shop/api.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=512
	NamePrefix string `json:"namePrefix,omitempty"`

	// keyPrefix, for s3, is the part of the bucket the namespaces get: an output is
	// admitted only when the fixed start of its keyFormat (before the first $ or %,
	// without the leading /) begins with it, so /teams/shop/$TAG/... fits teams/shop/
	// and /a$TAG does not. It is also what lets logplane set retention for the
	// namespaces' outputs there: an S3 lifecycle rule covers every key under its
	// prefix, whoever wrote it, so a tenant output under a granted identity gets one
	// only inside a keyPrefix granted to it (RetentionPrefixNotGranted otherwise).
	// Without keyPrefix the whole bucket may be written, and no retention is set.
	// +optional
	// +kubebuilder:validation:MinLength=2
	// +kubebuilder:validation:MaxLength=1024
	// +kubebuilder:validation:XValidation:rule="self.endsWith('/') && !self.startsWith('/')",message="must be a folder of object keys such as teams/shop/: no leading /, ending in /"
	KeyPrefix string `json:"keyPrefix,omitempty"`

	// indexPrefix, for opensearch, is the part of the domain's indices the namespaces
	// get: an output is admitted only when every index it writes starts with it (its
	// dailyIndexPrefix followed by -, or its index), so shop- admits dailyIndexPrefix
	// shop and shop-web, and not shopping or audit. It is also what lets logplane set
	// retention for the namespaces' outputs there: an ISM policy deletes every index of
	// its pattern, whoever wrote it, so a tenant output under a granted identity gets
	// one only inside an indexPrefix granted to it (RetentionPrefixNotGranted
	// otherwise). Without indexPrefix every index may be written, and no retention is set.
	// +optional
	// +kubebuilder:validation:MinLength=2
	// +kubebuilder:validation:MaxLength=200
	// +kubebuilder:validation:XValidation:rule="self.matches('^[a-z0-9][-a-z0-9_.]*-$')",message="must be the start of index names ending in -, such as shop-: lowercase letters, digits, - _ ."
	IndexPrefix string `json:"indexPrefix,omitempty"`
}

// +kubebuilder:object:root=true
// +kubebuilder:resource:scope=Cluster,shortName=lig,categories=logplane
// +kubebuilder:printcolumn:name="First Role",type=string,JSONPath=`.spec.roles[0].roleArn`,description="The first role granted (the API server shows one value per column)"
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`

// IdentityGrant is owned by the platform team: it lets the LogOutputs of the namespaces
// it selects use AWS roles through the agent's identity, or the agent's identity itself.
// Without a grant, a LogOutput with no credentials of its own is left out
// (IdentityNotGranted): tenants never inherit the agent's or the operator's identity.
// It has no status: its effect shows on the LogOutputs it applies to.
type IdentityGrant struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec lists the namespaces and what they are granted.
	// +required
	Spec IdentityGrantSpec `json:"spec"`
}

// +kubebuilder:object:root=true

// IdentityGrantList is a list of IdentityGrants.
type IdentityGrantList struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []IdentityGrant `json:"items"`
}

func init() {
	SchemeBuilder.Register(&IdentityGrant{}, &IdentityGrantList{})
}
