package retention

import (
	"slices"

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
