package retention

import (
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/logplane/logplane/api/v1alpha1"
	"github.com/logplane/logplane/internal/conditions"
)

// A tenant output without keys of its own has retention applied only when a grant hands
// its namespace the identity it would use; a ClusterLogOutput needs none.
func TestTenantRetentionNeedsAGrant(t *testing.T) {
	const role = "arn:aws:iam::123456789012:role/shop-logs"
	withRole := cloudWatch("error")
	withRole.CloudWatchLogs.AWS.RoleArn = role
	agent := logOutput("shop", "agent", cloudWatch("error"))      // the agent's (operator's) identity
	granted := logOutput("shop", "granted", withRole)             // a role granted to shop
	other := logOutput("billing", "copied", *withRole.DeepCopy()) // shop's role copied into billing
	cw := clusterOutput("errors", cloudWatch("error"))
	ns := func(name string, l map[string]string) *corev1.Namespace {
		return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: l}}
	}
	grant := &v1.IdentityGrant{ObjectMeta: metav1.ObjectMeta{Name: "shop"}, Spec: v1.IdentityGrantSpec{
		NamespaceSelector: metav1.LabelSelector{MatchLabels: map[string]string{"team": "shop"}},
		Roles:             []v1.RoleGrant{{RoleArn: role, Destinations: []v1.GrantedDestination{{Type: v1.AWSOutputType(v1.OutputCloudWatchLogs), NamePrefix: "/k8s/"}}}}}}
	e := newEnv(t, nil, policy("error", "90d", true), agent, granted, other, cw, grant,
		ns("shop", map[string]string{"team": "shop"}), ns("billing", map[string]string{"team": "billing"}))

	// Refused outputs are Pending, not retried: the grants and namespace labels they
	// wait for are watched.
	if res, err := e.reconcile(t, "error"); err != nil || res.RequeueAfter != DefaultInterval {
		t.Fatalf("got %+v, %v; want the regular interval and no retry", res, err)
	}
	slices.Sort(e.dest.applied) // applied concurrently
	if got := strings.Join(e.dest.applied, ","); got != "ClusterLogOutput errors=90d,LogOutput shop/granted=90d" {
		t.Errorf("applied %s; only the platform's output and the granted one may be", got)
	}
	states := map[string]v1.OutputRetention{}
	for _, o := range e.policy(t, "error").Status.Outputs {
		states[refString(o.Output)] = o
	}
	for ref, wantAsk := range map[string]string{
		"LogOutput shop/agent":     `agentIdentity: {destinations: [{type: cloudwatchLogs, name: "/k8s/a"}]}`,
		"LogOutput billing/copied": `roles: [{roleArn: ` + role + `, destinations: [{type: cloudwatchLogs, name: "/k8s/a"}]}]`,
	} {
		o := states[ref]
		ns := strings.Fields(ref)[1]
		ns = ns[:strings.Index(ns, "/")]
		if o.State != v1.RetentionPending || !strings.Contains(o.Message, wantAsk) || !strings.Contains(o.Message, "namespace "+ns+" ") {
			t.Errorf("%s: %+v, want Pending asking for %s", ref, o, wantAsk)
		}
	}
	for obj, want := range map[*v1.LogOutput]string{agent: conditions.ReasonIdentityNotGranted, other: conditions.ReasonIdentityNotGranted,
		granted: conditions.ReasonRetentionEnforced} {
		if c := e.outputCondition(t, obj); c == nil || c.Reason != want {
			t.Errorf("%s: condition %+v, want %s", obj.Name, c, want)
		}
	}
}

// Issue 19 item 4: a tenant's lifecycle rule stays inside a part of the bucket granted
// to its namespace. The attack: keyFormat /a$TAG on the platform's shared bucket.
func TestTenantS3RetentionStaysInsideItsGrantedPrefix(t *testing.T) {
	const role = "arn:aws:iam::123456789012:role/shop-logs"
	s3 := func(name, keyFormat string) *v1.LogOutput {
		return logOutput("shop", name, v1.OutputSpec{Type: v1.OutputS3, RetentionPolicy: "trace", S3: &v1.S3Output{
			Bucket: "shared-logs", KeyFormat: v1.ConfigString(keyFormat), AWS: v1.AWSAuth{Region: "eu-west-1", RoleArn: role}}})
	}
	inside := s3("inside", "/teams/shop/$TAG/%Y/%m/%d/$UUID")
	attack := s3("attack", "/a$TAG")
	grant := func(name, keyPrefix string) *v1.IdentityGrant {
		return &v1.IdentityGrant{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: v1.IdentityGrantSpec{
			NamespaceSelector: metav1.LabelSelector{MatchLabels: map[string]string{"team": "shop"}},
			Roles: []v1.RoleGrant{{RoleArn: role, Destinations: []v1.GrantedDestination{
				{Type: v1.AWSOutputType(v1.OutputS3), Name: "shared-logs", KeyPrefix: keyPrefix}}}}}}
	}
	shop := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "shop", Labels: map[string]string{"team": "shop"}}}

	t.Run("a keyPrefix grant", func(t *testing.T) {
		e := newEnv(t, nil, policy("trace", "30d", true), inside, attack, shop, grant("shop-folder", "teams/shop/"))
		if _, err := e.reconcile(t, "trace"); err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(e.dest.applied, ","); got != "LogOutput shop/inside=30d" {
			t.Errorf("applied %s; only the output inside teams/shop/ may have a rule", got)
		}
		c := e.outputCondition(t, attack)
		if c == nil || c.Reason != conditions.ReasonIdentityNotGranted || !strings.Contains(c.Message, `destinations: [{type: s3, name: "shared-logs"}]`) {
			t.Errorf("attack: %+v", c)
		}
	})
	t.Run("a whole-bucket grant sets no rule", func(t *testing.T) {
		e := newEnv(t, nil, policy("trace", "30d", true), inside.DeepCopy(), attack.DeepCopy(), shop.DeepCopy(), grant("shop-bucket", ""))
		if res, err := e.reconcile(t, "trace"); err != nil || res.RequeueAfter != DefaultInterval {
			t.Fatalf("%+v, %v; want no retry: the grant it waits for is watched", res, err)
		}
		if len(e.dest.applied) != 0 {
			t.Errorf("applied %v under a grant that names no keyPrefix", e.dest.applied)
		}
		states := map[string]v1.OutputRetention{}
		for _, o := range e.policy(t, "trace").Status.Outputs {
			states[o.Output.Name] = o
		}
		for name, ask := range map[string]string{"inside": `ask the platform team for keyPrefix: "teams/shop/" in that s3 destination`,
			"attack": `ask the platform team for a keyPrefix for a folder of its own in that destination, and a keyFormat that starts with it (the key prefix now is "a", in no folder)`} {
			o := states[name]
			if o.State != v1.RetentionPending || !strings.Contains(o.Message, "IdentityGrant shop-bucket lets the namespace write to bucket shared-logs") ||
				!strings.Contains(o.Message, ask) {
				t.Errorf("%s: %+v\nwant Pending asking %q", name, o, ask)
			}
		}
		if c := e.outputCondition(t, attack); c == nil || c.Reason != conditions.ReasonRetentionPrefixNotGranted {
			t.Errorf("attack: %+v", c)
		}
	})
}

// Issue 19 item 4: on a shared Amazon OpenSearch domain, a tenant's ISM policy stays
// inside the indices granted to its namespace. The attack: dailyIndexPrefix audit, the
// platform's indices.
func TestTenantOpenSearchRetentionStaysInsideItsGrantedIndices(t *testing.T) {
	const role = "arn:aws:iam::123456789012:role/shop-logs"
	search := func(name, prefix string) *v1.LogOutput {
		return logOutput("shop", name, v1.OutputSpec{Type: v1.OutputOpenSearch, RetentionPolicy: "trace", OpenSearch: &v1.OpenSearchOutput{
			Host: "search.shared", AWS: &v1.AWSAuth{Region: "eu-west-1", RoleArn: role}, SearchIndex: v1.SearchIndex{DailyIndexPrefix: prefix}}})
	}
	inside, attack := search("inside", "shop-web"), search("attack", "audit")
	grant := func(name, indexPrefix string) *v1.IdentityGrant {
		return &v1.IdentityGrant{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: v1.IdentityGrantSpec{
			NamespaceSelector: metav1.LabelSelector{MatchLabels: map[string]string{"team": "shop"}},
			Roles: []v1.RoleGrant{{RoleArn: role, Destinations: []v1.GrantedDestination{
				{Type: v1.AWSOutputType(v1.OutputOpenSearch), Name: "search.shared", IndexPrefix: indexPrefix}}}}}}
	}
	shop := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "shop", Labels: map[string]string{"team": "shop"}}}

	t.Run("an indexPrefix grant", func(t *testing.T) {
		e := newEnv(t, nil, policy("trace", "30d", true), inside, attack, shop, grant("shop-indices", "shop-"))
		if _, err := e.reconcile(t, "trace"); err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(e.dest.applied, ","); got != "LogOutput shop/inside=30d" {
			t.Errorf("applied %s; only the output inside shop- may have a policy", got)
		}
		c := e.outputCondition(t, attack)
		if c == nil || c.Reason != conditions.ReasonIdentityNotGranted || !strings.Contains(c.Message, `indexPrefix: "audit-"`) {
			t.Errorf("attack: %+v", c)
		}
	})
	t.Run("a whole-domain grant sets no policy", func(t *testing.T) {
		e := newEnv(t, nil, policy("trace", "30d", true), inside.DeepCopy(), attack.DeepCopy(), shop.DeepCopy(), grant("shop-domain", ""))
		if _, err := e.reconcile(t, "trace"); err != nil {
			t.Fatal(err)
		}
		if len(e.dest.applied) != 0 {
			t.Errorf("applied %v under a grant that names no indexPrefix", e.dest.applied)
		}
		for _, o := range e.policy(t, "trace").Status.Outputs {
			if o.State != v1.RetentionPending || !strings.Contains(o.Message, "IdentityGrant shop-domain lets the namespace write to OpenSearch host search.shared but names no indexPrefix") {
				t.Errorf("%s: %+v", o.Output.Name, o)
			}
		}
		if c := e.outputCondition(t, attack); c == nil || c.Reason != conditions.ReasonRetentionPrefixNotGranted {
			t.Errorf("attack: %+v", c)
		}
	})
}

// Issue 19 item 4: a log group with no retention keeps logs forever; 30 days without
// allowShortening would delete what is older, and is blocked.
func TestForeverGroupIsNotShortenedWithoutAllowShortening(t *testing.T) {
	cw := clusterOutput("errors", cloudWatch("trace"))
	e := newEnv(t, nil, policy("trace", "30d", false), cw)
	if _, err := e.reconcile(t, "trace"); err != nil {
		t.Fatal(err)
	}
	o := e.policy(t, "trace").Status.Outputs[0]
	if o.State != v1.RetentionShorteningBlocked || !strings.HasPrefix(o.Message, "The destination keeps logs forever (it has no retention of its own); RetentionPolicy trace asks for 30d.") {
		t.Errorf("%+v", o)
	}
	if len(e.dest.applied) != 0 {
		t.Errorf("applied %v", e.dest.applied)
	}
}
