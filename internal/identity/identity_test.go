package identity

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	v1 "github.com/logplane/logplane/api/v1alpha1"
)

const (
	shopRole  = "arn:aws:iam::123456789012:role/shop-logs"
	auditRole = "arn:aws:iam::123456789012:role/platform-audit"
)

func s3(bucket, role string, keys bool) *v1.OutputSpec {
	a := v1.AWSAuth{Region: "eu-west-1", RoleArn: role}
	if keys {
		a.Credentials = &v1.AWSCredentials{AccessKeyID: v1.SecretKeyRef{Name: "aws", Key: "id"},
			SecretAccessKey: v1.SecretKeyRef{Name: "aws", Key: "secret"}}
	}
	return &v1.OutputSpec{Type: v1.OutputS3, S3: &v1.S3Output{AWS: a, Bucket: bucket}}
}

func cloudwatch(group, role string, templated bool) *v1.OutputSpec {
	o := &v1.CloudWatchLogsOutput{AWS: v1.AWSAuth{Region: "eu-west-1", RoleArn: role}, LogGroupName: group}
	if templated {
		t := v1.ConfigString("$kubernetes['namespace_name']")
		o.LogGroupTemplate = &t
	}
	return &v1.OutputSpec{Type: v1.OutputCloudWatchLogs, CloudWatchLogs: o}
}

func newGrant(name string, sel map[string]string, spec v1.IdentityGrantSpec) v1.IdentityGrant {
	spec.NamespaceSelector = metav1.LabelSelector{MatchLabels: sel}
	return v1.IdentityGrant{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: spec}
}

func TestDecide(t *testing.T) {
	shop := labels.Set{"team": "shop"}
	shopOnly := map[string]string{"team": "shop"}
	roleAnywhere := newGrant("shop-any", shopOnly, v1.IdentityGrantSpec{Roles: []v1.RoleGrant{{RoleArn: shopRole}}})
	roleForBucket := newGrant("shop-bucket", shopOnly, v1.IdentityGrantSpec{Roles: []v1.RoleGrant{{RoleArn: shopRole,
		Destinations: []v1.GrantedDestination{{Type: v1.AWSOutputType(v1.OutputS3), Name: "shop-logs"}, {Type: v1.AWSOutputType(v1.OutputCloudWatchLogs), NamePrefix: "/shop/"}}}}})
	agentForGroup := newGrant("shop-agent", shopOnly, v1.IdentityGrantSpec{AgentIdentity: &v1.AgentIdentityGrant{
		Destinations: []v1.GrantedDestination{{Type: v1.AWSOutputType(v1.OutputCloudWatchLogs), NamePrefix: "/shop/"}}}})
	keyed := func(name, prefix string) v1.IdentityGrant {
		return newGrant(name, shopOnly, v1.IdentityGrantSpec{Roles: []v1.RoleGrant{{RoleArn: shopRole,
			Destinations: []v1.GrantedDestination{{Type: v1.AWSOutputType(v1.OutputS3), Name: "shared-logs", KeyPrefix: prefix}}}}})
	}
	shopFolder := keyed("shop-folder", "teams/shop/")
	wholeShared := keyed("shop-whole-bucket", "")
	withKeys := func(bucket, keyFormat string) *v1.OutputSpec {
		spec := s3(bucket, shopRole, false)
		spec.S3.KeyFormat = v1.ConfigString(keyFormat)
		return spec
	}
	indexed := func(name, prefix string) v1.IdentityGrant {
		return newGrant(name, shopOnly, v1.IdentityGrantSpec{Roles: []v1.RoleGrant{{RoleArn: shopRole,
			Destinations: []v1.GrantedDestination{{Type: v1.AWSOutputType(v1.OutputOpenSearch), Name: "search.shared", IndexPrefix: prefix}}}}})
	}
	shopIndices := indexed("shop-indices", "shop-")
	wholeDomain := indexed("shop-whole-domain", "")
	search := func(idx v1.SearchIndex) *v1.OutputSpec {
		return &v1.OutputSpec{Type: v1.OutputOpenSearch, OpenSearch: &v1.OpenSearchOutput{Host: "search.shared",
			AWS: &v1.AWSAuth{Region: "eu-west-1", RoleArn: shopRole}, SearchIndex: idx}}
	}
	emptySelector := newGrant("everyone?", nil, v1.IdentityGrantSpec{Roles: []v1.RoleGrant{{RoleArn: shopRole}}, AgentIdentity: &v1.AgentIdentityGrant{}})

	cases := []struct {
		name      string
		grants    []v1.IdentityGrant
		ns        labels.Set
		spec      *v1.OutputSpec
		want      Use
		wantGrant string
		wantWants string
		wantAsk   string
		// wantKeyPrefix is the granted part of an s3 bucket; wantIndexPrefix of a
		// domain's indices.
		wantKeyPrefix, wantIndexPrefix string
	}{
		{name: "not AWS", ns: shop, spec: &v1.OutputSpec{Type: v1.OutputHTTP, HTTP: &v1.HTTPOutput{}}, want: NotAWS},
		{name: "opensearch without aws signs nothing", ns: shop,
			spec: &v1.OutputSpec{Type: v1.OutputOpenSearch, OpenSearch: &v1.OpenSearchOutput{Host: "search"}}, want: NotAWS},
		{name: "own keys", ns: shop, spec: s3("platform-audit", "", true), want: Own},
		{name: "own keys assume any role", ns: shop, spec: s3("platform-audit", auditRole, true), want: Own},
		{name: "no keys, no grant: the agent's identity is refused", ns: shop, spec: s3("platform-audit", "", false), want: Refused,
			wantWants: `the agent's own identity for s3 bucket "platform-audit"`,
			wantAsk:   `agentIdentity: {destinations: [{type: s3, name: "platform-audit", keyPrefix: "fluent-bit-logs/"}]}`},
		{name: "ungranted role", grants: []v1.IdentityGrant{roleAnywhere}, ns: shop, spec: s3("platform-audit", auditRole, false), want: Refused,
			wantWants: `role ` + auditRole + ` for s3 bucket "platform-audit"`,
			wantAsk:   `roles: [{roleArn: ` + auditRole + `, destinations: [{type: s3, name: "platform-audit", keyPrefix: "fluent-bit-logs/"}]}]`},
		{name: "role granted for any destination", grants: []v1.IdentityGrant{roleAnywhere}, ns: shop, spec: s3("platform-audit", shopRole, false),
			want: GrantedRole, wantGrant: "shop-any"},
		{name: "role granted for its bucket", grants: []v1.IdentityGrant{roleForBucket}, ns: shop, spec: s3("shop-logs", shopRole, false),
			want: GrantedRole, wantGrant: "shop-bucket"},
		{name: "role granted for another bucket", grants: []v1.IdentityGrant{roleForBucket}, ns: shop, spec: s3("platform-audit", shopRole, false),
			want: Refused, wantWants: `role ` + shopRole + ` for s3 bucket "platform-audit" (namespace shop has it for other destinations only)`,
			wantAsk: `roles: [{roleArn: ` + shopRole + `, destinations: [{type: s3, name: "platform-audit", keyPrefix: "fluent-bit-logs/"}]}]`},
		{name: "a prefix of another type does not match", grants: []v1.IdentityGrant{roleForBucket}, ns: shop,
			spec: s3("shop-logs-2", shopRole, false), want: Refused},
		{name: "role granted by prefix", grants: []v1.IdentityGrant{roleForBucket}, ns: shop, spec: cloudwatch("/shop/web", shopRole, false),
			want: GrantedRole, wantGrant: "shop-bucket"},
		{name: "prefix is a prefix, not a substring", grants: []v1.IdentityGrant{roleForBucket}, ns: shop,
			spec: cloudwatch("/platform/shop/web", shopRole, false), want: Refused},
		{name: "templated group needs an unrestricted grant", grants: []v1.IdentityGrant{roleForBucket}, ns: shop,
			spec: cloudwatch("/shop/web", shopRole, true), want: Refused,
			wantWants: `role ` + shopRole + ` for cloudwatchLogs log groups from logGroupTemplate (namespace shop has it for other destinations only)`,
			wantAsk:   `roles: [{roleArn: ` + shopRole + `}]`},
		{name: "templated group with an unrestricted grant", grants: []v1.IdentityGrant{roleAnywhere}, ns: shop,
			spec: cloudwatch("/shop/web", shopRole, true), want: GrantedRole, wantGrant: "shop-any"},
		{name: "a role grant is not the agent's identity", grants: []v1.IdentityGrant{roleAnywhere}, ns: shop,
			spec: cloudwatch("/shop/web", "", false), want: Refused},
		{name: "agent identity granted for the group", grants: []v1.IdentityGrant{agentForGroup}, ns: shop,
			spec: cloudwatch("/shop/web", "", false), want: GrantedAgent, wantGrant: "shop-agent"},
		{name: "an agent identity grant is not a role", grants: []v1.IdentityGrant{agentForGroup}, ns: shop,
			spec: cloudwatch("/shop/web", shopRole, false), want: Refused},
		{name: "agent identity for another group", grants: []v1.IdentityGrant{agentForGroup}, ns: shop,
			spec: cloudwatch("/platform/audit", "", false), want: Refused,
			wantAsk: `agentIdentity: {destinations: [{type: cloudwatchLogs, name: "/platform/audit"}]}`},
		{name: "templated group, agent identity", ns: shop, spec: cloudwatch("/x", "", true), want: Refused, wantAsk: `agentIdentity: {}`},
		{name: "grant for another namespace", grants: []v1.IdentityGrant{roleAnywhere}, ns: labels.Set{"team": "billing"},
			spec: s3("shop-logs", shopRole, false), want: Refused},
		{name: "unlabelled namespace", grants: []v1.IdentityGrant{roleAnywhere}, ns: nil, spec: s3("shop-logs", shopRole, false), want: Refused},
		{name: "an empty selector selects none", grants: []v1.IdentityGrant{emptySelector}, ns: shop, spec: s3("shop-logs", shopRole, false), want: Refused},
		{name: "an empty selector grants no agent identity", grants: []v1.IdentityGrant{emptySelector}, ns: shop, spec: s3("shop-logs", "", false), want: Refused},
		{name: "keys inside the granted keyPrefix", grants: []v1.IdentityGrant{shopFolder}, ns: shop,
			spec: withKeys("shared-logs", "/teams/shop/$TAG/%Y/%m/%d/$UUID"), want: GrantedRole, wantGrant: "shop-folder", wantKeyPrefix: "teams/shop/"},
		// Issue 19 item 5: keyFormat /a$TAG writes keys such as audit/... on a shared bucket.
		{name: "keys outside the granted keyPrefix", grants: []v1.IdentityGrant{shopFolder}, ns: shop,
			spec: withKeys("shared-logs", "/a$TAG"), want: Refused,
			wantWants: `role ` + shopRole + ` for s3 bucket "shared-logs" (namespace shop has it for other destinations only)`,
			wantAsk:   `roles: [{roleArn: ` + shopRole + `, destinations: [{type: s3, name: "shared-logs"}]}]`},
		{name: "a folder that only shares letters", grants: []v1.IdentityGrant{shopFolder}, ns: shop,
			spec: withKeys("shared-logs", "/teams/shopping/$TAG"), want: Refused,
			wantAsk: `roles: [{roleArn: ` + shopRole + `, destinations: [{type: s3, name: "shared-logs", keyPrefix: "teams/shopping/"}]}]`},
		{name: "the fixed start must reach the folder's slash", grants: []v1.IdentityGrant{shopFolder}, ns: shop,
			spec: withKeys("shared-logs", "/teams/shop$TAG"), want: Refused},
		{name: "a whole-bucket grant admits any keys, with no keyPrefix", grants: []v1.IdentityGrant{wholeShared}, ns: shop,
			spec: withKeys("shared-logs", "/a$TAG"), want: GrantedRole, wantGrant: "shop-whole-bucket"},
		{name: "a keyPrefix grant is preferred to a whole-bucket one", grants: []v1.IdentityGrant{wholeShared, shopFolder}, ns: shop,
			spec: withKeys("shared-logs", "/teams/shop/$TAG"), want: GrantedRole, wantGrant: "shop-folder", wantKeyPrefix: "teams/shop/"},
		{name: "daily indices inside the granted indexPrefix", grants: []v1.IdentityGrant{shopIndices}, ns: shop,
			spec: search(v1.SearchIndex{DailyIndexPrefix: "shop-web"}), want: GrantedRole, wantGrant: "shop-indices", wantIndexPrefix: "shop-"},
		{name: "the granted prefix itself", grants: []v1.IdentityGrant{shopIndices}, ns: shop,
			spec: search(v1.SearchIndex{DailyIndexPrefix: "shop"}), want: GrantedRole, wantGrant: "shop-indices", wantIndexPrefix: "shop-"},
		{name: "a fixed index inside the granted indexPrefix", grants: []v1.IdentityGrant{shopIndices}, ns: shop,
			spec: search(v1.SearchIndex{Index: "shop-all"}), want: GrantedRole, wantGrant: "shop-indices", wantIndexPrefix: "shop-"},
		// Issue 19 item 4: the platform's audit-* indices on a shared domain.
		{name: "the platform's indices outside the granted indexPrefix", grants: []v1.IdentityGrant{shopIndices}, ns: shop,
			spec: search(v1.SearchIndex{DailyIndexPrefix: "audit"}), want: Refused,
			wantWants: `role ` + shopRole + ` for opensearch host "search.shared" (namespace shop has it for other destinations only)`,
			wantAsk:   `roles: [{roleArn: ` + shopRole + `, destinations: [{type: opensearch, name: "search.shared", indexPrefix: "audit-"}]}]`},
		{name: "indices that only share letters", grants: []v1.IdentityGrant{shopIndices}, ns: shop,
			spec: search(v1.SearchIndex{DailyIndexPrefix: "shopping"}), want: Refused},
		{name: "a whole-domain grant admits any index, with no indexPrefix", grants: []v1.IdentityGrant{wholeDomain}, ns: shop,
			spec: search(v1.SearchIndex{DailyIndexPrefix: "audit"}), want: GrantedRole, wantGrant: "shop-whole-domain"},
		{name: "the first grant that covers wins", grants: []v1.IdentityGrant{roleForBucket, roleAnywhere}, ns: shop,
			spec: s3("platform-audit", shopRole, false), want: GrantedRole, wantGrant: "shop-any"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v := Compile(tc.grants).Decide("shop", tc.ns, tc.spec)
			if v.Use != tc.want || v.Grant != tc.wantGrant || v.KeyPrefix != tc.wantKeyPrefix || v.IndexPrefix != tc.wantIndexPrefix {
				t.Fatalf("got %+v, want use %d by grant %q", v, tc.want, tc.wantGrant)
			}
			if tc.wantWants != "" && v.Wants != tc.wantWants {
				t.Errorf("wants %q\n         want %q", v.Wants, tc.wantWants)
			}
			if tc.wantAsk != "" && v.Ask != tc.wantAsk {
				t.Errorf("ask %q\n     want %q", v.Ask, tc.wantAsk)
			}
		})
	}
}

// Every AWS destination type has its name found, and no other type is taken for AWS.
func TestAWSFindsEveryDestination(t *testing.T) {
	a := v1.AWSAuth{Region: "eu-west-1"}
	cases := []struct {
		spec v1.OutputSpec
		name string
	}{
		{v1.OutputSpec{Type: v1.OutputCloudWatchLogs, CloudWatchLogs: &v1.CloudWatchLogsOutput{AWS: a, LogGroupName: "g"}}, "g"},
		{v1.OutputSpec{Type: v1.OutputKinesisFirehose, KinesisFirehose: &v1.KinesisFirehoseOutput{AWS: a, DeliveryStream: "f"}}, "f"},
		{v1.OutputSpec{Type: v1.OutputKinesisStreams, KinesisStreams: &v1.KinesisStreamsOutput{AWS: a, Stream: "k"}}, "k"},
		{v1.OutputSpec{Type: v1.OutputS3, S3: &v1.S3Output{AWS: a, Bucket: "b"}}, "b"},
		{v1.OutputSpec{Type: v1.OutputOpenSearch, OpenSearch: &v1.OpenSearchOutput{AWS: &a, Host: "h"}}, "h"},
	}
	for _, tc := range cases {
		auth, d := AWS(&tc.spec)
		if auth == nil || d.Name != tc.name || d.Type != tc.spec.Type || nouns[d.Type] == "" {
			t.Errorf("%s: auth %v, destination %+v", tc.spec.Type, auth, d)
		}
	}
	for _, typ := range []v1.OutputType{v1.OutputElasticsearch, v1.OutputLoki, v1.OutputHTTP, v1.OutputKafka} {
		if auth, _ := AWS(&v1.OutputSpec{Type: typ}); auth != nil {
			t.Errorf("%s taken for an AWS output", typ)
		}
	}
}
