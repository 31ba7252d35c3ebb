package agent

import (
	"bytes"
	"cmp"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	v1 "github.com/logplane/logplane/api/v1alpha1"
	agentobjects "github.com/logplane/logplane/internal/agent"
	"github.com/logplane/logplane/internal/alias"
	"github.com/logplane/logplane/internal/canary"
	"github.com/logplane/logplane/internal/conditions"
	"github.com/logplane/logplane/internal/render"
	"github.com/logplane/logplane/internal/snapshot"
)

// AnnotationProven is on the agent's main configuration Secret: the hash of the
// configuration written there, which a canary proved. A restarted operator that
// renders the same hash knows it runs and proves nothing again.
const AnnotationProven = "logging.logplane.dev/proven-config-hash"

// Prover runs a candidate configuration of an agent in a canary and says what Fluent
// Bit made of it. Prove is called again with the same objects until the verdict is
// not Pending; a call for other objects replaces the agent's canary.
type Prover interface {
	Prove(ctx context.Context, agent string, objs *agentobjects.CanaryObjects) (canary.Verdict, error)
	// Clean removes every canary object of the agent.
	Clean(ctx context.Context, agent string) error
}

// maxSteps bounds the candidates judged in one reconcile: most are judged without a
// run (their configuration was proven or refused before).
const maxSteps = 64

// canaryState is what the operator knows about one agent's configurations.
type canaryState struct {
	planner *canary.Planner
	// objects are the resources at their proven versions, so that an edited
	// resource that Fluent Bit refuses keeps running as it was.
	objects map[render.Ref]any
	// proven and refused are configuration hashes Fluent Bit started or refused (with
	// why); bounded by forgetting them all when they grow past maxHashes.
	proven  map[string]bool
	refused map[string]string
	// Runs counts the canary runs started, for tests and logs.
	runs int
	// saved is the hash whose proven versions were last saved.
	saved string
}

const maxHashes = 256

// CanaryRuns reports how many canary runs the reconciler started for agent.
func (r *Reconciler) CanaryRuns(agent string) int {
	r.canaryMu.Lock()
	defer r.canaryMu.Unlock()
	if st := r.canaries[agent]; st != nil {
		return st.runs
	}
	return 0
}

// proof is what prove decided: the render whose agent configuration may reach the
// nodes (its problems name what is held back), or nil config when nothing proven
// can be written yet; and when to look again.
type proof struct {
	res     *render.Result
	cfg     *render.AgentConfig
	requeue time.Duration
	// refused is Fluent Bit's error for a configuration no resource change accounts
	// for, which only the agent itself can report.
	refused string
}

// prove decides which configuration of the agent the nodes get: the one rendered
// from the resources at their proven versions, after as many canary verdicts as are
// at hand. full is the render of everything as it is now.
func (r *Reconciler) prove(ctx context.Context, agent string, owner *v1.LogAgent, snap *snapshot.Snapshot,
	secrets map[[2]string]*corev1.Secret, full *render.Result) (proof, error) {
	logger := log.FromContext(ctx)
	r.canaryMu.Lock()
	defer r.canaryMu.Unlock()
	if r.canaries == nil {
		r.canaries = map[string]*canaryState{}
	}
	cur, objects := versionsOf(snap, secrets)
	st := r.canaries[agent]
	if st == nil {
		st = &canaryState{proven: map[string]bool{}, refused: map[string]string{}, objects: map[render.Ref]any{}}
		running, err := r.runningHash(ctx, agent)
		if err != nil {
			return proof{}, err
		}
		if running != "" {
			st.proven[running] = true
		}
		saved, err := r.readProven(ctx, agent, running)
		if err != nil {
			return proof{}, err
		}
		switch fullCfg := agentConfig(full, agent); {
		case fullCfg != nil && fullCfg.Hash == running:
			// What runs is what there is: every resource is proven as it is.
			st.planner = canary.NewPlanner(cur)
			st.objects = objects
		case saved != nil:
			// What runs was rendered from saved: the rest are changes. The specs of
			// edited resources are not saved, so a refused edit is left out, not held
			// at its previous version, until this process proves one.
			st.planner = canary.NewPlanner(saved)
			for ref, v := range saved {
				if cur[ref] == v {
					st.objects[ref] = objects[ref]
				}
			}
		default:
			st.planner = canary.NewPlanner(nil)
		}
		r.canaries[agent] = st
	}
	if len(st.proven) > maxHashes || len(st.refused) > maxHashes {
		clear(st.refused)
		keep := st.proven
		st.proven = map[string]bool{}
		defer func() { // the configuration written stays proven
			for h := range keep {
				if len(st.proven) < 8 {
					st.proven[h] = true
				}
			}
		}()
	}
	in := agentobjects.Input{Name: agent, Namespace: r.Namespace, OperatorImage: r.OperatorImage}
	if owner != nil {
		in.Spec = owner.Spec
	}
	// judge returns the verdict on cfg: remembered, or from the canary.
	judge := func(cfg *render.AgentConfig) (canary.Verdict, error) {
		if st.proven[cfg.Hash] {
			return canary.Verdict{Outcome: canary.Passed}, nil
		}
		if why, ok := st.refused[cfg.Hash]; ok {
			return canary.Verdict{Outcome: canary.Refused, Message: why}, nil
		}
		in.Config, in.SecretValues = cfg.Config, secretValues(cfg.Config, secrets)
		objs := agentobjects.BuildCanary(in)
		v, err := r.Prover.Prove(ctx, agent, objs)
		if err != nil {
			return v, err
		}
		switch v.Outcome {
		case canary.Passed:
			st.proven[cfg.Hash] = true
		case canary.Refused:
			st.refused[cfg.Hash] = v.Message
		}
		if v.Outcome != canary.Pending {
			st.runs++
			logger.Info("canary verdict", "configHash", cfg.Hash, "verdict", v.Outcome.String(), "message", v.Message)
		}
		return v, nil
	}

	before := rejectionKey(st.planner.Rejected())
	defer func() {
		if agent != v1.DefaultAgentName && r.Wake != nil && rejectionKey(st.planner.Rejected()) != before {
			r.Wake(v1.DefaultAgentName)
		}
	}()
	var requeue time.Duration
	steps := 0
	for ; steps < maxSteps; steps++ {
		c, searching := st.planner.Next(cur)
		if !searching {
			break
		}
		res := r.renderHolding(r.holding(snap, cur, objects, st, c, agent))
		cfg := agentConfig(res, agent)
		v, err := judge(cfg)
		if err != nil {
			return proof{}, err
		}
		if v.Outcome == canary.Pending {
			requeue = time.Second
			break
		}
		if v.Outcome == canary.Inconclusive {
			// Nobody is to blame; try again later with a fresh canary.
			logger.Info("canary could not run; the last proven configuration stays", "message", v.Message)
			requeue = 30 * time.Second
			break
		}
		if v.Outcome == canary.Passed {
			st.planner.Passed()
			for _, ch := range c.Include {
				st.objects[ch.Ref] = objects[ch.Ref]
			}
		} else {
			st.planner.Refused(v.Message)
		}
	}
	if steps == maxSteps {
		requeue = time.Millisecond
	}

	// What the nodes may get: the proven versions, everything else held back.
	dep := r.holding(snap, cur, objects, st, canary.Candidate{}, agent)
	res := r.renderHolding(dep)
	res.Problems = append(res.Problems, dep.rejectedRunning...)
	cfg := agentConfig(res, agent)
	var refused string
	if requeue == 0 && !st.proven[cfg.Hash] {
		// Every change is judged, yet this configuration was never run: something no
		// resource version accounts for changed (the agent's spec, namespace labels,
		// a retention policy, a deletion). It is proven as a whole.
		v, err := judge(cfg)
		if err != nil {
			return proof{}, err
		}
		switch v.Outcome {
		case canary.Pending:
			requeue = time.Second
		case canary.Inconclusive:
			requeue = 30 * time.Second
		case canary.Refused:
			logger.Info("Fluent Bit refused a configuration no resource change accounts for; the last proven configuration stays",
				"configHash", cfg.Hash, "message", v.Message)
			refused = v.Message
			if r.Events != nil && owner != nil {
				r.Events.Eventf(owner, nil, corev1.EventTypeWarning, conditions.ReasonRejectedByAgent, "Prove", "%s", v.Message)
			}
		}
	}
	if requeue == 0 || requeue >= 30*time.Second {
		// No canary is waited for.
		if err := r.Prover.Clean(ctx, agent); err != nil {
			return proof{}, err
		}
	}
	if !st.proven[cfg.Hash] {
		return proof{res: res, requeue: requeue, refused: refused}, nil
	}
	return proof{res: res, cfg: cfg, requeue: requeue}, nil
}

// held is a snapshot with resources held back, and the problems to report.
type held struct {
	snap *snapshot.Snapshot
	held map[render.Ref]render.Problem
	// rejectedRunning are resources Fluent Bit refused at their current version that
	// run at their proven one, and outputs its error line names.
	rejectedRunning []render.Problem
}

func (r *Reconciler) renderHolding(h held) *render.Result {
	if r.Renderer != nil {
		return r.Renderer.RenderHolding(h.snap, h.held)
	}
	return render.RenderHolding(h.snap, h.held)
}

// holding is snap with the changes c does not include held back: at their proven
// version when it is known, left out otherwise. A proven, unchanged resource is never
// held back.
func (r *Reconciler) holding(snap *snapshot.Snapshot, cur canary.Versions, objects map[render.Ref]any, st *canaryState, c canary.Candidate, agent string) held {
	h := held{held: map[render.Ref]render.Problem{}}
	proven, rejected := st.planner.Proven(), st.planner.Rejected()
	swap := map[render.Ref]any{}
	for ref, v := range cur {
		if pv, ok := proven[ref]; ok && pv == v || c.Has(ref) {
			continue
		}
		rej, isRejected := rejected[ref]
		old, hasOld := st.objects[ref]
		if _, ok := proven[ref]; ok && hasOld {
			swap[ref] = old
			if isRejected {
				h.rejectedRunning = append(h.rejectedRunning, render.Problem{Ref: ref, Reason: conditions.ReasonRejectedByAgent,
					Message: conditions.Message(conditions.ReasonRejectedByAgent, agent, rej.Message, "Its previous version keeps running.")})
			}
			continue
		}
		if isRejected {
			h.held[ref] = render.Problem{Reason: conditions.ReasonRejectedByAgent,
				Message: conditions.Message(conditions.ReasonRejectedByAgent, agent, rej.Message, "The resource is left out of the configuration until it changes.")}
			h.rejectedRunning = append(h.rejectedRunning, namedOutput(ref, rej, rejected, agent)...)
		} else {
			h.held[ref] = render.Problem{Reason: conditions.ReasonCanaryPending, Message: conditions.Message(conditions.ReasonCanaryPending, agent)}
		}
	}
	h.snap = snap
	if len(swap) == 0 {
		return h
	}
	s := *snap
	s.Pipelines = swapped(snap.Pipelines, swap, func(p *v1.LogPipeline) render.Ref {
		return render.Ref{Kind: alias.LogPipeline, Namespace: p.Namespace, Name: p.Name}
	})
	s.ClusterPipelines = swapped(snap.ClusterPipelines, swap, func(p *v1.ClusterLogPipeline) render.Ref {
		return render.Ref{Kind: alias.ClusterLogPipeline, Name: p.Name}
	})
	s.Outputs = swapped(snap.Outputs, swap, func(o *v1.LogOutput) render.Ref {
		return render.Ref{Kind: alias.LogOutput, Namespace: o.Namespace, Name: o.Name}
	})
	s.ClusterOutputs = swapped(snap.ClusterOutputs, swap, func(o *v1.ClusterLogOutput) render.Ref {
		return render.Ref{Kind: alias.ClusterLogOutput, Name: o.Name}
	})
	h.snap = &s
	return h
}

// rejectionKey identifies a set of rejections, to tell when it changed.
func rejectionKey(rejected map[render.Ref]canary.Rejection) string {
	keys := make([]string, 0, len(rejected))
	for ref, r := range rejected {
		keys = append(keys, ref.String()+"@"+r.Version)
	}
	slices.Sort(keys)
	return strings.Join(keys, ",")
}

// sectionAlias finds the section Fluent Bit names in its error line.
var sectionAlias = regexp.MustCompile(`\[output:[a-z0-9_]+:(lp_[^\]]+)\]`)

// namedOutput reports the refusal on the output too when Fluent Bit's line names the
// output section of the refused pipeline: bisection finds the change that made the
// configuration fail, which for a new output is the first pipeline to use it (an
// output nobody uses is not in the configuration), yet the fix is usually the
// output's.
func namedOutput(pipeline render.Ref, rej canary.Rejection, rejected map[render.Ref]canary.Rejection, agent string) []render.Problem {
	m := sectionAlias.FindStringSubmatch(rej.Message)
	if m == nil || pipeline.Kind != alias.LogPipeline && pipeline.Kind != alias.ClusterLogPipeline {
		return nil
	}
	o, ok := alias.Decode(m[1])
	if !ok || o.PipelineKind != pipeline.Kind || o.Namespace != pipeline.Namespace || o.Pipeline != pipeline.Name {
		return nil
	}
	out := render.Ref{Kind: o.OutputKind, Name: o.Output}
	if o.OutputKind == alias.LogOutput {
		out.Namespace = o.Namespace
	}
	if _, ok := rejected[out]; ok {
		return nil
	}
	return []render.Problem{{Ref: out, Reason: conditions.ReasonRejectedByAgent,
		Message: conditions.Message(conditions.ReasonRejectedByAgent, agent, rej.Message,
			"It is used by "+pipeline.String()+", which is left out of the configuration until one of them changes.")}}
}

// swapped returns list with the items in swap replaced by their remembered
// versions; list itself when none is.
func swapped[T any](list []T, swap map[render.Ref]any, ref func(*T) render.Ref) []T {
	var out []T
	for i := range list {
		old, ok := swap[ref(&list[i])]
		if !ok {
			continue
		}
		if out == nil {
			out = append([]T(nil), list...)
		}
		out[i] = old.(T)
	}
	if out == nil {
		return list
	}
	return out
}

// versionsOf gives every pipeline and output its version: its UID and generation
// (a spec change), and for outputs the resourceVersions of the Secrets they read
// (a credential Fluent Bit cannot load is the output's fault). It also returns the
// objects, to hold them at a proven version later.
func versionsOf(snap *snapshot.Snapshot, secrets map[[2]string]*corev1.Secret) (canary.Versions, map[render.Ref]any) {
	v := canary.Versions{}
	objs := map[render.Ref]any{}
	version := func(o client.Object) string {
		return string(o.GetUID()) + "/" + strconv.FormatInt(o.GetGeneration(), 10)
	}
	withSecrets := func(base, ns string, spec any) string {
		for _, ref := range snapshot.SecretRefs(spec) {
			rv := "-"
			if s := secrets[[2]string{ns, string(ref.Ref.Name)}]; s != nil {
				rv = s.ResourceVersion
			}
			base += fmt.Sprintf("/%s=%s", ref.Ref.Name, rv)
		}
		return base
	}
	for i := range snap.Pipelines {
		p := &snap.Pipelines[i]
		ref := render.Ref{Kind: alias.LogPipeline, Namespace: p.Namespace, Name: p.Name}
		v[ref], objs[ref] = version(p), *p
	}
	for i := range snap.ClusterPipelines {
		p := &snap.ClusterPipelines[i]
		ref := render.Ref{Kind: alias.ClusterLogPipeline, Name: p.Name}
		v[ref], objs[ref] = version(p), *p
	}
	for i := range snap.Outputs {
		o := &snap.Outputs[i]
		ref := render.Ref{Kind: alias.LogOutput, Namespace: o.Namespace, Name: o.Name}
		v[ref], objs[ref] = withSecrets(version(o), o.Namespace, &o.Spec), *o
	}
	for i := range snap.ClusterOutputs {
		o := &snap.ClusterOutputs[i]
		ref := render.Ref{Kind: alias.ClusterLogOutput, Name: o.Name}
		v[ref], objs[ref] = withSecrets(version(o), snap.OperatorNamespace, &o.Spec), *o
	}
	return v, objs
}

// runningHash reads the proven hash on the agent's main configuration Secret; ""
// when there is none.
func (r *Reconciler) runningHash(ctx context.Context, agent string) (string, error) {
	var s corev1.Secret
	name := agentobjects.ConfigSecretName(agentobjects.ResourceName(agent), render.MainFile)
	err := r.Secrets.Get(ctx, client.ObjectKey{Namespace: r.Namespace, Name: name}, &s)
	if isNotFound(err) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("failed to get Secret %s: %w", name, err)
	}
	return s.Annotations[AnnotationProven], nil
}

func agentConfig(res *render.Result, agent string) *render.AgentConfig {
	for i := range res.Agents {
		if res.Agents[i].Agent == agent {
			return &res.Agents[i]
		}
	}
	return nil
}

// outputRejections are the refusals of outputs that the canaries of agents other
// than except found: only the default agent publishes outputs' verdicts, and an
// output is often used by other agents' pipelines only.
func (r *Reconciler) outputRejections(except string) []render.Problem {
	r.canaryMu.Lock()
	defer r.canaryMu.Unlock()
	var out []render.Problem
	for agent, st := range r.canaries {
		if agent == except || st.planner == nil {
			continue
		}
		rejected := st.planner.Rejected()
		for ref, rej := range rejected {
			switch ref.Kind {
			case alias.LogOutput, alias.ClusterLogOutput:
				tail := "The resource is left out of the configuration until it changes."
				if _, ok := st.planner.Proven()[ref]; ok {
					tail = "Its previous version keeps running."
				}
				out = append(out, render.Problem{Ref: ref, Reason: conditions.ReasonRejectedByAgent,
					Message: conditions.Message(conditions.ReasonRejectedByAgent, agent, rej.Message, tail)})
			default:
				out = append(out, namedOutput(ref, rej, rejected, agent)...)
			}
		}
	}
	// In a fixed order, so that a status joining several messages does not churn.
	slices.SortFunc(out, func(a, b render.Problem) int {
		return cmp.Or(cmp.Compare(a.Ref.String(), b.Ref.String()), cmp.Compare(a.Message, b.Message))
	})
	return out
}

// provenState is saved with each configuration written: the versions it was rendered
// from, so that a restarted operator knows which resources run.
type provenState struct {
	Hash     string            `json:"hash"`
	Versions map[string]string `json:"versions"`
}

// StateSecretName holds the agent's provenState.
func StateSecretName(agent string) string { return agentobjects.ResourceName(agent) + "-canary-state" }

const stateKey = "proven.json.gz"

// provenSecret is the Secret that saves the proven versions of the configuration
// with the given hash; nil when it is saved already.
func (r *Reconciler) provenSecret(agent, hash string) (*corev1.Secret, error) {
	r.canaryMu.Lock()
	defer r.canaryMu.Unlock()
	st := r.canaries[agent]
	if st == nil || st.saved == hash {
		return nil, nil
	}
	state := provenState{Hash: hash, Versions: map[string]string{}}
	for ref, v := range st.planner.Proven() {
		state.Versions[ref.String()] = v
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if err := json.NewEncoder(zw).Encode(state); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	st.saved = hash
	return &corev1.Secret{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
		ObjectMeta: metav1.ObjectMeta{Name: StateSecretName(agent), Namespace: r.Namespace,
			Labels: map[string]string{agentobjects.LabelAgent: agent, agentobjects.LabelManagedBy: "logplane"}},
		Type: corev1.SecretTypeOpaque, Data: map[string][]byte{stateKey: buf.Bytes()}}, nil
}

// forgetSaved makes the next write save the proven versions again.
func (r *Reconciler) forgetSaved(agent string) {
	r.canaryMu.Lock()
	defer r.canaryMu.Unlock()
	if st := r.canaries[agent]; st != nil {
		st.saved = ""
	}
}

// readProven reads the saved versions of the running configuration; nil when none
// are saved for it.
func (r *Reconciler) readProven(ctx context.Context, agent, running string) (canary.Versions, error) {
	if running == "" {
		return nil, nil
	}
	var s corev1.Secret
	err := r.Secrets.Get(ctx, client.ObjectKey{Namespace: r.Namespace, Name: StateSecretName(agent)}, &s)
	if isNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("failed to get Secret %s: %w", StateSecretName(agent), err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(s.Data[stateKey]))
	if err != nil {
		return nil, nil // unreadable: prove again
	}
	var state provenState
	if err := json.NewDecoder(zr).Decode(&state); err != nil || state.Hash != running {
		return nil, nil
	}
	v := canary.Versions{}
	for key, version := range state.Versions {
		parts := strings.Split(key, "/")
		switch len(parts) {
		case 2:
			v[render.Ref{Kind: parts[0], Name: parts[1]}] = version
		case 3:
			v[render.Ref{Kind: parts[0], Namespace: parts[1], Name: parts[2]}] = version
		}
	}
	return v, nil
}

// canaryFields are the Reconciler's canary state, embedded to keep reconciler.go
// about wiring.
type canaryFields struct {
	canaryMu sync.Mutex
	canaries map[string]*canaryState
}
