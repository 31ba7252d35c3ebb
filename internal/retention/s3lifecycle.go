package retention

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// S3Current is what the bucket's lifecycle configuration keeps under the output's
// prefix by logplane's own rule: Forever when the rule is absent, disabled or has no
// day-count expiration. Rules of others are not read as the output's retention: they
// are someone else's decision, and logplane leaves them as they are.
func S3Current(rules []s3types.LifecycleRule, id string) Days {
	i := slices.IndexFunc(rules, func(r s3types.LifecycleRule) bool { return aws.ToString(r.ID) == id })
	if i < 0 {
		return Forever
	}
	r := rules[i]
	if r.Status != s3types.ExpirationStatusEnabled || r.Expiration == nil || r.Expiration.Days == nil {
		return Forever
	}
	return Days(*r.Expiration.Days)
}

// S3Rules is the bucket's lifecycle configuration with logplane's rule (identified by
// id) set to expire objects under prefix after days, every other rule kept as it was
// and in its place; a new rule goes last. Forever removes logplane's rule. The result
// is written back whole, because S3 replaces the configuration on every write.
func S3Rules(rules []s3types.LifecycleRule, id, prefix string, days Days) []s3types.LifecycleRule {
	out := make([]s3types.LifecycleRule, 0, len(rules)+1)
	for _, r := range rules {
		if aws.ToString(r.ID) != id {
			out = append(out, r)
		}
	}
	if days == Forever {
		return out
	}
	own := s3types.LifecycleRule{
		ID:         aws.String(id),
		Status:     s3types.ExpirationStatusEnabled,
		Filter:     &s3types.LifecycleRuleFilter{Prefix: aws.String(prefix)},
		Expiration: &s3types.LifecycleExpiration{Days: aws.Int32(int32(days))},
		// Uploads Fluent Bit abandoned (a killed agent) would otherwise stay forever
		// under the prefix and be billed.
		AbortIncompleteMultipartUpload: &s3types.AbortIncompleteMultipartUpload{DaysAfterInitiation: aws.Int32(7)},
	}
	if i := slices.IndexFunc(rules, func(r s3types.LifecycleRule) bool { return aws.ToString(r.ID) == id }); i >= 0 {
		// Keep the rule where it was so that a re-apply changes nothing else.
		pos := 0
		for _, r := range rules[:i] {
			if aws.ToString(r.ID) != id {
				pos++
			}
		}
		return slices.Insert(out, pos, own)
	}
	return append(out, own)
}

// S3RulePrefix is the key prefix a rule's filter selects: the filter's prefix, its
// And-filter's, or the rule's legacy top-level Prefix; "" (the whole bucket) for a rule
// without one. Tag and size filters narrow a rule further, but whether an object
// carries the tag or has the size is not known in advance, so a rule is taken to
// reach every object under its prefix.
func S3RulePrefix(r s3types.LifecycleRule) string {
	if f := r.Filter; f != nil {
		switch {
		case f.Prefix != nil:
			return *f.Prefix
		case f.And != nil && f.And.Prefix != nil:
			return *f.And.Prefix
		}
		return ""
	}
	return aws.ToString(r.Prefix)
}

// prefixesOverlap says whether some key can start with both prefixes.
func prefixesOverlap(a, b string) bool {
	return strings.HasPrefix(a, b) || strings.HasPrefix(b, a)
}

// S3Conflict is a rule of the bucket that keeps objects longer than logplane's rule
// would, under keys both reach. S3 expires an object by the shortest expiration of all
// rules that match it, so writing logplane's rule would delete that rule's objects early.
type S3Conflict struct {
	// ID and Prefix of the other rule ("" prefix: the whole bucket).
	ID, Prefix string
	// Keeps is how long it keeps objects: "1825d", or "until 2031-01-01".
	Keeps string
}

// S3Conflicts lists the enabled rules of the bucket, other than logplane's own (id),
// that would be cut short by a rule expiring objects under prefix after days; none for
// Forever, which removes logplane's rule. Rules of other logplane outputs count as
// anyone's. A rule with no expiration (transitions, aborting uploads, old versions
// only) sets no limit that S3 could shorten, and is not a conflict. A date expiration
// is compared conservatively: it always conflicts, since objects written shortly
// before the date would be kept until then.
func S3Conflicts(rules []s3types.LifecycleRule, id, prefix string, days Days) []S3Conflict {
	if days == Forever {
		return nil
	}
	var out []S3Conflict
	for _, r := range rules {
		if aws.ToString(r.ID) == id || r.Status != s3types.ExpirationStatusEnabled || r.Expiration == nil {
			continue
		}
		other := S3RulePrefix(r)
		if !prefixesOverlap(prefix, other) {
			continue
		}
		switch e := r.Expiration; {
		case e.Days != nil && days.Shorter(Days(*e.Days)):
			out = append(out, S3Conflict{ID: aws.ToString(r.ID), Prefix: other, Keeps: Days(*e.Days).String()})
		case e.Date != nil:
			out = append(out, S3Conflict{ID: aws.ToString(r.ID), Prefix: other, Keeps: "until " + e.Date.UTC().Format(time.DateOnly)})
		}
	}
	return out
}

// S3ConflictMessage names logplane's rule and every rule it would cut short.
func S3ConflictMessage(bucket, id, prefix string, days Days, conflicts []S3Conflict) string {
	others := make([]string, len(conflicts))
	for i, c := range conflicts {
		others[i] = fmt.Sprintf("rule %q (prefix %q, %s)", c.ID, c.Prefix, c.Keeps)
	}
	return fmt.Sprintf("in bucket %s, rule %q (prefix %q, %s) would expire objects that %s keeps longer, and S3 applies the shortest expiration "+
		"that matches an object; use a keyFormat whose fixed prefix no such rule covers, or agree a retention with the owner of %s",
		bucket, id, prefix, days, strings.Join(others, ", "), ruleWord(len(conflicts)))
}

func ruleWord(n int) string {
	if n == 1 {
		return "that rule"
	}
	return "those rules"
}
