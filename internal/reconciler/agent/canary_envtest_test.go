package agent_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	v1 "github.com/logplane/logplane/api/v1alpha1"
	agentobjects "github.com/logplane/logplane/internal/agent"
	"github.com/logplane/logplane/internal/alias"
	"github.com/logplane/logplane/internal/canary"
	"github.com/logplane/logplane/internal/conditions"
	"github.com/logplane/logplane/internal/reconciler/agent"
	"github.com/logplane/logplane/internal/render"
	"github.com/logplane/logplane/internal/status"
	"github.com/logplane/logplane/test/testenv"
)

const operatorNamespace = "logplane-system"

// fakeProver stands in for the canary pod: it answers Pending on the first call for
// a configuration and then refuses it if its files contain the marker, as Fluent
// Bit refuses a plugin setting at initialisation.
type fakeProver struct {
	mu     sync.Mutex
	marker string
	seen   map[string]bool
	// runs are the verdicts given; cleans the Clean calls.
	runs, cleans int
}

func (f *fakeProver) Prove(_ context.Context, _ string, objs *agentobjects.CanaryObjects) (canary.Verdict, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.seen[objs.Pod.Name] {
		f.seen[objs.Pod.Name] = true
		return canary.Verdict{Outcome: canary.Pending}, nil
	}
	f.runs++
	for _, s := range objs.ConfigSecrets {
		for _, data := range s.Data {
			if bytes.Contains(data, []byte(f.marker)) {
				return canary.Verdict{Outcome: canary.Refused, Message: "[output:http:lp_x] invalid host '" + f.marker + "'"}, nil
			}
		}
	}
	return canary.Verdict{Outcome: canary.Passed}, nil
}

func (f *fakeProver) Clean(context.Context, string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cleans++
	return nil
}

var k8s client.Client

func TestMain(m *testing.M) {
	env, err := testenv.Start()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	k8s = env.Client
	code := m.Run()
	if err := env.Stop(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, "failed to stop the control plane:", err)
	}
	os.Exit(code)
}

func newReconciler(p agent.Prover, board *status.Board) *agent.Reconciler {
	return &agent.Reconciler{Client: k8s, Secrets: k8s, Namespace: operatorNamespace, Renderer: render.NewRenderer(),
		Board: board, Prover: p}
}

// settle reconciles the default agent until no canary is waited for.
func settle(t *testing.T, r *agent.Reconciler) {
	t.Helper()
	for i := 0; i < 200; i++ {
		res, err := r.Reconcile(context.Background(), reconcile.Request{NamespacedName: types.NamespacedName{Name: v1.DefaultAgentName}})
		if err != nil {
			t.Fatal(err)
		}
		if res.RequeueAfter == 0 || res.RequeueAfter >= 30*time.Second {
			return
		}
	}
	t.Fatal("the agent does not settle")
}

func tenant(t *testing.T, ns, host string) {
	t.Helper()
	ctx := context.Background()
	for _, obj := range []client.Object{
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}},
		&v1.LogOutput{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "out"},
			Spec: v1.OutputSpec{Type: v1.OutputHTTP, HTTP: &v1.HTTPOutput{Host: v1.Host(host), Port: 443}}},
		&v1.LogPipeline{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "logs"},
			Spec: v1.LogPipelineSpec{Input: v1.LogPipelineInput{Containers: &v1.ContainerSelection{}}, OutputRefs: []v1.ResourceName{"out"}}},
	} {
		if err := k8s.Create(ctx, obj); err != nil {
			t.Fatal(err)
		}
	}
}

func setHost(t *testing.T, ns, host string) {
	t.Helper()
	var o v1.LogOutput
	if err := k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: "out"}, &o); err != nil {
		t.Fatal(err)
	}
	o.Spec.HTTP.Host = v1.Host(host)
	if err := k8s.Update(context.Background(), &o); err != nil {
		t.Fatal(err)
	}
}

// written is the configuration the nodes get: the agent's main Secret, and its proven hash.
func written(t *testing.T) (string, string) {
	t.Helper()
	var s corev1.Secret
	name := agentobjects.ConfigSecretName(agentobjects.ResourceName(v1.DefaultAgentName), render.MainFile)
	if err := k8s.Get(context.Background(), client.ObjectKey{Namespace: operatorNamespace, Name: name}, &s); err != nil {
		t.Fatal(err)
	}
	return string(s.Data[render.MainFile]), s.Annotations[agent.AnnotationProven]
}

// The agent reconciler writes only configurations the canary proved: a batch of
// changes is proven in one run; a refused batch is bisected, the offenders are named
// (an edited output keeps running at its previous version, a new pipeline stays
// out), every other change goes out; a fix goes out; a restarted operator proves
// nothing that runs.
func TestCanaryWritesOnlyProvenConfigurations(t *testing.T) {
	ctx := context.Background()
	if err := k8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: operatorNamespace}}); err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		tenant(t, fmt.Sprintf("t-%02d", i), fmt.Sprintf("good-%02d.example", i))
	}
	prover := &fakeProver{marker: "refuse-me", seen: map[string]bool{}}
	board := status.NewBoard()
	r := newReconciler(prover, board)
	settle(t, r)
	cfg, proven := written(t)
	if prover.runs != 1 || !strings.Contains(cfg, "good-09.example") || proven == "" {
		t.Fatalf("first configuration: %d runs, proven hash %q, carries good-09: %v", prover.runs, proven, strings.Contains(cfg, "good-09.example"))
	}

	// A batch: five new tenants, an edit to a running output that Fluent Bit refuses,
	// and a new tenant whose output it refuses.
	for i := 10; i < 15; i++ {
		tenant(t, fmt.Sprintf("t-%02d", i), fmt.Sprintf("good-%02d.example", i))
	}
	setHost(t, "t-03", "refuse-me.example")
	tenant(t, "t-bad", "refuse-me-too.example")
	runs := prover.runs
	settle(t, r)
	t.Logf("batch of 13 changes (6 resources created, 1 edited and refused, 1 tenant refused): %d canary runs", prover.runs-runs)
	cfg, _ = written(t)
	if strings.Contains(cfg, "refuse-me") {
		t.Fatal("a refused configuration reached the nodes")
	}
	for _, want := range []string{"good-03.example", "good-10.example", "good-14.example"} {
		if !strings.Contains(cfg, want) {
			t.Errorf("the written configuration lacks %s", want)
		}
	}
	out03 := render.Ref{Kind: alias.LogOutput, Namespace: "t-03", Name: "out"}
	ov, _ := board.Output(out03)
	if ov.Config.Reason != conditions.ReasonRejectedByAgent || !strings.Contains(ov.Config.Message, "invalid host 'refuse-me'") ||
		!strings.Contains(ov.Config.Message, "previous version keeps running") {
		t.Errorf("t-03's edited output: %s %q", ov.Config.Reason, ov.Config.Message)
	}
	if e, _ := board.Get(render.Ref{Kind: alias.LogPipeline, Namespace: "t-03", Name: "logs"}); !e.Verdict.Rendered ||
		e.Verdict.Config.Status != metav1.ConditionTrue {
		t.Errorf("t-03's unchanged pipeline no longer runs: %+v", e.Verdict)
	}
	bad, _ := board.Get(render.Ref{Kind: alias.LogPipeline, Namespace: "t-bad", Name: "logs"})
	badOut, _ := board.Output(render.Ref{Kind: alias.LogOutput, Namespace: "t-bad", Name: "out"})
	if bad.Verdict.Rendered || (bad.Verdict.Config.Reason != conditions.ReasonRejectedByAgent && badOut.Config.Reason != conditions.ReasonRejectedByAgent) {
		t.Errorf("the new tenant whose output is refused: pipeline %+v, output %+v", bad.Verdict, badOut.Config)
	}
	for i := 10; i < 15; i++ {
		e, _ := board.Get(render.Ref{Kind: alias.LogPipeline, Namespace: fmt.Sprintf("t-%02d", i), Name: "logs"})
		if !e.Verdict.Rendered || e.Verdict.Config.Status != metav1.ConditionTrue {
			t.Errorf("new tenant t-%02d: %+v", i, e.Verdict.Config)
		}
	}

	// The fix goes out in one run.
	setHost(t, "t-03", "good-03b.example")
	runs = prover.runs
	settle(t, r)
	cfg, proven = written(t)
	if prover.runs != runs+1 || !strings.Contains(cfg, "good-03b.example") {
		t.Errorf("the fix: %d runs, written: %v", prover.runs-runs, strings.Contains(cfg, "good-03b.example"))
	}
	if ov, _ := board.Output(out03); ov.Config.Status != metav1.ConditionTrue {
		t.Errorf("t-03's fixed output: %s %q", ov.Config.Reason, ov.Config.Message)
	}

	// A restarted operator: what runs is known from the saved proven versions; only the
	// refused tenant's pipeline is a change to it, tried once and refused again. The
	// nodes' configuration does not change.
	restarted := &fakeProver{marker: "refuse-me", seen: map[string]bool{}}
	r2 := newReconciler(restarted, status.NewBoard())
	settle(t, r2)
	if cfg2, proven2 := written(t); cfg2 != cfg || proven2 != proven {
		t.Error("a restarted operator changed the configuration that runs")
	}
	t.Logf("restarted operator: %d canary runs", restarted.runs)
	if restarted.runs != 1 {
		t.Errorf("a restarted operator ran %d canaries; want 1, for the one resource that does not run", restarted.runs)
	}
	// Without the saved versions, it knows only the hash of what runs: every resource
	// is a change, and the search runs again (the nodes' configuration still does not
	// change).
	if err := k8s.Delete(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: operatorNamespace, Name: agent.StateSecretName(v1.DefaultAgentName)}}); err != nil {
		t.Fatal(err)
	}
	blind := &fakeProver{marker: "refuse-me", seen: map[string]bool{}}
	settle(t, newReconciler(blind, status.NewBoard()))
	if cfg3, proven3 := written(t); cfg3 != cfg || proven3 != proven {
		t.Error("a restarted operator without saved versions changed the configuration that runs")
	}
	t.Logf("restarted without saved versions: %d canary runs", blind.runs)
}

// A change no pipeline or output accounts for (the LogAgent's own spec) that Fluent
// Bit refuses is reported on the LogAgent, the only resource that can carry it; the
// nodes keep the configuration that runs, and reverting the spec clears it.
func TestRefusalOfTheAgentsOwnSpecIsReportedOnTheLogAgent(t *testing.T) {
	ctx := context.Background()
	if err := k8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: operatorNamespace}}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	la := &v1.LogAgent{ObjectMeta: metav1.ObjectMeta{Name: "edge-spec"}, Spec: v1.LogAgentSpec{LogLevel: "info"}}
	if err := k8s.Create(ctx, la); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = k8s.Delete(context.Background(), la) })
	prover := &fakeProver{marker: `log_level: "debug"`, seen: map[string]bool{}}
	r := newReconciler(prover, status.NewBoard())
	reconcileEdge := func() {
		t.Helper()
		for i := 0; i < 200; i++ {
			res, err := r.Reconcile(ctx, reconcile.Request{NamespacedName: types.NamespacedName{Name: "edge-spec"}})
			if err != nil {
				t.Fatal(err)
			}
			if res.RequeueAfter == 0 || res.RequeueAfter >= 30*time.Second {
				return
			}
		}
		t.Fatal("the agent does not settle")
	}
	edgeConfig := func() (string, metav1.Condition) {
		t.Helper()
		var s corev1.Secret
		name := agentobjects.ConfigSecretName(agentobjects.ResourceName("edge-spec"), render.MainFile)
		if err := k8s.Get(ctx, client.ObjectKey{Namespace: operatorNamespace, Name: name}, &s); err != nil {
			t.Fatal(err)
		}
		if err := k8s.Get(ctx, client.ObjectKeyFromObject(la), la); err != nil {
			t.Fatal(err)
		}
		c := meta.FindStatusCondition(la.Status.Conditions, conditions.TypeConfigGenerated)
		if c == nil {
			t.Fatal("the LogAgent has no ConfigGenerated condition")
		}
		return string(s.Data[render.MainFile]), *c
	}
	reconcileEdge()
	if cfg, c := edgeConfig(); !strings.Contains(cfg, `log_level: "info"`) || c.Status != metav1.ConditionTrue {
		t.Fatalf("first configuration: %s %q", c.Reason, c.Message)
	}

	la.Spec.LogLevel = "debug"
	if err := k8s.Update(ctx, la); err != nil {
		t.Fatal(err)
	}
	reconcileEdge()
	cfg, c := edgeConfig()
	if !strings.Contains(cfg, `log_level: "info"`) {
		t.Error("a configuration Fluent Bit refused reached the nodes")
	}
	if c.Status != metav1.ConditionFalse || c.Reason != conditions.ReasonRejectedByAgent || c.ObservedGeneration != la.Generation ||
		!strings.Contains(c.Message, `invalid host 'log_level: "debug"'`) || !strings.Contains(c.Message, "the LogAgent's spec") {
		t.Errorf("refused spec: %s %s %q", c.Status, c.Reason, c.Message)
	}
	if ready := meta.FindStatusCondition(la.Status.Conditions, conditions.TypeReady); ready == nil || ready.Status != metav1.ConditionFalse {
		t.Errorf("Ready with a refused spec: %+v", ready)
	}

	la.Spec.LogLevel = "info"
	if err := k8s.Update(ctx, la); err != nil {
		t.Fatal(err)
	}
	reconcileEdge()
	if _, c := edgeConfig(); c.Status != metav1.ConditionTrue {
		t.Errorf("reverted spec: %s %q", c.Reason, c.Message)
	}
}
