package retention

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	clienttesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	v1 "github.com/logplane/logplane/api/v1alpha1"
	"github.com/logplane/logplane/internal/conditions"
	"github.com/logplane/logplane/internal/retention"
	"github.com/logplane/logplane/internal/snapshot"
)

const operatorNamespace = "logplane-system"

// destinations is an in-memory stand-in for every destination: what each output's
// destination keeps, errors to return, and the applies made.
type destinations struct {
	mu      sync.Mutex
	keeps   map[string]retention.Days
	fail    map[string]error
	applied []string
	// conflicts maps an output to the rule of someone else its setting would cut short.
	conflicts map[string]string
	// removed lists the outputs whose setting was removed.
	removed []string
}

func (d *destinations) factory(ctx context.Context, t retention.Target, secret retention.SecretValue) (retention.Applier, error) {
	// Like the real appliers: every credential is read before the destination is called.
	for _, ref := range snapshot.SecretRefs(t.Spec) {
		if _, err := secret(ctx, ref.Ref); err != nil {
			return nil, err
		}
	}
	return &fakeApplier{d: d, key: refString(t.Output)}, nil
}

type fakeApplier struct {
	d   *destinations
	key string
}

func (a *fakeApplier) Current(context.Context) (retention.Observed, error) {
	a.d.mu.Lock()
	defer a.d.mu.Unlock()
	if err := a.d.fail[a.key]; err != nil {
		return retention.Observed{}, err
	}
	return retention.Observed{Days: a.d.keeps[a.key]}, nil
}

func (a *fakeApplier) Conflict(retention.Days) string {
	a.d.mu.Lock()
	defer a.d.mu.Unlock()
	return a.d.conflicts[a.key]
}

func (a *fakeApplier) Remove(context.Context) error {
	a.d.mu.Lock()
	defer a.d.mu.Unlock()
	if err := a.d.fail[a.key]; err != nil {
		return err
	}
	delete(a.d.keeps, a.key)
	a.d.removed = append(a.d.removed, a.key)
	return nil
}

func (a *fakeApplier) Apply(_ context.Context, days retention.Days) error {
	a.d.mu.Lock()
	defer a.d.mu.Unlock()
	a.d.keeps[a.key] = days
	a.d.applied = append(a.d.applied, a.key+"="+days.String())
	return nil
}

func policy(name, keep string, allowShortening bool) *v1.RetentionPolicy {
	return &v1.RetentionPolicy{ObjectMeta: metav1.ObjectMeta{Name: name, Generation: 3},
		Spec: v1.RetentionPolicySpec{Retention: keep, AllowShortening: allowShortening}}
}

func cloudWatch(policy string) v1.OutputSpec {
	return v1.OutputSpec{Type: v1.OutputCloudWatchLogs, RetentionPolicy: v1.ResourceName(policy), CloudWatchLogs: &v1.CloudWatchLogsOutput{
		AWS: v1.AWSAuth{Region: "eu-west-1"}, LogGroupName: "/k8s/a", LogStreamPrefix: ptr(v1.ConfigString("a-"))}}
}

func s3WithKeys(policy string) v1.OutputSpec {
	return v1.OutputSpec{Type: v1.OutputS3, RetentionPolicy: v1.ResourceName(policy), S3: &v1.S3Output{Bucket: "logs", KeyFormat: "/logs/$TAG",
		AWS: v1.AWSAuth{Region: "eu-west-1", Credentials: &v1.AWSCredentials{
			AccessKeyID: v1.SecretKeyRef{Name: "aws", Key: "id"}, SecretAccessKey: v1.SecretKeyRef{Name: "aws", Key: "secret"}}}}}
}

func loki(policy string) v1.OutputSpec {
	return v1.OutputSpec{Type: v1.OutputLoki, RetentionPolicy: v1.ResourceName(policy), Loki: &v1.LokiOutput{Host: "loki"}}
}

func logOutput(ns, name string, spec v1.OutputSpec) *v1.LogOutput {
	return &v1.LogOutput{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Generation: 2}, Spec: spec}
}

func clusterOutput(name string, spec v1.OutputSpec) *v1.ClusterLogOutput {
	return &v1.ClusterLogOutput{ObjectMeta: metav1.ObjectMeta{Name: name, Generation: 5}, Spec: v1.ClusterLogOutputSpec{OutputSpec: spec}}
}

func awsSecret(ns string) *corev1.Secret {
	return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "aws"}, Data: map[string][]byte{"id": []byte("AKID"), "secret": []byte("s")}}
}

// recorder keeps the events recorded, as "type reason: note".
type recorder struct {
	mu     sync.Mutex
	events []string
}

func (r *recorder) Eventf(_, _ runtime.Object, eventtype, reason, _, note string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, eventtype+" "+reason+": "+fmt.Sprintf(note, args...))
}

type env struct {
	client  client.Client
	events  *recorder
	dest    *destinations
	r       *Reconciler
	clock   *clienttesting.FakeClock
	patches map[string]int // status patches by kind
}

func newEnv(t *testing.T, funcs *interceptor.Funcs, objs ...client.Object) *env {
	t.Helper()
	scheme := runtime.NewScheme()
	if err := v1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	if err := corev1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	e := &env{dest: &destinations{keeps: map[string]retention.Days{}, fail: map[string]error{}, conflicts: map[string]string{}}, events: &recorder{},
		clock: clienttesting.NewFakeClock(time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)), patches: map[string]int{}}
	f := interceptor.Funcs{}
	if funcs != nil {
		f = *funcs
	}
	next := f.SubResourcePatch
	f.SubResourcePatch = func(ctx context.Context, c client.Client, sub string, obj client.Object, patch client.Patch, opts ...client.SubResourcePatchOption) error {
		e.patches[fmt.Sprintf("%T", obj)]++
		if next != nil {
			return next(ctx, c, sub, obj, patch, opts...)
		}
		return c.SubResource(sub).Patch(ctx, obj, patch, opts...)
	}
	e.client = fake.NewClientBuilder().WithScheme(scheme).WithObjects(objs...).
		WithStatusSubresource(&v1.RetentionPolicy{}, &v1.LogOutput{}, &v1.ClusterLogOutput{}).
		WithInterceptorFuncs(f).Build()
	e.r = &Reconciler{Client: e.client, Secrets: e.client, Namespace: operatorNamespace, Appliers: e.dest.factory, Clock: e.clock, Events: e.events}
	return e
}

func (e *env) reconcile(t *testing.T, name string) (reconcile.Result, error) {
	t.Helper()
	return e.r.Reconcile(t.Context(), reconcile.Request{NamespacedName: client.ObjectKey{Name: name}})
}

func (e *env) policy(t *testing.T, name string) v1.RetentionPolicy {
	t.Helper()
	var p v1.RetentionPolicy
	if err := e.client.Get(t.Context(), client.ObjectKey{Name: name}, &p); err != nil {
		t.Fatal(err)
	}
	return p
}

func (e *env) outputCondition(t *testing.T, obj client.Object) *metav1.Condition {
	t.Helper()
	if err := e.client.Get(t.Context(), client.ObjectKeyFromObject(obj), obj); err != nil {
		t.Fatal(err)
	}
	switch o := obj.(type) {
	case *v1.LogOutput:
		return meta.FindStatusCondition(o.Status.Conditions, conditions.TypeRetentionEnforced)
	case *v1.ClusterLogOutput:
		return meta.FindStatusCondition(o.Status.Conditions, conditions.TypeRetentionEnforced)
	}
	return nil
}

func TestReconcileReportsEveryOutput(t *testing.T) {
	cw := clusterOutput("errors", cloudWatch("error"))
	blocked := logOutput("team-a", "archive", s3WithKeys("error"))
	pending := logOutput("team-b", "archive", s3WithKeys("error"))
	lk := logOutput("team-a", "loki", loki("error"))
	other := logOutput("team-a", "other", cloudWatch("audit"))
	e := newEnv(t, nil, policy("error", "90d", false), cw, blocked, pending, lk, other,
		awsSecret("team-a"), awsSecret("team-c") /* not team-b's */)
	e.dest.keeps["ClusterLogOutput errors"] = 30
	e.dest.keeps["LogOutput team-a/archive"] = 400

	_, err := e.reconcile(t, "error")
	if !errors.Is(err, errRetry) {
		t.Fatalf("a Pending output must be retried with backoff, got %v", err)
	}
	p := e.policy(t, "error")
	got := map[string]v1.OutputRetention{}
	var order []string
	for _, o := range p.Status.Outputs {
		got[refString(o.Output)] = o
		order = append(order, refString(o.Output))
	}
	wantOrder := []string{"ClusterLogOutput errors", "LogOutput team-a/archive", "LogOutput team-a/loki", "LogOutput team-b/archive"}
	if strings.Join(order, ",") != strings.Join(wantOrder, ",") {
		t.Fatalf("outputs %v, want %v (sorted, only those naming the policy)", order, wantOrder)
	}
	now := metav1.NewTime(e.clock.Now())
	checks := []struct {
		ref, state, effective, message string
		lastApplied                    bool
	}{
		{"ClusterLogOutput errors", "Enforced", "90d", "The destination keeps logs for 90d; RetentionPolicy error asks for 90d.", true},
		{"LogOutput team-a/archive", "ShorteningBlocked", "", "The destination keeps logs for 400d; RetentionPolicy error asks for 90d. Shortening deletes data", false},
		{"LogOutput team-a/loki", "Unsupported", "", "RetentionPolicy error cannot be enforced here: loki destinations have no retention setting", false},
		{"LogOutput team-b/archive", "Pending", "", "RetentionPolicy error is not applied yet: secret not found: Secret team-b/aws has no key \"id\"", false},
	}
	for _, c := range checks {
		o := got[c.ref]
		if string(o.State) != c.state || o.EffectiveRetention != c.effective || !strings.HasPrefix(o.Message, c.message) {
			t.Errorf("%s: %+v; want %s %q %q", c.ref, o, c.state, c.effective, c.message)
		}
		if c.lastApplied != (o.LastApplied != nil) || c.lastApplied && !o.LastApplied.Equal(&now) {
			t.Errorf("%s: lastApplied %v", c.ref, o.LastApplied)
		}
	}
	if strings.Join(e.dest.applied, ",") != "ClusterLogOutput errors=90d" {
		t.Errorf("applied %v; the blocked shortening must not be applied", e.dest.applied)
	}
	ready := meta.FindStatusCondition(p.Status.Conditions, conditions.TypeReady)
	if ready == nil || ready.Status != metav1.ConditionFalse || ready.Reason != conditions.ReasonOutputsNotEnforced ||
		ready.Message != "2 of 4 outputs do not enforce the policy: LogOutput team-a/archive ShorteningBlocked, LogOutput team-b/archive Pending" ||
		ready.ObservedGeneration != 3 || p.Status.ObservedGeneration != 3 {
		t.Errorf("Ready %+v, observedGeneration %d", ready, p.Status.ObservedGeneration)
	}
	for obj, want := range map[client.Object]string{cw: "True/RetentionEnforced/5", blocked: "False/ShorteningBlocked/2",
		lk: "False/RetentionUnsupported/2", pending: "False/RetentionPending/2"} {
		c := e.outputCondition(t, obj)
		if c == nil || fmt.Sprintf("%s/%s/%d", c.Status, c.Reason, c.ObservedGeneration) != want {
			t.Errorf("%s: condition %+v, want %s", obj.GetName(), c, want)
		}
	}
	if c := e.outputCondition(t, other); c != nil {
		t.Errorf("an output of another policy got %+v", c)
	}
}

func TestReconcileWritesOnlyChanges(t *testing.T) {
	cw := clusterOutput("errors", cloudWatch("error"))
	e := newEnv(t, nil, policy("error", "5y", false), cw)
	e.dest.keeps["ClusterLogOutput errors"] = 30 // lengthened: no allowShortening needed
	res, err := e.reconcile(t, "error")
	if err != nil || res.RequeueAfter != DefaultInterval {
		t.Fatalf("reconcile = %+v, %v; want a re-apply after the interval", res, err)
	}
	first := e.policy(t, "error")
	if o := first.Status.Outputs[0]; o.EffectiveRetention != "1827d" ||
		o.Message != "The destination keeps logs for 1827d; RetentionPolicy error asks for 5y, rounded up to 1827d, the next value the destination accepts." {
		t.Errorf("rounding not reported: %+v", o)
	}
	if e.patches["*v1alpha1.RetentionPolicy"] != 1 || e.patches["*v1alpha1.ClusterLogOutput"] != 1 {
		t.Fatalf("patches %v", e.patches)
	}
	// An hour later nothing changed at the destination: nothing is written, and
	// lastApplied keeps the time the setting was made.
	e.clock.Step(time.Hour)
	if _, err := e.reconcile(t, "error"); err != nil {
		t.Fatal(err)
	}
	if e.patches["*v1alpha1.RetentionPolicy"] != 1 || e.patches["*v1alpha1.ClusterLogOutput"] != 1 {
		t.Errorf("status rewritten without a change: %v", e.patches)
	}
	if len(e.dest.applied) != 1 {
		t.Errorf("applied %v", e.dest.applied)
	}
	// Drift: someone set the group to 7 days; the next pass puts it back and stamps it.
	e.dest.keeps["ClusterLogOutput errors"] = 7
	if _, err := e.reconcile(t, "error"); err != nil {
		t.Fatal(err)
	}
	after := e.policy(t, "error")
	if len(e.dest.applied) != 2 || after.Status.Outputs[0].LastApplied.Equal(first.Status.Outputs[0].LastApplied) {
		t.Errorf("drift not repaired and stamped: applied %v, lastApplied %v", e.dest.applied, after.Status.Outputs[0].LastApplied)
	}
}

func TestReconcileFailedIsRetried(t *testing.T) {
	cw := clusterOutput("errors", cloudWatch("error"))
	e := newEnv(t, nil, policy("error", "30d", false), cw)
	e.dest.fail["ClusterLogOutput errors"] = errors.New("failed to describe log group /k8s/a: AccessDeniedException: not authorized")
	if _, err := e.reconcile(t, "error"); !errors.Is(err, errRetry) {
		t.Fatalf("err %v", err)
	}
	o := e.policy(t, "error").Status.Outputs[0]
	if o.State != v1.RetentionFailed || o.Message != "Setting retention 30d of RetentionPolicy error at the destination failed (retrying): failed to describe log group /k8s/a: AccessDeniedException: not authorized" {
		t.Errorf("%+v", o)
	}
}

func TestReconcileConflictOnOutputRequeues(t *testing.T) {
	cw := clusterOutput("errors", cloudWatch("error"))
	funcs := &interceptor.Funcs{SubResourcePatch: func(ctx context.Context, c client.Client, sub string, obj client.Object, patch client.Patch, opts ...client.SubResourcePatchOption) error {
		if _, ok := obj.(*v1.ClusterLogOutput); ok {
			return apierrors.NewConflict(schema.GroupResource{Resource: "clusterlogoutputs"}, obj.GetName(), errors.New("the object has been modified"))
		}
		return c.SubResource(sub).Patch(ctx, obj, patch, opts...)
	}}
	e := newEnv(t, funcs, policy("error", "30d", false), cw)
	res, err := e.reconcile(t, "error")
	if err != nil || res.RequeueAfter != time.Second {
		t.Fatalf("reconcile = %+v, %v; want a quick requeue", res, err)
	}
	if len(e.policy(t, "error").Status.Outputs) != 1 {
		t.Error("the policy's status must still be written")
	}
}

// The optimistic lock is what keeps the agent reconciler's conditions: the patch
// carries the resourceVersion it was computed from.
func TestOutputPatchCarriesResourceVersion(t *testing.T) {
	cw := clusterOutput("errors", cloudWatch("error"))
	var body string
	funcs := &interceptor.Funcs{SubResourcePatch: func(ctx context.Context, c client.Client, sub string, obj client.Object, patch client.Patch, opts ...client.SubResourcePatchOption) error {
		if _, ok := obj.(*v1.ClusterLogOutput); ok {
			data, _ := patch.Data(obj)
			body = string(data)
		}
		return c.SubResource(sub).Patch(ctx, obj, patch, opts...)
	}}
	e := newEnv(t, funcs, policy("error", "30d", false), cw)
	if _, err := e.reconcile(t, "error"); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(body, `"resourceVersion":"`) || !strings.Contains(body, `"type":"RetentionEnforced"`) {
		t.Errorf("patch %s", body)
	}
}

func TestDeletedPolicyTouchesNoDestination(t *testing.T) {
	cw := clusterOutput("errors", cloudWatch("gone"))
	e := newEnv(t, nil, cw)
	e.dest.keeps["ClusterLogOutput errors"] = 30
	if _, err := e.reconcile(t, "gone"); err != nil {
		t.Fatal(err)
	}
	c := e.outputCondition(t, cw)
	if c == nil || c.Reason != conditions.ReasonRetentionPolicyNotFound || c.Message != "RetentionPolicy gone does not exist." {
		t.Errorf("condition %+v", c)
	}
	if len(e.dest.applied) != 0 || e.dest.keeps["ClusterLogOutput errors"] != 30 {
		t.Errorf("a deleted policy changed a destination: %v", e.dest.applied)
	}
}

func TestOutputLeavingPolicyLosesCondition(t *testing.T) {
	out := logOutput("team-a", "errors", cloudWatch(""))
	out.Status.Conditions = []metav1.Condition{
		{Type: conditions.TypeReady, Status: metav1.ConditionTrue, Reason: "Ready", LastTransitionTime: metav1.Now()},
		{Type: conditions.TypeRetentionEnforced, Status: metav1.ConditionTrue, Reason: "RetentionEnforced", LastTransitionTime: metav1.Now()},
	}
	e := newEnv(t, nil, policy("error", "30d", false), out)
	if _, err := e.reconcile(t, "error"); err != nil {
		t.Fatal(err)
	}
	if c := e.outputCondition(t, out); c != nil {
		t.Errorf("stale condition kept: %+v", c)
	}
	if meta.FindStatusCondition(out.Status.Conditions, conditions.TypeReady) == nil {
		t.Error("another controller's condition was removed")
	}
}

func TestClusterOutputSecretsComeFromOperatorNamespace(t *testing.T) {
	out := clusterOutput("archive", s3WithKeys("error"))
	e := newEnv(t, nil, policy("error", "30d", true), out, awsSecret(operatorNamespace))
	if _, err := e.reconcile(t, "error"); err != nil {
		t.Fatal(err)
	}
	if o := e.policy(t, "error").Status.Outputs[0]; o.State != v1.RetentionEnforced {
		t.Errorf("%+v", o)
	}
}

func ptr[T any](v T) *T { return &v }
