package render

import (
	"slices"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/logplane/logplane/api/v1alpha1"
	"github.com/logplane/logplane/internal/alias"
	"github.com/logplane/logplane/internal/conditions"
	"github.com/logplane/logplane/internal/snapshot"
)

// Tenant AWS outputs without keys of their own render only with a grant; the platform's
// ClusterLogOutput to the same place and a tenant output with its own keys render
// regardless (internal/identity has the rule's table).
func TestIdentityGrantsGateTenantOutputs(t *testing.T) {
	const shopRole = "arn:aws:iam::123456789012:role/shop-logs"
	s3 := func(bucket, role string, keys bool) v1.OutputSpec {
		a := v1.AWSAuth{Region: "eu-west-1", RoleArn: role}
		if keys {
			a.Credentials = &v1.AWSCredentials{AccessKeyID: v1.SecretKeyRef{Name: "aws", Key: "id"},
				SecretAccessKey: v1.SecretKeyRef{Name: "aws", Key: "secret"}}
		}
		return v1.OutputSpec{Type: v1.OutputS3, S3: &v1.S3Output{AWS: a, Bucket: bucket, KeyFormat: "/logs/$TAG"}}
	}
	s := &snapshot.Snapshot{OperatorNamespace: "logplane-system", Salt: testSalt,
		Namespaces: []snapshot.Namespace{{Name: "shop", Labels: map[string]string{"team": "shop"}}, {Name: "billing"}},
		Grants: []v1.IdentityGrant{{ObjectMeta: metav1.ObjectMeta{Name: "shop"}, Spec: v1.IdentityGrantSpec{
			NamespaceSelector: metav1.LabelSelector{MatchLabels: map[string]string{"team": "shop"}},
			Roles:             []v1.RoleGrant{{RoleArn: shopRole, Destinations: []v1.GrantedDestination{{Type: v1.AWSOutputType(v1.OutputS3), Name: "shop-logs"}}}}}}},
		Secrets: []snapshot.Secret{snapshot.NewSecret("shop", "aws", map[string][]byte{
			"id": []byte("AKIAI44QH8DHBEXAMPLE"), "secret": []byte("je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY")})},
		ClusterOutputs: []v1.ClusterLogOutput{{ObjectMeta: metav1.ObjectMeta{Name: "audit"},
			Spec: v1.ClusterLogOutputSpec{OutputSpec: s3("platform-audit", "", false)}}},
		ClusterPipelines: []v1.ClusterLogPipeline{{ObjectMeta: metav1.ObjectMeta{Name: "audit"}, Spec: v1.ClusterLogPipelineSpec{
			Input: v1.ClusterLogPipelineInput{Containers: &v1.ClusterContainerInput{}}, ClusterOutputRefs: []v1.ResourceName{"audit"}}}},
	}
	outputs := []struct {
		namespace, name string
		spec            v1.OutputSpec
		granted         bool
	}{
		{"shop", "granted", s3("shop-logs", shopRole, false), true},
		{"shop", "own-keys", s3("platform-audit", "arn:aws:iam::123456789012:role/anything", true), true},
		{"shop", "agent", s3("platform-audit", "", false), false},
		{"shop", "other-role", s3("shop-logs", "arn:aws:iam::123456789012:role/platform-audit", false), false},
		{"shop", "other-bucket", s3("platform-audit", shopRole, false), false},
		{"billing", "copy", s3("shop-logs", shopRole, false), false},
	}
	for _, o := range outputs {
		s.Outputs = append(s.Outputs, v1.LogOutput{ObjectMeta: metav1.ObjectMeta{Namespace: o.namespace, Name: o.name}, Spec: o.spec})
		s.Pipelines = append(s.Pipelines, v1.LogPipeline{ObjectMeta: metav1.ObjectMeta{Namespace: o.namespace, Name: o.name},
			Spec: v1.LogPipelineSpec{Input: v1.LogPipelineInput{Containers: &v1.ContainerSelection{}},
				OutputRefs: []v1.ResourceName{v1.ResourceName(o.name)}}})
	}
	res := Render(s)

	want := []Ref{{Kind: alias.ClusterLogPipeline, Name: "audit"}}
	for _, o := range outputs {
		ref := Ref{Kind: alias.LogOutput, Namespace: o.namespace, Name: o.name}
		var got []Problem
		for _, p := range res.Problems {
			if p.Ref == ref {
				got = append(got, p)
			}
		}
		switch {
		case o.granted && len(got) > 0:
			t.Errorf("%s: %v", ref, got)
		case !o.granted && (len(got) != 1 || got[0].Reason != conditions.ReasonIdentityNotGranted || got[0].Warning ||
			!strings.Contains(got[0].Message, "namespace "+o.namespace+" ")):
			t.Errorf("%s: %v, want one IdentityNotGranted naming namespace %s", ref, got, o.namespace)
		}
		if o.granted {
			want = append(want, Ref{Kind: alias.LogPipeline, Namespace: o.namespace, Name: o.name})
		}
	}
	slices.SortFunc(want, compareRefs)
	if got := res.Agents[0].Pipelines; !slices.Equal(got, want) {
		t.Errorf("rendered pipelines %v, want %v", got, want)
	}
	var cfg strings.Builder
	for _, f := range res.Agents[0].Files {
		cfg.Write(f.Content)
	}
	if strings.Contains(cfg.String(), "role/platform-audit") {
		t.Errorf("an ungranted role reached the configuration:\n%s", cfg.String())
	}
}

// BenchmarkRenderIdentity prices the grant rule: 2,000 pipelines whose 2,000 outputs
// are CloudWatch Logs groups written through a per-namespace role, each role granted by
// one of 200 grants (one per namespace, selected by name, restricted to the team's
// group prefix), against the same fleet where the grants are not consulted (one grant
// for every namespace and role, with no destination restriction, comes first).
func BenchmarkRenderIdentity(b *testing.B) {
	s := fleet(2000)
	for i := range s.Outputs {
		o := &s.Outputs[i]
		ns := o.Namespace
		o.Spec = v1.OutputSpec{Type: v1.OutputCloudWatchLogs, CloudWatchLogs: &v1.CloudWatchLogsOutput{
			AWS:          v1.AWSAuth{Region: "eu-west-1", RoleArn: "arn:aws:iam::123456789012:role/" + ns},
			LogGroupName: "/" + ns + "/" + o.Name, LogStreamPrefix: ptr(v1.ConfigString("pod-"))}}
	}
	for i := range s.Namespaces {
		ns := &s.Namespaces[i]
		ns.Labels = map[string]string{"logging": "central", "kubernetes.io/metadata.name": ns.Name}
		s.Grants = append(s.Grants, v1.IdentityGrant{ObjectMeta: metav1.ObjectMeta{Name: ns.Name}, Spec: v1.IdentityGrantSpec{
			NamespaceSelector: metav1.LabelSelector{MatchLabels: map[string]string{"kubernetes.io/metadata.name": ns.Name}},
			Roles: []v1.RoleGrant{{RoleArn: "arn:aws:iam::123456789012:role/" + ns.Name,
				Destinations: []v1.GrantedDestination{{Type: v1.AWSOutputType(v1.OutputCloudWatchLogs), NamePrefix: "/" + ns.Name + "/"}}}}}})
	}
	if res := Render(s); len(res.Problems) > 0 || len(res.Agents[0].Pipelines) != 2000 {
		b.Fatalf("%d problems (%v), %d pipelines", len(res.Problems), res.Problems[0], len(res.Agents[0].Pipelines))
	}
	b.Run("grants=200", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			Render(s)
		}
	})
	open := *s
	open.Grants = []v1.IdentityGrant{{ObjectMeta: metav1.ObjectMeta{Name: "all"}, Spec: v1.IdentityGrantSpec{
		NamespaceSelector: metav1.LabelSelector{MatchLabels: map[string]string{"logging": "central"}}}}}
	for _, ns := range s.Namespaces {
		open.Grants[0].Spec.Roles = append(open.Grants[0].Spec.Roles, v1.RoleGrant{RoleArn: "arn:aws:iam::123456789012:role/" + ns.Name})
	}
	b.Run("grants=1", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			Render(&open)
		}
	})
}
