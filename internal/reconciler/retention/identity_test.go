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
