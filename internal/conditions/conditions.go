// Package conditions is the one catalogue of condition types and reasons that logplane
// writes on its resources, with the message each reason shows a user. Reasons are
// CamelCase constants; messages are written for the person reading `kubectl describe`.
package conditions

import (
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Condition types.
const (
	// TypeReady summarises the others: True only when everything the resource needs works.
	TypeReady = "Ready"
	// TypeConfigGenerated says whether the resource made it into the agent configuration.
	TypeConfigGenerated = "ConfigGenerated"
	// TypeAgentHealthy says whether the agent pods that run the resource are healthy.
	TypeAgentHealthy = "AgentHealthy"
	// TypeFlowHealthy says whether records flow without loss, from the agents' metrics.
	TypeFlowHealthy = "FlowHealthy"
	// TypeSidecarsCurrent says whether every pod a file-input pipeline selects runs
	// its sidecar with the current configuration.
	TypeSidecarsCurrent = "SidecarsCurrent"
	// TypeRetentionEnforced says whether an output's retention policy holds at the destination.
	TypeRetentionEnforced = "RetentionEnforced"
)

// Reasons. Each has a message in messages below; a test keeps the two in step.
const (
	// ReasonConfigGenerated: the resource is part of the rendered configuration.
	ReasonConfigGenerated = "ConfigGenerated"
	// ReasonOutputNotFound: a referenced LogOutput or ClusterLogOutput does not exist.
	ReasonOutputNotFound = "OutputNotFound"
	// ReasonOutputNotAllowed: a ClusterLogOutput's allowedNamespaces does not admit the pipeline's namespace.
	ReasonOutputNotAllowed = "OutputNotAllowed"
	// ReasonIdentityNotGranted: a LogOutput without AWS credentials of its own would
	// write as the agent (or have retention set as the operator), and no IdentityGrant
	// hands its namespace the role, or the agent's identity, for its destination.
	ReasonIdentityNotGranted = "IdentityNotGranted"
	// ReasonOutputInvalid: a referenced output cannot render itself.
	ReasonOutputInvalid = "OutputInvalid"
	// ReasonSecretNotFound: a referenced Secret, or a key in it, does not exist.
	ReasonSecretNotFound = "SecretNotFound"
	// ReasonSecretInvalid: a referenced Secret key's value does not fit its use, such as
	// an AWS key that is not shaped like one.
	ReasonSecretInvalid = "SecretInvalid"
	// ReasonCrossNamespaceReference: a reference points outside the namespace it may use.
	ReasonCrossNamespaceReference = "CrossNamespaceReference"
	// ReasonRetentionPolicyNotFound: the referenced RetentionPolicy does not exist.
	ReasonRetentionPolicyNotFound = "RetentionPolicyNotFound"
	// ReasonAgentNotFound: the pipeline names a LogAgent that does not exist.
	ReasonAgentNotFound = "AgentNotFound"
	// ReasonUnsafeValue: a value would change the configuration's structure (injection).
	ReasonUnsafeValue = "UnsafeValue"
	// ReasonInvalidValue: a value Fluent Bit would refuse at start (a regex it cannot
	// compile, a label key its record accessors cannot hold) or that could stall every
	// tenant's records (a regex with catastrophic backtracking).
	ReasonInvalidValue = "InvalidValue"
	// ReasonNoNamespacesSelected: a namespace selector matches no namespace (yet).
	ReasonNoNamespacesSelected = "NoNamespacesSelected"
	// ReasonUnsupported: raw plugin parameters are set; logplane cannot vouch for them.
	ReasonUnsupported = "Unsupported"
	// ReasonRawParameterRefused: a ClusterLogOutput's rawParameters set a key that is
	// not documented for its plugin, or that could reach beyond the output.
	ReasonRawParameterRefused = "RawParameterRefused"
	// ReasonConfigTooLarge: the resource renders to more configuration than the agent's
	// files (Secrets) have room for; it is left out, the others render.
	ReasonConfigTooLarge = "ConfigTooLarge"
	// ReasonOverBudget: the pipeline would claim more of the agent (output sections,
	// worker threads, disk, configuration bytes) than a LogAgent budget allows.
	ReasonOverBudget = "OverBudget"
	// ReasonRenderFailed: rendering the resource failed (a bug in logplane); it is
	// left out so that the others render.
	ReasonRenderFailed = "RenderFailed"
	// ReasonRejectedByAgent: Fluent Bit refused to start the configuration with this
	// version of the resource (a canary run found it); the agents keep the last
	// configuration Fluent Bit accepted.
	ReasonRejectedByAgent = "RejectedByAgent"
	// ReasonCanaryPending: the configuration with this version of the resource is not
	// proven yet (a canary run of Fluent Bit is on its way); the agents keep the last
	// proven configuration meanwhile.
	ReasonCanaryPending = "CanaryPending"

	// ReasonAgentReady: every agent pod runs the current configuration and is ready.
	ReasonAgentReady = "AgentReady"
	// ReasonAgentNotReady: some agent pods are not ready; the message says why.
	ReasonAgentNotReady = "AgentNotReady"
	// ReasonRolledBack: agent pods failed on nodes with a configuration that had passed
	// the canary (a node-local cause); the agent was rolled back to the last
	// configuration that ran healthy on it and does not retry the failed one until
	// something it renders changes.
	ReasonRolledBack = "RolledBack"
	// ReasonReloadRefused: in HotReload mode, Fluent Bit on some nodes refused the new
	// configuration; their reloaders restored the previous one, which keeps running.
	ReasonReloadRefused = "ReloadRefused"

	// ReasonFlowHealthy: records are delivered and none are dropped.
	ReasonFlowHealthy = "FlowHealthy"
	// ReasonAllDataDropped: every record sent in the window was dropped.
	ReasonAllDataDropped = "AllDataDropped"
	// ReasonSomeDataDropped: some records in the window were dropped.
	ReasonSomeDataDropped = "SomeDataDropped"
	// ReasonNoLogsDelivered: records come in but none reach the destination.
	ReasonNoLogsDelivered = "NoLogsDelivered"
	// ReasonBufferFillingUp: the filesystem buffer grows; the destination is slower than the input.
	ReasonBufferFillingUp = "BufferFillingUp"
	// ReasonNoRecords: nothing was offered to the pipeline's outputs, and nothing dropped.
	ReasonNoRecords = "NoRecords"
	// ReasonProbingFailed: the agents' or sidecars' metrics could not be read.
	ReasonProbingFailed = "ProbingFailed"
	// ReasonNoSidecarsRunning: no running pod has the sidecar of a file-input
	// pipeline, so there is no flow to measure.
	ReasonNoSidecarsRunning = "NoSidecarsRunning"

	// ReasonSidecarsCurrent: every selected pod runs the current sidecar configuration.
	ReasonSidecarsCurrent = "SidecarsCurrent"
	// ReasonSidecarsOutdated: some selected pods run an older configuration, or none.
	ReasonSidecarsOutdated = "SidecarsOutdated"
	// ReasonSidecarNotConfigured: the sidecar configuration could not be generated.
	ReasonSidecarNotConfigured = "SidecarNotConfigured"
	// ReasonSidecarNotInjected: the webhook left a selected pod without this pipeline (event).
	ReasonSidecarNotInjected = "SidecarNotInjected"

	// ReasonReady: every condition is healthy.
	ReasonReady = "Ready"

	// ReasonRetentionEnforced: the destination keeps logs as the output's policy asks.
	ReasonRetentionEnforced = "RetentionEnforced"
	// ReasonShorteningBlocked: the destination keeps logs longer than the policy asks,
	// and lowering it (which deletes data) is not allowed by the policy.
	ReasonShorteningBlocked = "ShorteningBlocked"
	// ReasonRetentionConflict: a setting of someone else (or of another output) keeps
	// data logplane's would reach longer, so logplane's would delete it early and is
	// not written: an S3 lifecycle rule under an overlapping key prefix (S3 applies the
	// shortest expiration), or an ISM policy, index template or index policy whose
	// index patterns or indices overlap the output's (an index has one policy, and
	// logplane's would take them over).
	ReasonRetentionConflict = "RetentionConflict"
	// ReasonRetentionPrefixNotGranted: a LogOutput writes to S3 (or Amazon OpenSearch)
	// under an identity granted to its namespace, but no grant names a keyPrefix
	// holding the output's key prefix (an indexPrefix holding its indices): a lifecycle
	// rule (ISM policy) there could delete what others keep, so none is set.
	ReasonRetentionPrefixNotGranted = "RetentionPrefixNotGranted"
	// ReasonRetentionFailed: the destination refused or could not be reached; retried with backoff.
	ReasonRetentionFailed = "RetentionFailed"
	// ReasonRetentionUnsupported: the destination has no retention setting logplane can manage.
	ReasonRetentionUnsupported = "RetentionUnsupported"
	// ReasonRetentionPending: retention is not applied yet, waiting for something the output needs.
	ReasonRetentionPending = "RetentionPending"
	// ReasonInvalidRetention: the policy's retention cannot be read (input that skipped validation).
	ReasonInvalidRetention = "InvalidRetention"
	// ReasonAllOutputsEnforced: every output of a policy that can enforce it does.
	ReasonAllOutputsEnforced = "AllOutputsEnforced"
	// ReasonNoOutputs: no output references the policy.
	ReasonNoOutputs = "NoOutputs"
	// ReasonOutputsNotEnforced: some outputs of a policy do not enforce it; the message lists them.
	ReasonOutputsNotEnforced = "OutputsNotEnforced"
)

// messages are format strings; arguments fill in the specifics (names, counts).
var messages = map[string]string{
	ReasonConfigGenerated:  "The configuration includes this resource.",
	ReasonOutputNotFound:   "Output %s does not exist; the pipeline is left out of the configuration until it does.",
	ReasonOutputNotAllowed: "ClusterLogOutput %s does not admit namespace %s (see its spec.allowedNamespaces).",
	ReasonIdentityNotGranted: "No IdentityGrant lets namespace %[1]s use %[2]s: a LogOutput without aws.credentials of its own " +
		"writes only with what the platform grants its namespace. Ask the platform team for an IdentityGrant that selects " +
		"namespace %[1]s with %[3]s, or set aws.credentials from a Secret of your own.",
	ReasonOutputInvalid:             "Output %s cannot be used: %s",
	ReasonSecretNotFound:            "Secret %s has no key %q, or does not exist.",
	ReasonSecretInvalid:             "Secret %s key %q %s.",
	ReasonCrossNamespaceReference:   "%s refers outside namespace %s, which is not allowed.",
	ReasonRetentionPolicyNotFound:   "RetentionPolicy %s does not exist.",
	ReasonAgentNotFound:             "LogAgent %s does not exist.",
	ReasonUnsafeValue:               "Field %s holds a value that would alter the Fluent Bit configuration: %s",
	ReasonInvalidValue:              "Field %s: %s",
	ReasonNoNamespacesSelected:      "The %s selection matches no namespace; the pipeline ships nothing from it until one matches.",
	ReasonUnsupported:               "rawParameters are passed to Fluent Bit unchecked; logplane cannot vouch for this output.",
	ReasonRawParameterRefused:       "rawParameters key %s %s; the output is left out of the configuration until the key is removed.",
	ReasonConfigTooLarge:            "%s is left out of the configuration: %s. Use fewer or shorter filters, rules or outputs.",
	ReasonOverBudget:                "The pipeline is left out of agent %s's configuration: %s, over the budget of %s (LogAgent %s, spec.budgets.%s). Pipelines created earlier keep their share; claim less, or ask the platform team to raise the budget.",
	ReasonRenderFailed:              "logplane could not render this resource, so it is left out while the others render: %s. This is a bug in logplane; please report it with the resource's spec.",
	ReasonRejectedByAgent:           "Fluent Bit of agent %s refused to start with this version of the resource: %s. %s",
	ReasonCanaryPending:             "Agent %s is proving a configuration with this version of the resource by starting Fluent Bit in a canary pod; the nodes keep the last proven configuration meanwhile.",
	ReasonAgentReady:                "%d of %d agent pods are ready with the current configuration.",
	ReasonAgentNotReady:             "%d of %d agent pods are ready: %s",
	ReasonReloadRefused:             "%d of %d agent pods are ready. %s. The nodes named keep running the previous configuration; the refused one is not tried again until it changes.",
	ReasonRolledBack:                "Agent pods failed on node %s with configuration %s: %s. The agent was rolled back to the last configuration that ran healthy on it (%s) and does not retry the failed one until a resource it renders changes.%s",
	ReasonFlowHealthy:               "Records are delivered and none were dropped in the last measurement window (status.throughput).",
	ReasonAllDataDropped:            "Every record in the last measurement window was dropped; status.throughput.outputs shows where.",
	ReasonSomeDataDropped:           "%s of records in the last measurement window were dropped; status.throughput.outputs shows where.",
	ReasonNoLogsDelivered:           "Records come in but none were delivered in the last measurement window; the destination fails or does not answer, and records are retried.",
	ReasonNoRecords:                 "No records reached the pipeline's outputs in the last measurement window; nothing was dropped.",
	ReasonBufferFillingUp:           "The buffer for %s grew to %s; the destination does not keep up.",
	ReasonProbingFailed:             "Fluent Bit metrics could not be read: %s",
	ReasonNoSidecarsRunning:         "No running pod has this pipeline's sidecar, so there is no flow to measure; pods the pipeline selects get the sidecar when they are created (status.sidecars counts them).",
	ReasonSidecarsCurrent:           "%d selected pods run the sidecar with the current configuration.",
	ReasonSidecarsOutdated:          "Of %d selected pods, %d run an older sidecar configuration and %d have no sidecar; restart their workloads (kubectl rollout restart) to apply the current one.",
	ReasonSidecarNotConfigured:      "The sidecar configuration could not be generated (see ConfigGenerated); new pods are not injected.",
	ReasonSidecarNotInjected:        "Pod %s was admitted without this pipeline's sidecar: %s.",
	ReasonReady:                     "Ready.",
	ReasonRetentionEnforced:         "The destination keeps logs %s; RetentionPolicy %s asks for %s.",
	ReasonShorteningBlocked:         "The destination keeps logs %s; RetentionPolicy %s asks for %s. Shortening deletes data, so it is applied only when the policy sets allowShortening: true.",
	ReasonRetentionConflict:         "RetentionPolicy %s is not applied, so that no one else's data is deleted early: %s.",
	ReasonRetentionPrefixNotGranted: "RetentionPolicy %s is not applied: %s.",
	ReasonRetentionFailed:           "Setting retention %s of RetentionPolicy %s at the destination failed (retrying): %s",
	ReasonRetentionUnsupported:      "RetentionPolicy %s cannot be enforced here: %s",
	ReasonRetentionPending:          "RetentionPolicy %s is not applied yet: %s",
	ReasonInvalidRetention:          "spec.retention cannot be read: %s",
	ReasonAllOutputsEnforced:        "Every output that can enforce the policy does (%d enforced, %d unsupported).",
	ReasonNoOutputs:                 "No output references this policy.",
	ReasonOutputsNotEnforced:        "%d of %d outputs do not enforce the policy: %s",
}

// Message renders the user-facing message of reason with its arguments. An unknown
// reason is a programming error and says so rather than panicking in a reconciler.
func Message(reason string, args ...any) string {
	format, ok := messages[reason]
	if !ok {
		return fmt.Sprintf("unknown reason %q", reason)
	}
	return fmt.Sprintf(format, args...)
}

// New builds a condition of type t for an object at generation, with the catalogue's
// message for reason. LastTransitionTime is left for meta.SetStatusCondition to manage.
func New(t string, status metav1.ConditionStatus, reason string, generation int64, args ...any) metav1.Condition {
	return metav1.Condition{
		Type:               t,
		Status:             status,
		Reason:             reason,
		Message:            Message(reason, args...),
		ObservedGeneration: generation,
	}
}
