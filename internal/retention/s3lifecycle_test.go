package retention

import (
	"encoding/json"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
)

const ownRule = "logplane-lo.team-a.archive"

// foreignRules are rules another team or tool keeps in the bucket.
func foreignRules() []s3types.LifecycleRule {
	return []s3types.LifecycleRule{
		{ID: aws.String("archive-to-glacier"), Status: s3types.ExpirationStatusEnabled,
			Filter:      &s3types.LifecycleRuleFilter{Prefix: aws.String("billing/")},
			Transitions: []s3types.Transition{{Days: aws.Int32(30), StorageClass: s3types.TransitionStorageClassGlacier}}},
		{ID: aws.String("tmp"), Status: s3types.ExpirationStatusDisabled,
			Filter:     &s3types.LifecycleRuleFilter{Tag: &s3types.Tag{Key: aws.String("tmp"), Value: aws.String("yes")}},
			Expiration: &s3types.LifecycleExpiration{Days: aws.Int32(1)}},
	}
}

func withOwn(days int32, prefix string) []s3types.LifecycleRule {
	rules := foreignRules()
	own := s3types.LifecycleRule{ID: aws.String(ownRule), Status: s3types.ExpirationStatusEnabled,
		Filter:     &s3types.LifecycleRuleFilter{Prefix: aws.String(prefix)},
		Expiration: &s3types.LifecycleExpiration{Days: aws.Int32(days)}}
	return []s3types.LifecycleRule{rules[0], own, rules[1]}
}

func TestS3Rules(t *testing.T) {
	cases := []struct {
		name  string
		rules []s3types.LifecycleRule
		days  Days
	}{
		{"s3-empty-bucket", nil, 30},
		{"s3-foreign-rules-kept", foreignRules(), 90},
		{"s3-own-rule-updated-in-place", withOwn(30, "old/"), 365},
		{"s3-own-rule-removed-for-forever", withOwn(30, "logs/"), Forever},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := S3Rules(c.rules, ownRule, "logs/", c.days)
			out, err := json.MarshalIndent(got, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			golden(t, c.name+".json", append(out, '\n'))
			// Whatever happens to logplane's rule, the others come back unchanged.
			var kept []s3types.LifecycleRule
			for _, r := range got {
				if aws.ToString(r.ID) != ownRule {
					kept = append(kept, r)
				}
			}
			var foreign []s3types.LifecycleRule
			for _, r := range c.rules {
				if aws.ToString(r.ID) != ownRule {
					foreign = append(foreign, r)
				}
			}
			a, _ := json.Marshal(kept)
			b, _ := json.Marshal(foreign)
			if string(a) != string(b) {
				t.Errorf("foreign rules changed:\n%s\n%s", a, b)
			}
			if now := S3Current(got, ownRule); now != c.days {
				t.Errorf("S3Current after S3Rules = %v, want %v", now, c.days)
			}
		})
	}
}

func TestS3Current(t *testing.T) {
	disabled := withOwn(30, "logs/")
	disabled[1].Status = s3types.ExpirationStatusDisabled
	dated := withOwn(30, "logs/")
	dated[1].Expiration = &s3types.LifecycleExpiration{ExpiredObjectDeleteMarker: aws.Bool(true)}
	cases := []struct {
		name  string
		rules []s3types.LifecycleRule
		want  Days
	}{
		{"no configuration", nil, Forever},
		{"only foreign rules, even expiring ones", foreignRules(), Forever},
		{"own rule", withOwn(400, "logs/"), 400},
		{"own rule disabled", disabled, Forever},
		{"own rule without days", dated, Forever},
	}
	for _, c := range cases {
		if got := S3Current(c.rules, ownRule); got != c.want {
			t.Errorf("%s: S3Current = %v, want %v", c.name, got, c.want)
		}
	}
}
