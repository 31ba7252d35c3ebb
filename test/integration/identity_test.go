package integration

import (
	"context"
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/logplane/logplane/api/v1alpha1"
	"github.com/logplane/logplane/internal/alias"
	"github.com/logplane/logplane/internal/conditions"
)

// Issue 19, item 3: identity is granted, never inherited. Through the real API server
// and the running operator, a tenant's AWS outputs without keys of their own are
// refused until an IdentityGrant selecting their namespace hands them the role (for
// their destination): the agent's own identity, an ungranted role and a role granted
// for another bucket stay refused; a granted one renders, and is refused again when
// the namespace's label or the grant goes away. A refused output's retention is not
// applied either.
func TestIdentityIsGrantedNeverInherited(t *testing.T) {
	ctx := t.Context()
	const (
		nsName    = "identity-shop"
		shopRole  = "arn:aws:iam::123456789012:role/identity-shop"
		auditRole = "arn:aws:iam::123456789012:role/platform-audit"
		label     = "identity.logplane.dev/team"
	)
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: nsName, Labels: map[string]string{label: "shop"}}}
	policy := &v1.RetentionPolicy{ObjectMeta: metav1.ObjectMeta{Name: "identity-audit"}, Spec: v1.RetentionPolicySpec{Retention: "5y"}}
	s3 := func(name, bucket, role, policy string) *v1.LogOutput {
		return &v1.LogOutput{ObjectMeta: metav1.ObjectMeta{Namespace: nsName, Name: name}, Spec: v1.OutputSpec{Type: v1.OutputS3,
			RetentionPolicy: v1.ResourceName(policy), S3: &v1.S3Output{AWS: v1.AWSAuth{Region: "eu-west-1", RoleArn: role}, Bucket: bucket}}}
	}
	outputs := []*v1.LogOutput{
		s3("agent", "platform-audit", "", policy.Name),          // the agent's own identity
		s3("audit-role", "platform-audit", auditRole, ""),       // a role nobody granted the shop
		s3("shop", "identity-shop-logs", shopRole, policy.Name), // the shop's own role and bucket
	}
	objs := []client.Object{ns, policy}
	for _, o := range outputs {
		objs = append(objs, o, &v1.LogPipeline{ObjectMeta: metav1.ObjectMeta{Namespace: nsName, Name: o.Name}, Spec: v1.LogPipelineSpec{
			Input: v1.LogPipelineInput{Containers: &v1.ContainerSelection{}}, OutputRefs: []v1.ResourceName{v1.ResourceName(o.Name)}}})
	}
	create(t, objs...)
	grant := &v1.IdentityGrant{ObjectMeta: metav1.ObjectMeta{Name: "identity-shop"}, Spec: v1.IdentityGrantSpec{
		NamespaceSelector: metav1.LabelSelector{MatchLabels: map[string]string{label: "shop"}},
		Roles:             []v1.RoleGrant{{RoleArn: shopRole, Destinations: []v1.GrantedDestination{{Type: v1.AWSOutputType(v1.OutputS3), Name: "another-bucket"}}}}}}
	t.Cleanup(func() {
		for _, o := range append([]client.Object{grant}, objs...) {
			_ = k8s.Delete(context.Background(), o)
		}
	})

	// condition waits for the output's condition of type ct, for its current generation.
	condition := func(name, ct string, status metav1.ConditionStatus, reason string, says ...string) {
		t.Helper()
		eventually(t, fmt.Sprintf("%s %s %s %s", name, ct, status, reason), func() error {
			var got v1.LogOutput
			if err := k8s.Get(ctx, client.ObjectKey{Namespace: nsName, Name: name}, &got); err != nil {
				return err
			}
			c := meta.FindStatusCondition(got.Status.Conditions, ct)
			if c == nil || c.Status != status || c.Reason != reason || c.ObservedGeneration != got.Generation {
				return errString(fmt.Sprintf("%s %+v", ct, c))
			}
			if strings.Contains(c.Message, "pipeline ships") {
				return errString(fmt.Sprintf("an output's message speaks of a pipeline: %q", c.Message))
			}
			for _, s := range says {
				if !strings.Contains(c.Message, s) {
					return errString(fmt.Sprintf("message %q does not say %q", c.Message, s))
				}
			}
			return nil
		})
	}
	// shipped says whether the agent's configuration ships the output's pipeline.
	shipped := func(name string) bool {
		t.Helper()
		a := alias.Output{PipelineKind: alias.LogPipeline, Namespace: nsName, Pipeline: name, OutputKind: alias.LogOutput, Output: name}.Encode()
		in, err := agentConfigHolds(ctx, a)
		if err != nil {
			t.Fatal(err)
		}
		return in
	}
	refused := func(name, wants, ask string) {
		t.Helper()
		condition(name, conditions.TypeConfigGenerated, metav1.ConditionFalse, conditions.ReasonIdentityNotGranted,
			"namespace "+nsName+" use "+wants, "selects namespace "+nsName+" with "+ask)
	}
	agentRefused := func() {
		t.Helper()
		refused("agent", `the agent's own identity for s3 bucket "platform-audit"`, `agentIdentity: {destinations: [{type: s3, name: "platform-audit", keyPrefix: "logs/"}]}`)
	}
	auditRefused := func() {
		t.Helper()
		refused("audit-role", "role "+auditRole, `roles: [{roleArn: `+auditRole+`, destinations: [{type: s3, name: "platform-audit", keyPrefix: "logs/"}]}]`)
	}
	shopRefused := func(extra string) {
		t.Helper()
		refused("shop", "role "+shopRole+` for s3 bucket "identity-shop-logs"`+extra,
			`roles: [{roleArn: `+shopRole+`, destinations: [{type: s3, name: "identity-shop-logs", keyPrefix: "logs/"}]}]`)
	}
	shopRendered := func() {
		t.Helper()
		condition("shop", conditions.TypeConfigGenerated, metav1.ConditionTrue, conditions.ReasonConfigGenerated)
		eventually(t, "the agent ships the shop's output", func() error {
			if !shipped("shop") {
				return errString("not in the agent's configuration yet")
			}
			return nil
		})
	}
	shopOut := func() {
		t.Helper()
		eventually(t, "the agent no longer ships the shop's output", func() error {
			if shipped("shop") {
				return errString("still in the agent's configuration")
			}
			return nil
		})
	}
	neverShipped := func() {
		t.Helper()
		for _, name := range []string{"agent", "audit-role"} {
			if shipped(name) {
				t.Errorf("the agent ships %s/%s, which has no grant", nsName, name)
			}
		}
	}

	// No grant: every output without keys is refused, and says what to ask for.
	agentRefused()
	auditRefused()
	shopRefused("")
	// Their retention is not set with the operator's identity either: no applier is
	// even built for them.
	condition("agent", conditions.TypeRetentionEnforced, metav1.ConditionFalse, conditions.ReasonIdentityNotGranted, "agentIdentity")
	condition("shop", conditions.TypeRetentionEnforced, metav1.ConditionFalse, conditions.ReasonIdentityNotGranted, "roleArn: "+shopRole)
	neverShipped()

	// The role, granted for another bucket only.
	create(t, grant)
	shopRefused(" (namespace " + nsName + " has it for other destinations only)")

	// Granted for the shop's bucket: rendered; the others stay refused.
	eventually(t, "grant the shop's bucket", func() error {
		if err := k8s.Get(ctx, client.ObjectKeyFromObject(grant), grant); err != nil {
			return err
		}
		grant.Spec.Roles[0].Destinations = append(grant.Spec.Roles[0].Destinations, v1.GrantedDestination{Type: v1.AWSOutputType(v1.OutputS3), Name: "identity-shop-logs"})
		return k8s.Update(ctx, grant)
	})
	shopRendered()
	agentRefused()
	auditRefused()
	neverShipped()
	// The whole bucket, granted with no keyPrefix, ships but gets no lifecycle rule:
	// one could expire what others keep there.
	condition("shop", conditions.TypeRetentionEnforced, metav1.ConditionFalse, conditions.ReasonRetentionPrefixNotGranted,
		`IdentityGrant identity-shop lets the namespace write to bucket identity-shop-logs`, `keyPrefix: "logs/"`)
	if n := loopbackAppliers.count(alias.LogOutput, nsName, "shop"); n != 0 {
		t.Errorf("%d appliers built for an output with no granted keyPrefix", n)
	}
	eventually(t, "grant the shop a keyPrefix", func() error {
		if err := k8s.Get(ctx, client.ObjectKeyFromObject(grant), grant); err != nil {
			return err
		}
		grant.Spec.Roles[0].Destinations[1].KeyPrefix = "logs/"
		return k8s.Update(ctx, grant)
	})
	// The shop's retention is now tried with its granted role (the test's appliers
	// reach no real AWS, so it fails there); the agent's never is.
	eventually(t, "the shop's retention tried with the granted role", func() error {
		var got v1.LogOutput
		if err := k8s.Get(ctx, client.ObjectKeyFromObject(outputs[2]), &got); err != nil {
			return err
		}
		// Not the refusals of the steps before: the grant and its keyPrefix now hold.
		if c := meta.FindStatusCondition(got.Status.Conditions, conditions.TypeRetentionEnforced); c == nil ||
			c.Reason == conditions.ReasonIdentityNotGranted || c.Reason == conditions.ReasonRetentionPrefixNotGranted {
			return errString(fmt.Sprintf("RetentionEnforced %+v", c))
		}
		if loopbackAppliers.count(alias.LogOutput, nsName, "shop") == 0 {
			return errString("no applier built for the granted output")
		}
		return nil
	})
	if n := loopbackAppliers.count(alias.LogOutput, nsName, "agent"); n != 0 {
		t.Errorf("%d appliers built for an output with no grant", n)
	}

	// The namespace loses the label the grant selects: the grant no longer applies.
	relabel := func(value string) {
		t.Helper()
		eventually(t, "relabel the namespace", func() error {
			if err := k8s.Get(ctx, client.ObjectKeyFromObject(ns), ns); err != nil {
				return err
			}
			ns.Labels[label] = value
			return k8s.Update(ctx, ns)
		})
	}
	relabel("billing")
	shopRefused("")
	shopOut()
	relabel("shop")
	shopRendered()

	// The grant is removed: refused again.
	if err := k8s.Delete(ctx, grant); err != nil {
		t.Fatal(err)
	}
	shopRefused("")
	shopOut()
	neverShipped()
}

// The API server refuses grants that grant nothing or name a destination ambiguously.
func TestIdentityGrantValidation(t *testing.T) {
	grant := func(spec string) string {
		return "apiVersion: logging.logplane.dev/v1alpha1\nkind: IdentityGrant\nmetadata: {name: g}\nspec:\n" + indent(spec)
	}
	const selector = "namespaceSelector: {matchLabels: {team: shop}}\n"
	for _, tc := range []struct {
		spec, refusal string
	}{
		{selector, "grant at least one role or agentIdentity"},
		{selector + "roles: []", "grant at least one role or agentIdentity"},
		{"roles: [{roleArn: arn:aws:iam::123456789012:role/r}]", "spec.namespaceSelector: Required value"},
		{selector + "roles: [{roleArn: 'arn:aws:iam::1:role/r'}]", "must be an IAM role ARN"},
		{selector + "roles: [{roleArn: arn:aws:iam::123456789012:role/r, destinations: [{type: s3, name: b, namePrefix: b}]}]",
			"set exactly one of name and namePrefix"},
		{selector + "roles: [{roleArn: arn:aws:iam::123456789012:role/r, destinations: [{type: s3}]}]", "set exactly one of name and namePrefix"},
		{selector + "agentIdentity: {destinations: [{type: loki, name: l}]}", "Unsupported value: \"loki\""},
		{selector + "agentIdentity: {destinations: [{type: cloudwatchLogs, name: g, keyPrefix: teams/shop/}]}", "keyPrefix applies to s3 destinations only"},
		{selector + "agentIdentity: {destinations: [{type: s3, name: b, keyPrefix: teams/shop}]}", "must be a folder of object keys"},
		{selector + "agentIdentity: {destinations: [{type: s3, name: b, keyPrefix: /teams/shop/}]}", "must be a folder of object keys"},
		{selector + "agentIdentity: {destinations: [{type: s3, name: b, indexPrefix: shop-}]}", "indexPrefix applies to opensearch destinations only"},
		{selector + "agentIdentity: {destinations: [{type: opensearch, name: h, indexPrefix: shop}]}", "must be the start of index names ending in -"},
		{selector + "agentIdentity: {destinations: [{type: opensearch, name: h, indexPrefix: Shop-}]}", "must be the start of index names ending in -"},
		{selector + "roles: [{roleArn: arn:aws:iam::123456789012:role/r}, {roleArn: arn:aws:iam::123456789012:role/r}]", "duplicate entries"},
	} {
		err := applyYAML(t, grant(tc.spec))
		if err == nil || !strings.Contains(err.Error(), tc.refusal) {
			t.Errorf("%s: got %v, want a refusal saying %q", tc.spec, err, tc.refusal)
		}
	}
	for _, spec := range []string{
		selector + "agentIdentity: {}",
		selector + "roles: [{roleArn: arn:aws:iam::123456789012:role/r, destinations: [{type: cloudwatchLogs, namePrefix: /shop/}, {type: s3, name: shop-logs}]}]",
		selector + "roles: [{roleArn: arn:aws:iam::123456789012:role/r, destinations: [{type: s3, name: shared-logs, keyPrefix: teams/shop/}]}]",
		selector + "roles: [{roleArn: arn:aws:iam::123456789012:role/r, destinations: [{type: opensearch, name: search.shared, indexPrefix: shop-}]}]",
	} {
		if err := applyYAML(t, grant(spec)); err != nil {
			t.Errorf("%s: refused: %v", spec, err)
		}
	}
}
