package render

import (
	"slices"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	v1 "github.com/logplane/logplane/api/v1alpha1"
	"github.com/logplane/logplane/internal/alias"
	"github.com/logplane/logplane/internal/conditions"
	"github.com/logplane/logplane/internal/identity"
	"github.com/logplane/logplane/internal/rawparams"
	"github.com/logplane/logplane/internal/secretvalue"
	"github.com/logplane/logplane/internal/snapshot"
)

// output is a destination whose references all resolve.
type output struct {
	Ref Ref
	// Version is the object's resourceVersion; empty when unknown.
	Version string
	// SecretNamespace is where its credentials live: its own namespace for a
	// LogOutput, the operator's for a ClusterLogOutput.
	SecretNamespace string
	Spec            *v1.OutputSpec
	// Raw are a ClusterLogOutput's rawParameters, every key allowed (rawparams).
	Raw    []v1.RawParameter
	Policy *v1.RetentionPolicy
	// Salt keys the names of its credentials (snapshot.Snapshot.Salt).
	Salt []byte
}

// outputObject is what resolveOutput reads of a LogOutput or ClusterLogOutput.
type outputObject struct {
	ref     Ref
	version string
	// secretNamespace holds its Secrets.
	secretNamespace string
	spec            *v1.OutputSpec
	raw             []v1.RawParameter
	// whole is the whole spec, for the unsafe-value check.
	whole any
}

func logOutput(lo *v1.LogOutput) outputObject {
	return outputObject{ref: Ref{Kind: alias.LogOutput, Namespace: lo.Namespace, Name: lo.Name}, version: lo.ResourceVersion,
		secretNamespace: lo.Namespace, spec: &lo.Spec, whole: &lo.Spec}
}

func (r *resolver) clusterOutput(co *v1.ClusterLogOutput) outputObject {
	return outputObject{ref: Ref{Kind: alias.ClusterLogOutput, Name: co.Name}, version: co.ResourceVersion,
		secretNamespace: r.snap.OperatorNamespace, spec: &co.Spec.OutputSpec, raw: co.Spec.RawParameters, whole: &co.Spec}
}

// pipeline is a pipeline whose references resolve, with the outputs it may use.
type pipeline struct {
	Ref Ref
	// Version is the object's resourceVersion; empty when unknown.
	Version string
	// Created is the object's creationTimestamp: budgets admit older pipelines first.
	Created metav1.Time
	Agent   string
	Filters []v1.Filter
	Outputs []*output

	// Exactly one of the selections below drives the container input.
	Containers *v1.ContainerSelection
	Namespaces namespaceSet

	Files  *v1.FileInput
	Node   *v1.NodeInput
	Events *v1.EventsInput
	// EventNamespaces are the namespaces whose events the pipeline ships.
	EventNamespaces namespaceSet
}

// namespaceSet is the namespaces a pipeline reads: a fixed list, or every namespace
// except a list (so that a new namespace needs no new configuration).
type namespaceSet struct {
	Only      []string
	AllExcept []string
}

// resolver checks references once per object and remembers the outcome.
type resolver struct {
	snap  *snapshot.Snapshot
	index *snapshot.Index
	// outputs already checked: the output, or nil when it did not pass.
	outputs  map[Ref]*output
	problems []Problem
	memo     *Renderer
	// selectors caches each ClusterLogOutput's parsed allowedNamespaces.
	selectors map[string]labels.Selector
	// prechecked holds the checks run ahead, by spec (see precheck).
	prechecked map[any]*checkResult
	// excluded are resources left out because rendering them failed, with why.
	excluded map[Ref]string
	// held are resources left out by the caller, with the problem to report.
	held map[Ref]Problem
	// grants decide the AWS identity of tenant outputs without keys of their own.
	grants *identity.Grants
}

func newResolver(s *snapshot.Snapshot) *resolver {
	n := len(s.Outputs) + len(s.ClusterOutputs)
	return &resolver{snap: s, index: snapshot.NewIndex(s), outputs: make(map[Ref]*output, n), grants: identity.Compile(s.Grants)}
}

func (r *resolver) report(p Problem) { r.problems = append(r.problems, p) }

// failed reports a resource whose rendering failed, and says so on its status.
func (r *resolver) failed(ref Ref) bool {
	if p, ok := r.held[ref]; ok {
		if p.Reason != "" {
			p.Ref = ref
			r.report(p)
		}
		return true
	}
	why, ok := r.excluded[ref]
	if ok {
		r.report(problem(ref, conditions.ReasonRenderFailed, why))
	}
	return ok
}

// warn records a problem that leaves the resource in the configuration.
func (r *resolver) warn(p Problem) {
	p.Warning = true
	r.report(p)
}

// systemNamespaces are read only when a ClusterLogPipeline names them.
func (r *resolver) systemNamespaces() []string {
	sys := []string{"kube-node-lease", "kube-public", "kube-system", r.snap.OperatorNamespace}
	slices.Sort(sys)
	return slices.Compact(sys)
}

// resolveOutput checks an output's own values and references: raw parameters,
// Secrets and retention policy.
func (r *resolver) resolveOutput(obj outputObject) *output {
	ref, spec, secretNamespace := obj.ref, obj.spec, obj.secretNamespace
	if o, seen := r.outputs[ref]; seen {
		return o
	}
	r.outputs[ref] = nil
	if r.failed(ref) {
		return nil
	}
	checked := r.memo.check(ref, obj.version, obj.whole, true, r.prechecked)
	if checked.why != "" {
		r.report(problem(ref, cmpOr(checked.reason, conditions.ReasonUnsafeValue), checked.path, checked.why))
		return nil
	}
	ok := true
	// A refused key never reaches the configuration, whatever admission let through
	// (objects stored before the rules, logplane render on files).
	for _, kv := range obj.raw {
		if why := rawparams.Check(destinations[spec.Type].plugin, kv.Key); why != "" {
			r.report(problem(ref, conditions.ReasonRawParameterRefused, kv.Key, why))
			ok = false
		}
	}
	for _, sr := range checked.secretRefs {
		if !r.index.HasSecretKey(secretNamespace, string(sr.Ref.Name), sr.Ref.Key) {
			r.report(problem(ref, conditions.ReasonSecretNotFound, secretNamespace+"/"+string(sr.Ref.Name), sr.Ref.Key))
			ok = false
		} else if use, have := useOf(sr.Path), r.index.SecretKeyUses(secretNamespace, string(sr.Ref.Name), sr.Ref.Key); have&use != use {
			r.report(problem(ref, conditions.ReasonSecretInvalid, secretNamespace+"/"+string(sr.Ref.Name), sr.Ref.Key, secretvalue.Explain(have, use)))
			ok = false
		}
	}
	// An output with keys of its own needs no grant (a missing key is reported above);
	// one without needs a grant for what it would use of the agent's identity.
	if ref.Kind == alias.LogOutput && !r.identityGranted(ref, spec) {
		ok = false
	}
	var policy *v1.RetentionPolicy
	if spec.RetentionPolicy != "" {
		if policy = r.index.Policy(string(spec.RetentionPolicy)); policy == nil {
			r.report(problem(ref, conditions.ReasonRetentionPolicyNotFound, spec.RetentionPolicy))
			ok = false
		}
	}
	if !ok {
		return nil
	}
	if len(obj.raw) > 0 {
		r.warn(problem(ref, conditions.ReasonUnsupported))
	}
	o := &output{Ref: ref, Version: obj.version, SecretNamespace: secretNamespace, Spec: spec, Raw: obj.raw, Policy: policy,
		Salt: r.snap.Salt}
	r.outputs[ref] = o
	return o
}

// identityGranted reports a tenant output that would write to AWS with an identity its
// namespace was not granted (internal/identity): ClusterLogOutputs never come here.
func (r *resolver) identityGranted(ref Ref, spec *v1.OutputSpec) bool {
	nsLabels, _ := r.index.NamespaceLabels(ref.Namespace)
	v := r.grants.Decide(ref.Namespace, nsLabels, spec)
	if v.Use == identity.Refused {
		r.report(problem(ref, conditions.ReasonIdentityNotGranted, ref.Namespace, v.Wants, v.Ask))
		return false
	}
	return true
}

// useOf says what the value of the Secret reference at path must fit. Every value is
// copied into the agent's credentials Secrets beside every other output's, so none may
// be large. The two keys of AWSCredentials (aws.credentials of every AWS destination)
// go into the AWS credentials file every output shares; TLS material is mounted as a
// file; every other value reaches Fluent Bit through an environment variable.
func useOf(path string) secretvalue.Use {
	switch {
	case strings.HasSuffix(path, ".credentials.accessKeyId"):
		return secretvalue.AWSAccessKeyID | secretvalue.Bounded
	case strings.HasSuffix(path, ".credentials.secretAccessKey"):
		return secretvalue.AWSSecretAccessKey | secretvalue.Bounded
	case strings.HasSuffix(path, ".tls.ca"), strings.HasSuffix(path, ".tls.cert"), strings.HasSuffix(path, ".tls.key"):
		return secretvalue.Bounded
	}
	return secretvalue.SingleLine | secretvalue.Bounded
}

// pipelineOutputs resolves a pipeline's references to outputs. Broken ones are
// reported on the pipeline and skipped; the pipeline keeps its working outputs.
func (r *resolver) pipelineOutputs(pl Ref, outputRefs, clusterOutputRefs []v1.ResourceName) []*output {
	var outs []*output
	for _, name := range outputRefs {
		ref := Ref{Kind: alias.LogOutput, Namespace: pl.Namespace, Name: string(name)}
		lo := r.index.Output(pl.Namespace, string(name))
		if lo == nil {
			r.report(problem(pl, conditions.ReasonOutputNotFound, ref))
			continue
		}
		if o := r.resolveOutput(logOutput(lo)); o != nil {
			outs = append(outs, o)
		} else {
			r.report(problem(pl, conditions.ReasonOutputInvalid, ref, "see its status"))
		}
	}
	for _, name := range clusterOutputRefs {
		ref := Ref{Kind: alias.ClusterLogOutput, Name: string(name)}
		co := r.index.ClusterOutput(string(name))
		if co == nil {
			r.report(problem(pl, conditions.ReasonOutputNotFound, ref))
			continue
		}
		if pl.Kind == alias.LogPipeline && !r.admits(co, pl.Namespace) {
			r.report(problem(pl, conditions.ReasonOutputNotAllowed, ref, pl.Namespace))
			continue
		}
		if o := r.resolveOutput(r.clusterOutput(co)); o != nil {
			outs = append(outs, o)
		} else {
			r.report(problem(pl, conditions.ReasonOutputInvalid, ref, "see its status"))
		}
	}
	return outs
}

// admits applies a ClusterLogOutput's allowedNamespaces; unset or empty admits none.
func (r *resolver) admits(co *v1.ClusterLogOutput, namespace string) bool {
	sel := co.Spec.AllowedNamespaces
	if sel == nil || len(sel.MatchLabels) == 0 && len(sel.MatchExpressions) == 0 {
		return false
	}
	nsLabels, known := r.index.NamespaceLabels(namespace)
	if !known {
		return false
	}
	parsed, ok := r.selectors[co.Name]
	if !ok {
		var err error
		if parsed, err = metav1.LabelSelectorAsSelector(sel); err != nil {
			parsed = labels.Nothing()
		}
		if r.selectors == nil {
			r.selectors = map[string]labels.Selector{}
		}
		r.selectors[co.Name] = parsed
	}
	return parsed.Matches(nsLabels)
}

func matches(sel *metav1.LabelSelector, set labels.Set) bool {
	s, err := metav1.LabelSelectorAsSelector(sel)
	return err == nil && s.Matches(set)
}

// agentFor checks the agent a pipeline names; "default" always exists.
func (r *resolver) agentFor(pl Ref, name v1.AgentName) (string, bool) {
	if name == "" {
		name = v1.DefaultAgentName
	}
	if name != v1.DefaultAgentName && r.index.Agent(string(name)) == nil {
		r.report(problem(pl, conditions.ReasonAgentNotFound, name))
		return "", false
	}
	return string(name), true
}

// selectNamespaces turns a NamespaceSelection into the namespaces it reads now.
func (r *resolver) selectNamespaces(sel v1.NamespaceSelection) namespaceSet {
	system := r.systemNamespaces()
	exclude := make([]string, 0, len(sel.Exclude))
	for _, n := range sel.Exclude {
		exclude = append(exclude, string(n))
	}
	if sel.Selector == nil && len(sel.Include) == 0 {
		all := slices.Concat(exclude, system)
		slices.Sort(all)
		return namespaceSet{AllExcept: slices.Compact(all)}
	}
	// Non-nil even when nothing matches: an empty Only selects no namespace, while a
	// nil one would mean "all".
	only := []string{}
	for _, n := range sel.Include {
		only = append(only, string(n))
	}
	if sel.Selector != nil {
		for _, ns := range r.snap.Namespaces {
			if !slices.Contains(system, ns.Name) && matches(sel.Selector, ns.Labels) {
				only = append(only, ns.Name)
			}
		}
	}
	only = slices.DeleteFunc(only, func(n string) bool { return slices.Contains(exclude, n) })
	slices.Sort(only)
	return namespaceSet{Only: slices.Compact(only)}
}

// checkSpec reports a pipeline whose spec holds a value unsafe in a Fluent Bit file.
func (r *resolver) checkSpec(pl Ref, version string, spec any) bool {
	if c := r.memo.check(pl, version, spec, false, r.prechecked); c.why != "" {
		r.report(problem(pl, cmpOr(c.reason, conditions.ReasonUnsafeValue), c.path, c.why))
		return false
	}
	return true
}

// resolve checks every pipeline and returns those that can render, sorted.
func (r *resolver) resolve() []*pipeline {
	var out []*pipeline
	if r.memo == nil {
		out = r.resolveParallel()
	} else {
		// A Renderer's memo is not shared between goroutines; after its first render it
		// has most checks remembered, and resolving is cheap.
		out = r.resolveRange(0, len(r.snap.ClusterPipelines)+len(r.snap.Pipelines))
	}
	r.resolveUnusedOutputs()
	slices.SortFunc(out, func(a, b *pipeline) int { return compareRefs(a.Ref, b.Ref) })
	return out
}

// resolveUnusedOutputs checks the outputs no pipeline refers to, so that one with a
// missing Secret or policy says so on its status before a pipeline starts using it.
func (r *resolver) resolveUnusedOutputs() {
	for i := range r.snap.Outputs {
		obj := logOutput(&r.snap.Outputs[i])
		if _, seen := r.outputs[obj.ref]; !seen {
			r.resolveOutput(obj)
		}
	}
	for i := range r.snap.ClusterOutputs {
		obj := r.clusterOutput(&r.snap.ClusterOutputs[i])
		if _, seen := r.outputs[obj.ref]; !seen {
			r.resolveOutput(obj)
		}
	}
}

// resolveParallel resolves the pipelines on every processor when there are many:
// each worker takes a contiguous part with a resolver of its own, and the parts'
// pipelines and problems are joined in order. An output several parts use is resolved
// by each, and its problems kept from the first part only, so the problems are those
// of resolving everything in one go (each resource's in the same order).
func (r *resolver) resolveParallel() []*pipeline {
	n := len(r.snap.ClusterPipelines) + len(r.snap.Pipelines)
	workers := workersFor(n, 512)
	if workers < 2 {
		return r.resolveRange(0, n)
	}
	parts := make([]*resolver, workers)
	outs := make([][]*pipeline, workers)
	outputs := len(r.snap.Outputs)/workers + len(r.snap.ClusterOutputs) // each part's, about
	parallel(workers, 1, func(w int) {
		part := &resolver{snap: r.snap, index: r.index, outputs: make(map[Ref]*output, outputs),
			prechecked: r.prechecked, excluded: r.excluded, held: r.held, grants: r.grants}
		parts[w] = part
		outs[w] = part.resolveRange(w*n/workers, (w+1)*n/workers)
	})
	reported := map[Ref]bool{} // outputs whose problems an earlier part reported
	for _, part := range parts {
		var mine []Ref
		for _, p := range part.problems {
			if isOutputKind(p.Ref.Kind) {
				if reported[p.Ref] {
					continue
				}
				mine = append(mine, p.Ref)
			}
			r.problems = append(r.problems, p)
		}
		for _, ref := range mine {
			reported[ref] = true
		}
		// Checked outputs are known to the whole, so that none is checked again
		// as unused.
		for ref, o := range part.outputs {
			if _, seen := r.outputs[ref]; !seen {
				r.outputs[ref] = o
			}
		}
	}
	return slices.Concat(outs...)
}

func isOutputKind(kind string) bool { return kind == alias.LogOutput || kind == alias.ClusterLogOutput }

// resolveRange resolves pipelines from..to-1 of the cluster pipelines followed by the
// pipelines, in that order.
func (r *resolver) resolveRange(from, to int) []*pipeline {
	var out []*pipeline
	nc := len(r.snap.ClusterPipelines)
	for i := from; i < to; i++ {
		var p *pipeline
		if i < nc {
			p = r.resolveClusterPipeline(&r.snap.ClusterPipelines[i])
		} else {
			p = r.resolvePipeline(&r.snap.Pipelines[i-nc])
		}
		if p != nil {
			out = append(out, p)
		}
	}
	return out
}

// resolveClusterPipeline checks one ClusterLogPipeline; nil when it cannot render.
func (r *resolver) resolveClusterPipeline(cp *v1.ClusterLogPipeline) *pipeline {
	ref := Ref{Kind: alias.ClusterLogPipeline, Name: cp.Name}
	if r.failed(ref) {
		return nil
	}
	agent, ok := r.agentFor(ref, cp.Spec.Agent)
	if !ok || !r.checkSpec(ref, cp.ResourceVersion, &cp.Spec) {
		return nil
	}
	outs := r.pipelineOutputs(ref, nil, cp.Spec.ClusterOutputRefs)
	if len(outs) == 0 {
		return nil
	}
	p := &pipeline{Ref: ref, Version: cp.ResourceVersion, Created: cp.CreationTimestamp, Agent: agent, Filters: cp.Spec.Filters, Outputs: outs,
		Node: cp.Spec.Input.Node, Events: cp.Spec.Input.Events}
	if e := cp.Spec.Input.Events; e != nil {
		p.EventNamespaces = r.selectNamespaces(e.Namespaces)
		if p.EventNamespaces.Only != nil && len(p.EventNamespaces.Only) == 0 {
			r.warn(problem(ref, conditions.ReasonNoNamespacesSelected, "input.events.namespaces"))
		}
	}
	if c := cp.Spec.Input.Containers; c != nil {
		sel := c.ContainerSelection
		p.Containers = &sel
		p.Namespaces = r.selectNamespaces(c.Namespaces)
		if p.Namespaces.Only != nil && len(p.Namespaces.Only) == 0 {
			r.warn(problem(ref, conditions.ReasonNoNamespacesSelected, "input.containers.namespaces"))
		}
	}
	return p
}

// resolvePipeline checks one LogPipeline; nil when it cannot render.
func (r *resolver) resolvePipeline(lp *v1.LogPipeline) *pipeline {
	ref := Ref{Kind: alias.LogPipeline, Namespace: lp.Namespace, Name: lp.Name}
	if r.failed(ref) {
		return nil
	}
	agent := ""
	if lp.Spec.Input.Containers != nil {
		var ok bool
		if agent, ok = r.agentFor(ref, lp.Spec.Agent); !ok {
			return nil
		}
	}
	if !r.checkSpec(ref, lp.ResourceVersion, &lp.Spec) {
		return nil
	}
	outs := r.pipelineOutputs(ref, lp.Spec.OutputRefs, lp.Spec.ClusterOutputRefs)
	if len(outs) == 0 {
		return nil
	}
	// A tenant pipeline reads its own namespace and nothing else: the namespace
	// comes from its metadata, never from its spec.
	return &pipeline{Ref: ref, Version: lp.ResourceVersion, Created: lp.CreationTimestamp, Agent: agent, Filters: lp.Spec.Filters, Outputs: outs,
		Containers: lp.Spec.Input.Containers, Namespaces: namespaceSet{Only: []string{lp.Namespace}},
		Files: lp.Spec.Input.Files}
}
