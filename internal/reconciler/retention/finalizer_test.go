package retention

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	v1 "github.com/logplane/logplane/api/v1alpha1"
	"github.com/logplane/logplane/internal/conditions"
)

func (e *env) get(t *testing.T, obj client.Object) bool {
	t.Helper()
	err := e.client.Get(t.Context(), client.ObjectKeyFromObject(obj), obj)
	if apierrors.IsNotFound(err) {
		return false
	}
	if err != nil {
		t.Fatal(err)
	}
	return true
}

func (e *env) delete(t *testing.T, obj client.Object) {
	t.Helper()
	if err := e.client.Delete(t.Context(), obj); err != nil {
		t.Fatal(err)
	}
}

// Issue 19 item 4: deleting an output removes the rule logplane wrote for it, and
// nothing else; the finalizer is there from the first write.
func TestDeletedOutputRemovesItsRule(t *testing.T) {
	archive := logOutput("team-a", "archive", s3WithKeys("error"))
	other := logOutput("team-a", "other", s3WithKeys("error"))
	cw := clusterOutput("errors", cloudWatch("error"))
	e := newEnv(t, nil, policy("error", "30d", true), archive, other, cw, awsSecret("team-a"))
	if _, err := e.reconcile(t, "error"); err != nil {
		t.Fatal(err)
	}
	for obj, want := range map[client.Object]bool{archive: true, other: true, cw: false} {
		e.get(t, obj)
		if controllerutil.ContainsFinalizer(obj, Finalizer) != want {
			t.Errorf("%s: finalizers %v; want ours: %v (only S3 rules are removed with their output)", obj.GetName(), obj.GetFinalizers(), want)
		}
	}
	e.delete(t, archive)
	if _, err := e.reconcile(t, "error"); err != nil {
		t.Fatal(err)
	}
	if e.get(t, archive) {
		t.Errorf("the output is still there: finalizers %v", archive.Finalizers)
	}
	if !slices.Equal(e.dest.removed, []string{"LogOutput team-a/archive"}) {
		t.Errorf("removed %v; want the deleted output's rule only", e.dest.removed)
	}
	if e.dest.keeps["LogOutput team-a/other"] != 30 || e.dest.keeps["ClusterLogOutput errors"] != 30 {
		t.Errorf("other outputs' settings changed: %v", e.dest.keeps)
	}
	if len(e.events.events) != 1 || !strings.HasPrefix(e.events.events[0], "Normal RetentionRuleRemoved: ") ||
		!strings.Contains(e.events.events[0], `bucket logs, rule logplane-lo.team-a.archive on prefix "logs/"`) {
		t.Errorf("events %q", e.events.events)
	}
	for _, o := range e.policy(t, "error").Status.Outputs {
		if o.Output.Name == "archive" {
			t.Errorf("a deleted output is still reported: %+v", o)
		}
	}
}

// A destination that cannot be reached holds the deletion for CleanupWindow, retried
// with backoff; then the output is let go with a Warning that names the rule left.
func TestDeletedOutputIsReleasedAfterTheWindow(t *testing.T) {
	archive := logOutput("team-a", "archive", s3WithKeys("error"))
	e := newEnv(t, nil, policy("error", "30d", true), archive, awsSecret("team-a"))
	if _, err := e.reconcile(t, "error"); err != nil {
		t.Fatal(err)
	}
	e.dest.fail["LogOutput team-a/archive"] = errors.New("failed to read the lifecycle configuration of bucket logs: the destination answered HTTP 403")
	e.delete(t, archive)
	if _, err := e.reconcile(t, "error"); !errors.Is(err, errRetry) {
		t.Fatalf("err %v; want a retry with backoff", err)
	}
	if !e.get(t, archive) || len(e.events.events) != 0 {
		t.Fatalf("released before the window: exists %v, events %q", e.get(t, archive), e.events.events)
	}
	// The fake client stamps deletion with the real clock.
	e.clock.SetTime(archive.DeletionTimestamp.Add(CleanupWindow + time.Second))
	if _, err := e.reconcile(t, "error"); err != nil {
		t.Fatal(err)
	}
	if e.get(t, archive) {
		t.Error("the output is held past the window")
	}
	if len(e.events.events) != 1 || !strings.HasPrefix(e.events.events[0], "Warning RetentionRuleLeft: Could not remove logplane's retention setting logplane-lo.team-a.archive at bucket logs") ||
		!strings.Contains(e.events.events[0], "HTTP 403") {
		t.Errorf("events %q", e.events.events)
	}
	if e.dest.keeps["LogOutput team-a/archive"] != 30 {
		t.Errorf("setting %v", e.dest.keeps)
	}
}

// An output that stopped naming a policy keeps its finalizer and rule; deleting it
// later goes to the request with an empty name, which removes the rule.
func TestDeletedOutputWithoutPolicyRemovesItsRule(t *testing.T) {
	archive := logOutput("team-a", "archive", s3WithKeys(""))
	archive.Finalizers = []string{Finalizer}
	e := newEnv(t, nil, archive, awsSecret("team-a"))
	e.dest.keeps["LogOutput team-a/archive"] = 30
	e.delete(t, archive)
	if _, err := e.reconcile(t, ""); err != nil {
		t.Fatal(err)
	}
	if e.get(t, archive) || !slices.Equal(e.dest.removed, []string{"LogOutput team-a/archive"}) {
		t.Errorf("exists %v, removed %v", e.get(t, archive), e.dest.removed)
	}
}

// Deleting a policy changes nothing at any destination, and keeps the finalizer: the
// rule still goes when its output does.
func TestDeletedPolicyLeavesRulesAndFinalizers(t *testing.T) {
	archive := logOutput("team-a", "archive", s3WithKeys("error"))
	p := policy("error", "30d", true)
	e := newEnv(t, nil, p, archive, awsSecret("team-a"))
	if _, err := e.reconcile(t, "error"); err != nil {
		t.Fatal(err)
	}
	e.delete(t, p)
	if _, err := e.reconcile(t, "error"); err != nil {
		t.Fatal(err)
	}
	e.get(t, archive)
	if len(e.dest.removed) != 0 || e.dest.keeps["LogOutput team-a/archive"] != 30 || !controllerutil.ContainsFinalizer(archive, Finalizer) {
		t.Errorf("a deleted policy changed something: removed %v, keeps %v, finalizers %v", e.dest.removed, e.dest.keeps, archive.Finalizers)
	}
	if c := e.outputCondition(t, archive); c == nil || c.Reason != conditions.ReasonRetentionPolicyNotFound {
		t.Errorf("condition %+v", c)
	}
}

// A conflict found by the destination is reported with its words, nothing written,
// and not retried sooner than the interval.
func TestConflictIsReported(t *testing.T) {
	archive := logOutput("shop", "archive", s3WithKeys("trace"))
	e := newEnv(t, nil, policy("trace", "30d", true), archive, awsSecret("shop"))
	e.dest.conflicts["LogOutput shop/archive"] = `in bucket logs, rule "logplane-lo.shop.archive" (prefix "a", 30d) would expire objects that rule "platform-audit-5y" (prefix "audit/", 1825d) keeps longer`
	res, err := e.reconcile(t, "trace")
	if err != nil || res.RequeueAfter != DefaultInterval {
		t.Fatalf("%+v, %v", res, err)
	}
	o := e.policy(t, "trace").Status.Outputs[0]
	if o.State != v1.RetentionConflict || !strings.Contains(o.Message, `rule "platform-audit-5y" (prefix "audit/", 1825d)`) ||
		!strings.Contains(o.Message, `rule "logplane-lo.shop.archive" (prefix "a", 30d)`) {
		t.Errorf("%+v", o)
	}
	if len(e.dest.applied) != 0 {
		t.Errorf("applied %v", e.dest.applied)
	}
	if c := e.outputCondition(t, archive); c == nil || c.Reason != conditions.ReasonRetentionConflict {
		t.Errorf("condition %+v", c)
	}
}
