package integration

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/logplane/logplane/api/v1alpha1"
	"github.com/logplane/logplane/internal/conditions"
	retentionreconciler "github.com/logplane/logplane/internal/reconciler/retention"
	"github.com/logplane/logplane/internal/retention"
)

func init() {
	// Without static keys the SDK's default chain would probe the instance metadata
	// address; nothing here may leave the machine.
	_ = os.Setenv("AWS_EC2_METADATA_DISABLED", "true")
}

// loopbackAppliers is the manager's applier factory in these tests: the real appliers,
// but only towards destinations on this machine. The samples other tests apply name
// real AWS and search endpoints; they fail here instead of being called.
var loopbackAppliers = &appliers{built: map[string]int{}}

type appliers struct {
	mu    sync.Mutex
	built map[string]int
	// fakes maps the host of an endpoint the outputs name (as Fluent Bit would reach
	// it: https, port 443) to the test's fake of that service on loopback.
	fakes map[string]string
}

// fake makes outputs whose endpoint is https://host reach url (a loopback fake) when
// the operator applies their retention.
func (a *appliers) fake(host, url string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.fakes == nil {
		a.fakes = map[string]string{}
	}
	a.fakes[host] = url
}

func (a *appliers) build(ctx context.Context, t retention.Target, secret retention.SecretValue) (retention.Applier, error) {
	a.mu.Lock()
	a.built[t.Output.Kind+" "+t.Output.Namespace+"/"+t.Output.Name]++
	a.mu.Unlock()
	var endpoint string
	switch {
	case t.Spec.CloudWatchLogs != nil && t.Spec.CloudWatchLogs.AWS.Endpoint != nil:
		endpoint = string(*t.Spec.CloudWatchLogs.AWS.Endpoint)
		if u, err := url.Parse(endpoint); err == nil && a.fakeFor(u.Hostname()) != "" {
			endpoint = a.fakeFor(u.Hostname())
			t.Spec = t.Spec.DeepCopy()
			t.Spec.CloudWatchLogs.AWS.Endpoint = ptr(v1.EndpointURL(endpoint))
		}
	case t.Spec.S3 != nil && t.Spec.S3.AWS.Endpoint != nil:
		endpoint = string(*t.Spec.S3.AWS.Endpoint)
	case t.Spec.OpenSearch != nil:
		endpoint = "http://" + net.JoinHostPort(string(t.Spec.OpenSearch.Host), fmt.Sprint(t.Spec.OpenSearch.Port))
	}
	u, err := url.Parse(endpoint)
	if err != nil || u.Hostname() == "" || !net.ParseIP(u.Hostname()).IsLoopback() {
		return nil, fmt.Errorf("test: %s is not reachable from the test (only loopback endpoints are)", endpoint)
	}
	return retention.NewApplier(ctx, t, secret)
}

func (a *appliers) fakeFor(host string) string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.fakes[host]
}

func (a *appliers) count(kind, namespace, name string) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.built[kind+" "+namespace+"/"+name]
}

// cloudWatchLogs emulates the CloudWatch Logs API (JSON 1.1) with log groups in memory.
type cloudWatchLogs struct {
	mu      sync.Mutex
	groups  map[string]*int32
	keyIDs  []string // access key IDs that signed requests
	server  *httptest.Server
	missing []string
}

func newCloudWatchLogs(t *testing.T, groups map[string]*int32) *cloudWatchLogs {
	f := &cloudWatchLogs{groups: groups}
	f.server = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.server.Close)
	return f
}

func (f *cloudWatchLogs) serve(w http.ResponseWriter, r *http.Request) {
	var in struct {
		LogGroupNamePrefix string `json:"logGroupNamePrefix"`
		LogGroupName       string `json:"logGroupName"`
		RetentionInDays    int32  `json:"retentionInDays"`
	}
	body, _ := io.ReadAll(r.Body)
	_ = json.Unmarshal(body, &in)
	f.mu.Lock()
	defer f.mu.Unlock()
	auth := r.Header.Get("Authorization")
	if id, ok := strings.CutPrefix(auth, "AWS4-HMAC-SHA256 Credential="); ok {
		f.keyIDs = append(f.keyIDs, strings.Split(id, "/")[0])
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	switch r.Header.Get("X-Amz-Target") {
	case "Logs_20140328.DescribeLogGroups":
		type group struct {
			Name      string `json:"logGroupName"`
			Retention *int32 `json:"retentionInDays,omitempty"`
		}
		out := struct {
			LogGroups []group `json:"logGroups"`
		}{LogGroups: []group{}}
		for name, days := range f.groups {
			if strings.HasPrefix(name, in.LogGroupNamePrefix) {
				out.LogGroups = append(out.LogGroups, group{Name: name, Retention: days})
			}
		}
		slices.SortFunc(out.LogGroups, func(a, b group) int { return strings.Compare(a.Name, b.Name) })
		_ = json.NewEncoder(w).Encode(out)
	case "Logs_20140328.PutRetentionPolicy":
		if _, ok := f.groups[in.LogGroupName]; !ok {
			w.WriteHeader(400)
			_, _ = io.WriteString(w, `{"__type":"ResourceNotFoundException","message":"The specified log group does not exist."}`)
			return
		}
		days := in.RetentionInDays
		f.groups[in.LogGroupName] = &days
		_, _ = io.WriteString(w, `{}`)
	default:
		w.WriteHeader(400)
		_, _ = io.WriteString(w, `{"__type":"UnknownOperationException"}`)
	}
}

func (f *cloudWatchLogs) retention(group string) (int32, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	d := f.groups[group]
	if d == nil {
		return 0, false
	}
	return *d, true
}

// s3Lifecycle emulates one bucket's lifecycle configuration API (REST-XML).
type s3Lifecycle struct {
	mu     sync.Mutex
	bucket string
	config string // the stored XML document; "" for none
	server *httptest.Server
}

func newS3Lifecycle(t *testing.T, bucket, config string) *s3Lifecycle {
	f := &s3Lifecycle{bucket: bucket, config: config}
	f.server = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.server.Close)
	return f
}

func (f *s3Lifecycle) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	defer f.mu.Unlock()
	if r.URL.Path != "/"+f.bucket || !r.URL.Query().Has("lifecycle") {
		w.WriteHeader(404)
		_, _ = io.WriteString(w, `<Error><Code>NoSuchBucket</Code><Message>The specified bucket does not exist</Message></Error>`)
		return
	}
	w.Header().Set("Content-Type", "application/xml")
	switch r.Method {
	case http.MethodGet:
		if f.config == "" {
			w.WriteHeader(404)
			_, _ = io.WriteString(w, `<Error><Code>NoSuchLifecycleConfiguration</Code><Message>The lifecycle configuration does not exist</Message></Error>`)
			return
		}
		_, _ = io.WriteString(w, f.config)
	case http.MethodPut:
		f.config = string(body)
	case http.MethodDelete:
		f.config = ""
		w.WriteHeader(http.StatusNoContent)
	}
}

type lifecycleRule struct {
	ID     string `xml:"ID"`
	Prefix string `xml:"Filter>Prefix"`
	Days   int    `xml:"Expiration>Days"`
	Status string `xml:"Status"`
}

func (f *s3Lifecycle) rules(t *testing.T) []lifecycleRule {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.config == "" {
		return nil
	}
	var doc struct {
		Rules []lifecycleRule `xml:"Rule"`
	}
	if err := xml.Unmarshal([]byte(f.config), &doc); err != nil {
		t.Fatalf("stored lifecycle configuration is not XML: %v", err)
	}
	return doc.Rules
}

func retentionOf(ctx context.Context, policy, kind, namespace, name string) (v1.OutputRetention, error) {
	var p v1.RetentionPolicy
	if err := k8s.Get(ctx, client.ObjectKey{Name: policy}, &p); err != nil {
		return v1.OutputRetention{}, err
	}
	if p.Status.ObservedGeneration != p.Generation {
		return v1.OutputRetention{}, errString("status describes an older generation")
	}
	for _, o := range p.Status.Outputs {
		if o.Output == (v1.ObjectReference{Kind: kind, Namespace: namespace, Name: name}) {
			return o, nil
		}
	}
	return v1.OutputRetention{}, errString(fmt.Sprintf("%s %s/%s not in status yet: %+v", kind, namespace, name, p.Status.Outputs))
}

// waitForRetention waits until the policy reports state (and effective) for the output.
func waitForRetention(t *testing.T, policy, kind, namespace, name string, state v1.RetentionState, effective string) v1.OutputRetention {
	t.Helper()
	var got v1.OutputRetention
	eventually(t, fmt.Sprintf("%s at %s %s/%s", state, kind, namespace, name), func() error {
		o, err := retentionOf(t.Context(), policy, kind, namespace, name)
		if err != nil {
			return err
		}
		if o.State != state || o.EffectiveRetention != effective {
			return errString(fmt.Sprintf("state %s effective %q: %s", o.State, o.EffectiveRetention, o.Message))
		}
		got = o
		return nil
	})
	return got
}

// waitForOutputCondition waits for the output's own RetentionEnforced condition.
func waitForOutputCondition(t *testing.T, obj client.Object, status metav1.ConditionStatus, reason string) {
	t.Helper()
	eventually(t, obj.GetName()+" RetentionEnforced="+string(status)+" "+reason, func() error {
		if err := k8s.Get(t.Context(), client.ObjectKeyFromObject(obj), obj); err != nil {
			return err
		}
		var conds []metav1.Condition
		switch o := obj.(type) {
		case *v1.LogOutput:
			conds = o.Status.Conditions
		case *v1.ClusterLogOutput:
			conds = o.Status.Conditions
		}
		c := meta.FindStatusCondition(conds, conditions.TypeRetentionEnforced)
		if c == nil || c.Status != status || c.Reason != reason || c.ObservedGeneration != obj.GetGeneration() {
			return errString(fmt.Sprintf("condition %+v", c))
		}
		return nil
	})
}

func create(t *testing.T, objs ...client.Object) {
	t.Helper()
	for _, o := range objs {
		if err := k8s.Create(t.Context(), o); err != nil {
			t.Fatal(err)
		}
	}
}

func awsKeys(namespace string) *corev1.Secret {
	return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: "retention-aws"},
		StringData: map[string]string{"id": "AKIDRETENTIONTEST", "secret": "c2VjcmV0"}}
}

func awsAuth(endpoint string) v1.AWSAuth {
	return v1.AWSAuth{Region: "eu-west-1", Endpoint: ptr(v1.EndpointURL(endpoint)), Credentials: &v1.AWSCredentials{
		AccessKeyID:     v1.SecretKeyRef{Name: "retention-aws", Key: "id"},
		SecretAccessKey: v1.SecretKeyRef{Name: "retention-aws", Key: "secret"}}}
}

func TestRetentionEnforcedAtDestinations(t *testing.T) {
	const ns = "team-retention"
	ensureNamespace(t, ns)
	logs := newCloudWatchLogs(t, map[string]*int32{"/it/audit": nil, "/it/trace": ptr(int32(400)), "/it/audit-old": ptr(int32(1))})
	create(t, awsKeys(ns), awsKeys(operatorNamespace))

	// CloudWatch Logs endpoints are https://host to Fluent Bit (the API refuses a port):
	// the operator's applier reaches this one at the fake.
	loopbackAppliers.fake("logs.retention.test", logs.server.URL)
	cwOutput := func(name, group, policy string) *v1.LogOutput {
		return &v1.LogOutput{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Spec: v1.OutputSpec{
			Type: v1.OutputCloudWatchLogs, RetentionPolicy: v1.ResourceName(policy), CloudWatchLogs: &v1.CloudWatchLogsOutput{
				AWS: awsAuth("https://logs.retention.test"), LogGroupName: group, LogStreamPrefix: ptr(v1.ConfigString("app-"))}}}
	}

	t.Run("a policy is enforced with the value the destination accepts", func(t *testing.T) {
		audit := cwOutput("audit", "/it/audit", "it-audit")
		policy := &v1.RetentionPolicy{ObjectMeta: metav1.ObjectMeta{Name: "it-audit"}, Spec: v1.RetentionPolicySpec{Retention: "5y"}}
		create(t, policy, audit)
		// The group keeps logs forever: any limit deletes what is older.
		o := waitForRetention(t, "it-audit", "LogOutput", ns, "audit", v1.RetentionShorteningBlocked, "")
		if !strings.Contains(o.Message, "keeps logs forever") {
			t.Errorf("message %q", o.Message)
		}
		if _, set := logs.retention("/it/audit"); set {
			t.Fatal("a group that never expired got a retention without allowShortening")
		}
		base := policy.DeepCopy()
		policy.Spec.AllowShortening = true
		if err := k8s.Patch(t.Context(), policy, client.MergeFrom(base)); err != nil {
			t.Fatal(err)
		}
		o = waitForRetention(t, "it-audit", "LogOutput", ns, "audit", v1.RetentionEnforced, "1827d")
		if !strings.Contains(o.Message, "5y, rounded up to 1827d") || o.LastApplied == nil {
			t.Errorf("rounding or time not reported: %+v", o)
		}
		if days, _ := logs.retention("/it/audit"); days != 1827 {
			t.Errorf("group keeps %d days", days)
		}
		if days, _ := logs.retention("/it/audit-old"); days != 1 {
			t.Errorf("a group sharing the prefix was changed to %d days", days)
		}
		if !slices.Contains(logs.keyIDs, "AKIDRETENTIONTEST") {
			t.Errorf("requests not signed with the output's Secret: %v", logs.keyIDs)
		}
		waitForOutputCondition(t, audit, metav1.ConditionTrue, conditions.ReasonRetentionEnforced)
	})

	t.Run("shortening is blocked until the policy allows it", func(t *testing.T) {
		trace := cwOutput("trace", "/it/trace", "it-trace")
		policy := &v1.RetentionPolicy{ObjectMeta: metav1.ObjectMeta{Name: "it-trace"}, Spec: v1.RetentionPolicySpec{Retention: "30d"}}
		create(t, policy, trace)
		o := waitForRetention(t, "it-trace", "LogOutput", ns, "trace", v1.RetentionShorteningBlocked, "")
		if !strings.Contains(o.Message, "keeps logs for 400d") || !strings.Contains(o.Message, "asks for 30d") {
			t.Errorf("message lacks the current and requested values: %q", o.Message)
		}
		waitForOutputCondition(t, trace, metav1.ConditionFalse, conditions.ReasonShorteningBlocked)
		if days, _ := logs.retention("/it/trace"); days != 400 {
			t.Fatalf("retention shortened to %d without allowShortening", days)
		}
		base := policy.DeepCopy()
		policy.Spec.AllowShortening = true
		if err := k8s.Patch(t.Context(), policy, client.MergeFrom(base)); err != nil {
			t.Fatal(err)
		}
		waitForRetention(t, "it-trace", "LogOutput", ns, "trace", v1.RetentionEnforced, "30d")
		if days, _ := logs.retention("/it/trace"); days != 30 {
			t.Errorf("group keeps %d days after allowShortening", days)
		}
		waitForOutputCondition(t, trace, metav1.ConditionTrue, conditions.ReasonRetentionEnforced)
	})

	t.Run("S3 keeps the bucket's other rules", func(t *testing.T) {
		bucket := newS3Lifecycle(t, "it-logs", `<?xml version="1.0" encoding="UTF-8"?>
<LifecycleConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Rule><ID>archive-to-glacier</ID><Filter><Prefix>billing/</Prefix></Filter><Status>Enabled</Status><Transition><Days>30</Days><StorageClass>GLACIER</StorageClass></Transition></Rule></LifecycleConfiguration>`)
		access := &v1.ClusterLogOutput{ObjectMeta: metav1.ObjectMeta{Name: "it-access-archive"}, Spec: v1.ClusterLogOutputSpec{OutputSpec: v1.OutputSpec{
			Type: v1.OutputS3, RetentionPolicy: "it-access", S3: &v1.S3Output{AWS: awsAuth(bucket.server.URL), Bucket: "it-logs",
				KeyFormat: "/access/$TAG/%Y/%m/%d/$UUID"}}}}
		create(t, &v1.RetentionPolicy{ObjectMeta: metav1.ObjectMeta{Name: "it-access"}, Spec: v1.RetentionPolicySpec{Retention: "1y", AllowShortening: true}}, access)
		waitForRetention(t, "it-access", "ClusterLogOutput", "", "it-access-archive", v1.RetentionEnforced, "365d")
		want := []lifecycleRule{
			{ID: "archive-to-glacier", Prefix: "billing/", Status: "Enabled"},
			{ID: "logplane-clo.it-access-archive", Prefix: "access/", Days: 365, Status: "Enabled"},
		}
		assertEqual(t, bucket.rules(t), want)
		waitForOutputCondition(t, access, metav1.ConditionTrue, conditions.ReasonRetentionEnforced)
	})

	t.Run("Loki is reported Unsupported and never called", func(t *testing.T) {
		lk := &v1.LogOutput{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "loki"}, Spec: v1.OutputSpec{
			Type: v1.OutputLoki, RetentionPolicy: "it-trace", Loki: &v1.LokiOutput{Host: "loki.monitoring"}}}
		create(t, lk)
		o := waitForRetention(t, "it-trace", "LogOutput", ns, "loki", v1.RetentionUnsupported, "")
		if !strings.Contains(o.Message, "loki destinations have no retention setting") {
			t.Errorf("message %q", o.Message)
		}
		waitForOutputCondition(t, lk, metav1.ConditionFalse, conditions.ReasonRetentionUnsupported)
		if n := loopbackAppliers.count("LogOutput", ns, "loki"); n != 0 {
			t.Errorf("an applier was built %d times for Loki", n)
		}
		// Unsupported outputs do not make the policy unready: nothing can change them.
		eventually(t, "it-trace Ready", func() error {
			var p v1.RetentionPolicy
			if err := k8s.Get(t.Context(), client.ObjectKey{Name: "it-trace"}, &p); err != nil {
				return err
			}
			if c := meta.FindStatusCondition(p.Status.Conditions, conditions.TypeReady); c == nil || c.Status != metav1.ConditionTrue {
				return errString(fmt.Sprintf("Ready %+v", c))
			}
			return nil
		})
	})

	t.Run("deleting a policy leaves the destination as it is", func(t *testing.T) {
		if err := k8s.Delete(t.Context(), &v1.RetentionPolicy{ObjectMeta: metav1.ObjectMeta{Name: "it-audit"}}); err != nil {
			t.Fatal(err)
		}
		audit := &v1.LogOutput{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "audit"}}
		waitForOutputCondition(t, audit, metav1.ConditionFalse, conditions.ReasonRetentionPolicyNotFound)
		if days, _ := logs.retention("/it/audit"); days != 1827 {
			t.Errorf("group keeps %d days after the policy was deleted", days)
		}
	})
}

// TestRetentionNeverShortensOthersData runs the attacks of issue 19 item 5 through the
// operator and a real API server: a tenant output on the platform's shared bucket with
// keyFormat /a$TAG (whose prefix "a" reaches audit/) and a 30-day policy, while the
// platform keeps audit/ five years, is refused with both rules named and the bucket
// left as it was; an output beside it gets its rule, and deleting that output removes
// the rule and nothing else; deleting the policy changes nothing.
func TestRetentionNeverShortensOthersData(t *testing.T) {
	const ns = "team-shortening"
	ensureNamespace(t, ns)
	const platform = `<?xml version="1.0" encoding="UTF-8"?>
<LifecycleConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Rule><ID>platform-audit-5y</ID><Filter><Prefix>audit/</Prefix></Filter><Status>Enabled</Status><Expiration><Days>1825</Days></Expiration></Rule></LifecycleConfiguration>`
	bucket := newS3Lifecycle(t, "it-shared", platform)
	create(t, awsKeys(ns))
	s3 := func(name, keyFormat string) *v1.LogOutput {
		return &v1.LogOutput{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Spec: v1.OutputSpec{
			Type: v1.OutputS3, RetentionPolicy: "it-shortening", S3: &v1.S3Output{AWS: awsAuth(bucket.server.URL), Bucket: "it-shared",
				KeyFormat: v1.ConfigString(keyFormat)}}}
	}
	// allowShortening: not even a policy that may shorten cuts someone else's data.
	policy := &v1.RetentionPolicy{ObjectMeta: metav1.ObjectMeta{Name: "it-shortening"}, Spec: v1.RetentionPolicySpec{Retention: "30d", AllowShortening: true}}
	attack := s3("attack", "/a$TAG")
	create(t, policy, attack)

	o := waitForRetention(t, "it-shortening", "LogOutput", ns, "attack", v1.RetentionConflict, "")
	for _, want := range []string{`rule "logplane-lo.team-shortening.attack" (prefix "a", 30d)`, `rule "platform-audit-5y" (prefix "audit/", 1825d)`} {
		if !strings.Contains(o.Message, want) {
			t.Errorf("message %q does not name %s", o.Message, want)
		}
	}
	waitForOutputCondition(t, attack, metav1.ConditionFalse, conditions.ReasonRetentionConflict)
	bucket.mu.Lock()
	unchanged := bucket.config == platform
	bucket.mu.Unlock()
	if !unchanged {
		t.Fatalf("the bucket's configuration changed: %+v", bucket.rules(t))
	}

	beside := s3("beside", "/teams/shortening/$TAG/%Y/%m/%d/$UUID")
	create(t, beside)
	waitForRetention(t, "it-shortening", "LogOutput", ns, "beside", v1.RetentionEnforced, "30d")
	assertEqual(t, bucket.rules(t), []lifecycleRule{
		{ID: "platform-audit-5y", Prefix: "audit/", Days: 1825, Status: "Enabled"},
		{ID: "logplane-lo.team-shortening.beside", Prefix: "teams/shortening/", Days: 30, Status: "Enabled"},
	})
	if err := k8s.Get(t.Context(), client.ObjectKeyFromObject(beside), beside); err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(beside.Finalizers, retentionreconciler.Finalizer) {
		t.Errorf("finalizers %v: the rule would outlive its output", beside.Finalizers)
	}

	t.Run("deleting the policy changes nothing", func(t *testing.T) {
		if err := k8s.Delete(t.Context(), policy); err != nil {
			t.Fatal(err)
		}
		waitForOutputCondition(t, beside, metav1.ConditionFalse, conditions.ReasonRetentionPolicyNotFound)
		assertEqual(t, bucket.rules(t), []lifecycleRule{
			{ID: "platform-audit-5y", Prefix: "audit/", Days: 1825, Status: "Enabled"},
			{ID: "logplane-lo.team-shortening.beside", Prefix: "teams/shortening/", Days: 30, Status: "Enabled"},
		})
	})

	t.Run("deleting the output removes its rule and nothing else", func(t *testing.T) {
		if err := k8s.Delete(t.Context(), beside); err != nil {
			t.Fatal(err)
		}
		eventually(t, "the output gone", func() error {
			err := k8s.Get(t.Context(), client.ObjectKeyFromObject(beside), &v1.LogOutput{})
			if apierrors.IsNotFound(err) {
				return nil
			}
			return errString(fmt.Sprintf("still there (%v)", err))
		})
		assertEqual(t, bucket.rules(t), []lifecycleRule{{ID: "platform-audit-5y", Prefix: "audit/", Days: 1825, Status: "Enabled"}})
	})
}
