package retention

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

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

func TestS3Conflicts(t *testing.T) {
	expiring := func(id string, days int32, filter *s3types.LifecycleRuleFilter) s3types.LifecycleRule {
		return s3types.LifecycleRule{ID: aws.String(id), Status: s3types.ExpirationStatusEnabled, Filter: filter,
			Expiration: &s3types.LifecycleExpiration{Days: aws.Int32(days)}}
	}
	prefix := func(p string) *s3types.LifecycleRuleFilter {
		return &s3types.LifecycleRuleFilter{Prefix: aws.String(p)}
	}
	audit := expiring("audit-5y", 1825, prefix("audit/"))
	disabled := audit
	disabled.Status = s3types.ExpirationStatusDisabled
	transitionOnly := s3types.LifecycleRule{ID: aws.String("glacier"), Status: s3types.ExpirationStatusEnabled, Filter: prefix(""),
		Transitions: []s3types.Transition{{Days: aws.Int32(30), StorageClass: s3types.TransitionStorageClassGlacier}}}
	abortOnly := s3types.LifecycleRule{ID: aws.String("abort-mpu"), Status: s3types.ExpirationStatusEnabled, Filter: &s3types.LifecycleRuleFilter{},
		AbortIncompleteMultipartUpload: &s3types.AbortIncompleteMultipartUpload{DaysAfterInitiation: aws.Int32(1)}}
	markerOnly := s3types.LifecycleRule{ID: aws.String("markers"), Status: s3types.ExpirationStatusEnabled, Filter: prefix(""),
		Expiration: &s3types.LifecycleExpiration{ExpiredObjectDeleteMarker: aws.Bool(true)}}
	dated := s3types.LifecycleRule{ID: aws.String("until-2031"), Status: s3types.ExpirationStatusEnabled, Filter: prefix("legal/"),
		Expiration: &s3types.LifecycleExpiration{Date: aws.Time(time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC))}}
	taggedAnd := expiring("tagged", 365, &s3types.LifecycleRuleFilter{And: &s3types.LifecycleRuleAndOperator{
		Prefix: aws.String("audit/eu/"), Tags: []s3types.Tag{{Key: aws.String("class"), Value: aws.String("audit")}}}})
	tagOnly := expiring("tag-only", 365, &s3types.LifecycleRuleFilter{Tag: &s3types.Tag{Key: aws.String("k"), Value: aws.String("v")}})
	sizeOnly := expiring("big", 365, &s3types.LifecycleRuleFilter{ObjectSizeGreaterThan: aws.Int64(1 << 20)})
	wholeBucket := expiring("whole-bucket", 365, nil)
	legacy := s3types.LifecycleRule{ID: aws.String("legacy"), Status: s3types.ExpirationStatusEnabled, Prefix: aws.String("aud"),
		Expiration: &s3types.LifecycleExpiration{Days: aws.Int32(400)}}
	otherOutput := expiring("logplane-clo.audit", 1825, prefix("logs/audit/"))

	cases := []struct {
		name   string
		rules  []s3types.LifecycleRule
		prefix string
		days   Days
		want   []string // "id prefix keeps"
	}{
		// Issue 19 item 5: keyFormat /a$TAG has the prefix "a", which reaches audit/.
		{"short tenant prefix over the platform's audit rule", []s3types.LifecycleRule{audit}, "a", 30, []string{"audit-5y audit/ 1825d"}},
		{"a longer rule under the new prefix", []s3types.LifecycleRule{audit}, "", 30, []string{"audit-5y audit/ 1825d"}},
		{"the new rule under a longer rule's prefix", []s3types.LifecycleRule{audit}, "audit/team-a/", 30, []string{"audit-5y audit/ 1825d"}},
		{"disjoint prefixes", []s3types.LifecycleRule{audit}, "logs/", 30, nil},
		{"a sibling that only shares letters", []s3types.LifecycleRule{audit}, "audits/", 30, nil},
		{"the other rule keeps less", []s3types.LifecycleRule{audit}, "audit/", 3650, nil},
		{"the same period", []s3types.LifecycleRule{audit}, "audit/x/", 1825, nil},
		{"a disabled rule expires nothing", []s3types.LifecycleRule{disabled}, "a", 30, nil},
		{"rules without an expiration set no limit", []s3types.LifecycleRule{transitionOnly, abortOnly, markerOnly}, "logs/", 1, nil},
		{"a date expiration always conflicts", []s3types.LifecycleRule{dated}, "", 3650, []string{"until-2031 legal/ until 2031-01-01"}},
		{"an And filter's prefix", []s3types.LifecycleRule{taggedAnd}, "audit/", 30, []string{"tagged audit/eu/ 365d"}},
		{"an And filter's prefix, disjoint", []s3types.LifecycleRule{taggedAnd}, "audit/us/", 30, nil},
		{"tag and size filters reach the whole bucket", []s3types.LifecycleRule{tagOnly, sizeOnly}, "logs/", 30, []string{"tag-only  365d", "big  365d"}},
		{"no filter is the whole bucket", []s3types.LifecycleRule{wholeBucket}, "logs/", 30, []string{"whole-bucket  365d"}},
		{"the legacy top-level prefix", []s3types.LifecycleRule{legacy}, "audit/", 30, []string{"legacy aud 400d"}},
		{"another logplane output's rule counts", []s3types.LifecycleRule{otherOutput}, "logs/", 30, []string{"logplane-clo.audit logs/audit/ 1825d"}},
		{"logplane's own rule is replaced, not a conflict", []s3types.LifecycleRule{expiring(ownRule, 1825, prefix("logs/"))}, "logs/", 30, nil},
		{"forever writes no rule", []s3types.LifecycleRule{audit}, "a", Forever, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var got []string
			for _, x := range S3Conflicts(c.rules, ownRule, c.prefix, c.days) {
				got = append(got, x.ID+" "+x.Prefix+" "+x.Keeps)
			}
			if !slices.Equal(got, c.want) {
				t.Errorf("conflicts %q, want %q", got, c.want)
			}
		})
	}
}

func TestS3ConflictMessageNamesBothRules(t *testing.T) {
	msg := S3ConflictMessage("shared-logs", "logplane-lo.shop.archive", "a", 30, []S3Conflict{{ID: "audit-5y", Prefix: "audit/", Keeps: "1825d"}})
	want := `in bucket shared-logs, rule "logplane-lo.shop.archive" (prefix "a", 30d) would expire objects that rule "audit-5y" (prefix "audit/", 1825d) keeps longer`
	if !strings.HasPrefix(msg, want) {
		t.Errorf("message %q\nwant prefix %q", msg, want)
	}
}
