// Package identity decides which AWS identity a tenant's LogOutput may write with.
// Identity is granted, never inherited: an output with static keys of its own
// (aws.credentials) writes as itself, with or without a roleArn, since it can only
// assume what its own keys may assume; an output without keys would write through the
// agent's identity (IRSA, Pod Identity, the node's role), which usually reaches the
// platform's own destinations, so it needs an IdentityGrant from the platform team for
// the role it names (or, without roleArn, for the agent's identity itself), for its
// destination. ClusterLogOutputs belong to the platform and use its identity freely;
// they never come here.
//
// The renderer and the retention reconciler both ask Grants.Decide, so a tenant output
// that may not ship may not have its destination's retention set either.
package identity

import (
	"fmt"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	v1 "github.com/logplane/logplane/api/v1alpha1"
)

// Use is the identity an output writes with.
type Use int

const (
	// NotAWS: the output does not sign with AWS; there is nothing to decide.
	NotAWS Use = iota
	// Own: static keys from the output's own Secrets (assuming roleArn with them, if set).
	Own
	// GrantedRole: the agent assumes roleArn, which a grant hands to the namespace.
	GrantedRole
	// GrantedAgent: the agent's own identity, which a grant hands to the namespace.
	GrantedAgent
	// Refused: no grant covers what the output would use; it must not run.
	Refused
)

// Verdict is the decision for one output.
type Verdict struct {
	Use Use
	// Grant names the IdentityGrant that allowed GrantedRole or GrantedAgent.
	Grant string
	// KeyPrefix is, for an s3 output, the keyPrefix of the grant destination that
	// admitted it ("" when that destination grants the whole bucket): the part of the
	// bucket the namespace owns, where its retention may be set.
	KeyPrefix string
	// IndexPrefix is, for an opensearch output, the indexPrefix of the grant
	// destination that admitted it ("" when that destination grants every index): the
	// indices the namespace owns, where its retention may be set.
	IndexPrefix string
	// Wants says, when Refused, what the output would use ("role X for s3 bucket
	// logs"), and Ask what a grant must hold to allow it, in the grant's own YAML.
	Wants, Ask string
}

// Destination is what a grant's destinations are matched against.
type Destination struct {
	Type v1.OutputType
	// Name is the log group, delivery stream, stream, bucket or host.
	Name string
	// Templated says the name is only known per record (a CloudWatch logGroupTemplate):
	// only a grant without destinations covers it.
	Templated bool
	// KeyPrefix is, for s3, the fixed start of every object key the output writes.
	KeyPrefix string
	// IndexPrefix is, for opensearch, the start of every index name the output writes.
	IndexPrefix string
}

// nouns name each destination type's Name in messages.
var nouns = map[v1.OutputType]string{
	v1.OutputCloudWatchLogs:  "log group",
	v1.OutputKinesisFirehose: "delivery stream",
	v1.OutputKinesisStreams:  "stream",
	v1.OutputS3:              "bucket",
	v1.OutputOpenSearch:      "host",
}

func (d Destination) String() string {
	if d.Templated {
		return fmt.Sprintf("%s log groups from logGroupTemplate", d.Type)
	}
	return fmt.Sprintf("%s %s %q", d.Type, nouns[d.Type], d.Name)
}

// AWS returns the AWS auth block of an output and its destination; nil when the output
// does not write to AWS (or has no block for its type).
func AWS(spec *v1.OutputSpec) (*v1.AWSAuth, Destination) {
	d := Destination{Type: spec.Type}
	switch spec.Type {
	case v1.OutputCloudWatchLogs:
		if o := spec.CloudWatchLogs; o != nil {
			d.Name, d.Templated = o.LogGroupName, o.LogGroupTemplate != nil
			return &o.AWS, d
		}
	case v1.OutputKinesisFirehose:
		if o := spec.KinesisFirehose; o != nil {
			d.Name = o.DeliveryStream
			return &o.AWS, d
		}
	case v1.OutputKinesisStreams:
		if o := spec.KinesisStreams; o != nil {
			d.Name = o.Stream
			return &o.AWS, d
		}
	case v1.OutputS3:
		if o := spec.S3; o != nil {
			d.Name, d.KeyPrefix = o.Bucket, S3KeyPrefix(o.KeyFormat)
			return &o.AWS, d
		}
	case v1.OutputOpenSearch:
		if o := spec.OpenSearch; o != nil && o.AWS != nil {
			d.Name, d.IndexPrefix = string(o.Host), IndexStart(o.SearchIndex)
			return o.AWS, d
		}
	}
	return nil, d
}

// Grants are the IdentityGrants of a cluster with their selectors parsed once, indexed
// by what they hand out, so that an output is matched against the grants of its own
// role only (a render checks every tenant output); safe for concurrent use.
type Grants struct {
	// byRole lists, per role ARN, every grant entry for it in grant order; agent lists
	// the agentIdentity entries.
	byRole map[string][]entry
	agent  []entry
}

// entry is one role (or agentIdentity) of one grant.
type entry struct {
	grant        string
	selector     labels.Selector
	destinations []v1.GrantedDestination
}

// Compile parses the grants' selectors. An empty selector selects no namespace (as
// ClusterLogOutput.allowedNamespaces), and one that does not parse selects none.
func Compile(items []v1.IdentityGrant) *Grants {
	g := &Grants{byRole: map[string][]entry{}}
	for i := range items {
		it := &items[i]
		sel := labels.Nothing()
		ns := &it.Spec.NamespaceSelector
		if len(ns.MatchLabels) > 0 || len(ns.MatchExpressions) > 0 {
			if parsed, err := metav1.LabelSelectorAsSelector(ns); err == nil {
				sel = parsed
			}
		}
		for _, r := range it.Spec.Roles {
			g.byRole[r.RoleArn] = append(g.byRole[r.RoleArn], entry{grant: it.Name, selector: sel, destinations: r.Destinations})
		}
		if a := it.Spec.AgentIdentity; a != nil {
			g.agent = append(g.agent, entry{grant: it.Name, selector: sel, destinations: a.Destinations})
		}
	}
	return g
}

// Decide is the identity a LogOutput of a namespace with the given labels may write
// with. The checks run in order, the first that answers wins:
//  1. not an AWS output: nothing to decide;
//  2. own keys: the output's own identity, whatever roleArn it assumes with them;
//  3. a grant selecting the namespace holds the output's roleArn (or agentIdentity,
//     without roleArn) for its destination;
//  4. otherwise refused, saying what to ask for.
func (g *Grants) Decide(namespace string, nsLabels labels.Set, spec *v1.OutputSpec) Verdict {
	auth, dest := AWS(spec)
	if auth == nil {
		return Verdict{Use: NotAWS}
	}
	if auth.Credentials != nil {
		return Verdict{Use: Own}
	}
	entries, use := g.byRole[auth.RoleArn], GrantedRole
	if auth.RoleArn == "" {
		entries, use = g.agent, GrantedAgent
	}
	otherDestinations := false
	var found *Verdict
	for _, e := range entries {
		if !e.selector.Matches(nsLabels) {
			continue
		}
		ok, prefix := covers(e.destinations, dest)
		if !ok {
			otherDestinations = true
			continue
		}
		if prefix != "" {
			// Part of a bucket, or of a domain's indices, granted by name: the
			// namespace's own, where its retention may be set; no other grant can say more.
			v := Verdict{Use: use, Grant: e.grant, KeyPrefix: prefix}
			if dest.Type == v1.OutputOpenSearch {
				v.KeyPrefix, v.IndexPrefix = "", prefix
			}
			return v
		}
		if found == nil {
			found = &Verdict{Use: use, Grant: e.grant}
		}
	}
	if found != nil {
		return *found
	}
	return refused(namespace, auth.RoleArn, dest, otherDestinations)
}

// covers says whether a grant's destinations admit d (none listed admits any), and
// the keyPrefix (s3) or indexPrefix (opensearch) of the destination that did,
// preferring one with a prefix. A destination with a prefix admits only an output
// whose keys, or indices, all start with it.
func covers(list []v1.GrantedDestination, d Destination) (bool, string) {
	if len(list) == 0 {
		return true, ""
	}
	if d.Templated {
		return false, ""
	}
	ok := false
	for _, g := range list {
		if v1.OutputType(g.Type) != d.Type {
			continue
		}
		if !(g.Name != "" && g.Name == d.Name || g.NamePrefix != "" && strings.HasPrefix(d.Name, g.NamePrefix)) {
			continue
		}
		granted, writes := g.KeyPrefix, d.KeyPrefix
		if d.Type == v1.OutputOpenSearch {
			granted, writes = g.IndexPrefix, d.IndexPrefix
		}
		if granted == "" {
			ok = true
			continue
		}
		if strings.HasPrefix(writes, granted) {
			return true, granted
		}
	}
	return ok, ""
}

// refused words what the output would use and the grant that would allow it.
func refused(namespace, role string, d Destination, otherDestinations bool) Verdict {
	v := Verdict{Use: Refused}
	who := "the agent's own identity"
	if role != "" {
		who = "role " + role
	}
	v.Wants = who + " for " + d.String()
	if otherDestinations {
		v.Wants += " (namespace " + namespace + " has it for other destinations only)"
	}
	dests := ""
	if !d.Templated {
		// %q quotes as YAML accepts: the names the API allows need no escapes.
		dests = fmt.Sprintf("destinations: [{type: %s, name: %q%s}]", d.Type, d.Name, keyPrefixAsk(d))
	}
	switch {
	case role == "" && dests == "":
		v.Ask = "agentIdentity: {}"
	case role == "":
		v.Ask = "agentIdentity: {" + dests + "}"
	case dests == "":
		v.Ask = "roles: [{roleArn: " + role + "}]"
	default:
		v.Ask = "roles: [{roleArn: " + role + ", " + dests + "}]"
	}
	return v
}

// keyPrefixAsk is the keyPrefix to ask for with an s3 destination: the folder the
// output's fixed key start lies in; none when it lies in no folder (the whole bucket).
// With an opensearch destination it is the indexPrefix: the output's index names up to
// their last -.
func keyPrefixAsk(d Destination) string {
	if d.Type == v1.OutputOpenSearch {
		if i := strings.LastIndex(d.IndexPrefix, "-"); i >= 1 {
			return fmt.Sprintf(", indexPrefix: %q", d.IndexPrefix[:i+1])
		}
		return ""
	}
	i := strings.LastIndex(d.KeyPrefix, "/")
	if d.Type != v1.OutputS3 || i < 1 {
		return ""
	}
	return fmt.Sprintf(", keyPrefix: %q", d.KeyPrefix[:i+1])
}

// fluentBitS3KeyFormat is what Fluent Bit's s3 output writes to without s3_key_format,
// which the renderer leaves out when keyFormat is empty.
const fluentBitS3KeyFormat = "/fluent-bit-logs/$TAG/%Y/%m/%d/%H/%M/%S"

// S3KeyPrefix is the fixed part of an S3 key format up to its first template variable
// ($TAG, $UUID, ...) or strftime field (%Y, ...), without the leading "/" (Fluent Bit's
// key formats start with "/", which is not part of the object key): the start of every
// object key the output writes.
func S3KeyPrefix(keyFormat v1.ConfigString) string {
	if keyFormat == "" {
		keyFormat = fluentBitS3KeyFormat
	}
	k := strings.TrimPrefix(string(keyFormat), "/")
	if i := strings.IndexAny(k, "$%"); i >= 0 {
		k = k[:i]
	}
	return k
}

// IndexStart is the start of every index name a search output writes: its daily
// indices' prefix with the - before the date, or its fixed index.
func IndexStart(idx v1.SearchIndex) string {
	if idx.DailyIndexPrefix != "" {
		return idx.DailyIndexPrefix + "-"
	}
	return idx.Index
}
