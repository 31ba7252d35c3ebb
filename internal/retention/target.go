package retention

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"

	v1 "github.com/logplane/logplane/api/v1alpha1"
)

// Target is an output whose destination a policy applies to.
type Target struct {
	// Output names the LogOutput or ClusterLogOutput.
	Output v1.ObjectReference
	// Spec is the output's spec.
	Spec *v1.OutputSpec
}

// maxOwnedNameLength fits S3 rule IDs and Elasticsearch/OpenSearch policy and template
// names (255 each).
const maxOwnedNameLength = 255

// OwnedName is the stable name of what logplane owns at the destination for this output:
// the S3 lifecycle rule ID, the ISM/ILM policy and the index template. It is derived
// from the output alone, so renaming nothing never orphans anything, and the "."
// separator is unambiguous because namespaces cannot contain dots.
func (t Target) OwnedName() string {
	var name string
	if t.Output.Namespace == "" {
		name = "logplane-clo." + t.Output.Name
	} else {
		name = "logplane-lo." + t.Output.Namespace + "." + t.Output.Name
	}
	if len(name) <= maxOwnedNameLength {
		return name
	}
	sum := sha256.Sum256([]byte(name))
	return name[:maxOwnedNameLength-17] + "-" + hex.EncodeToString(sum[:8])
}

// Unsupported says, in words, why the output's destination cannot enforce retention;
// "" when it can. The reasons are things only the user can change.
func Unsupported(spec *v1.OutputSpec) string {
	switch spec.Type {
	case v1.OutputCloudWatchLogs:
		if spec.CloudWatchLogs == nil {
			return "the output has no cloudwatchLogs block"
		}
		if spec.CloudWatchLogs.LogGroupTemplate != nil {
			return "logGroupTemplate picks log groups from record fields, so the groups are not known in advance; set retention on them outside logplane or use a fixed logGroupName"
		}
		return ""
	case v1.OutputS3:
		if spec.S3 == nil {
			return "the output has no s3 block"
		}
		if S3Prefix(spec.S3.KeyFormat) == "" {
			return "keyFormat has no fixed prefix before its first $ or %, and a lifecycle rule for the whole bucket would expire objects logplane does not write; start keyFormat with a fixed folder such as /logs/"
		}
		return ""
	case v1.OutputOpenSearch:
		if spec.OpenSearch == nil {
			return "the output has no opensearch block"
		}
		if spec.OpenSearch.Serverless {
			return "OpenSearch Serverless has no Index State Management; set a data lifecycle policy on the collection instead"
		}
		return searchIndexUnsupported(spec.OpenSearch.SearchIndex)
	case v1.OutputElasticsearch:
		if spec.Elasticsearch == nil {
			return "the output has no elasticsearch block"
		}
		return searchIndexUnsupported(spec.Elasticsearch.SearchIndex)
	}
	return fmt.Sprintf("%s destinations have no retention setting logplane can manage; the destination keeps logs as it is configured to", spec.Type)
}

func searchIndexUnsupported(idx v1.SearchIndex) string {
	if idx.DailyIndexPrefix == "" {
		return "records go to one fixed index, which can only be deleted whole; use dailyIndexPrefix so that old days can be deleted"
	}
	return ""
}

// S3Prefix is the fixed part of an S3 key format up to its first template variable
// ($TAG, $UUID, ...) or strftime field (%Y, ...), without the leading "/" (Fluent Bit's
// key formats start with "/", which is not part of the object key).
func S3Prefix(keyFormat v1.ConfigString) string {
	if keyFormat == "" {
		keyFormat = fluentBitS3KeyFormat
	}
	k := strings.TrimPrefix(string(keyFormat), "/")
	if i := strings.IndexAny(k, "$%"); i >= 0 {
		k = k[:i]
	}
	return k
}

// fluentBitS3KeyFormat is what Fluent Bit's s3 output writes to without s3_key_format,
// which the renderer leaves out when keyFormat is empty.
const fluentBitS3KeyFormat = "/fluent-bit-logs/$TAG/%Y/%m/%d/%H/%M/%S"

// IndexPattern is the pattern matching the daily indices prefix-YYYY.MM.DD of a
// search output.
func IndexPattern(idx v1.SearchIndex) string {
	return idx.DailyIndexPrefix + "-*"
}
