package retention

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"

	v1 "github.com/logplane/logplane/api/v1alpha1"
	"github.com/logplane/logplane/internal/identity"
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

// S3Prefix is the fixed start of every object key an S3 key format writes: the prefix
// of logplane's lifecycle rule. One definition with the identity grants' keyPrefix.
func S3Prefix(keyFormat v1.ConfigString) string {
	return identity.S3KeyPrefix(keyFormat)
}

// IndexPattern is the pattern matching the daily indices prefix-YYYY.MM.DD of a
// search output.
func IndexPattern(idx v1.SearchIndex) string {
	return idx.DailyIndexPrefix + "-*"
}

// GrantedScope says, for a tenant output that writes under an identity granted to its
// namespace (identity.Decide), why logplane may not set its retention; "" when it may.
// An S3 lifecycle rule expires every object under its prefix, whoever wrote it, so on
// a bucket the namespace did not get a keyPrefix of, a rule could delete what others
// keep forever there without any rule that logplane could see. Only a part of the
// bucket the platform named as the namespace's (the grant's keyPrefix) may have one.
// Outputs with keys of their own answer for themselves, and the platform's outputs use
// the platform's identity: neither comes here.
func GrantedScope(spec *v1.OutputSpec, v identity.Verdict) string {
	if spec.Type == v1.OutputOpenSearch {
		return grantedIndices(spec, v)
	}
	if spec.Type != v1.OutputS3 || spec.S3 == nil || (v.Use != identity.GrantedRole && v.Use != identity.GrantedAgent) {
		return ""
	}
	prefix := S3Prefix(spec.S3.KeyFormat)
	if v.KeyPrefix != "" && strings.HasPrefix(prefix, v.KeyPrefix) {
		return ""
	}
	ask := "a keyPrefix for a folder of its own in that destination, and a keyFormat that starts with it (the key prefix now is " + fmt.Sprintf("%q", prefix) + ", in no folder)"
	if i := strings.LastIndex(prefix, "/"); i > 0 {
		ask = fmt.Sprintf("keyPrefix: %q in that s3 destination", prefix[:i+1])
	}
	return fmt.Sprintf("IdentityGrant %s lets the namespace write to bucket %s but names no keyPrefix that holds the key prefix %q, "+
		"and a lifecycle rule would expire every object under it, whoever wrote it; ask the platform team for %s, or set aws.credentials of your own",
		v.Grant, spec.S3.Bucket, prefix, ask)
}

// grantedIndices is GrantedScope for OpenSearch: an ISM policy deletes every index of
// its pattern, whoever wrote it, so under a granted identity only indices the platform
// named as the namespace's (the grant's indexPrefix) may have one.
func grantedIndices(spec *v1.OutputSpec, v identity.Verdict) string {
	if spec.OpenSearch == nil || (v.Use != identity.GrantedRole && v.Use != identity.GrantedAgent) {
		return ""
	}
	start := identity.IndexStart(spec.OpenSearch.SearchIndex)
	if v.IndexPrefix != "" && strings.HasPrefix(start, v.IndexPrefix) {
		return ""
	}
	return fmt.Sprintf("IdentityGrant %s lets the namespace write to OpenSearch host %s but names no indexPrefix that holds the indices %s, "+
		"and an ISM policy would delete every index of that pattern, whoever wrote it; ask the platform team for indexPrefix: %q in that opensearch destination, "+
		"or set aws.credentials of your own",
		v.Grant, spec.OpenSearch.Host, IndexPattern(spec.OpenSearch.SearchIndex), start)
}
