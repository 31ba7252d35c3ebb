// Package sidecar reconciles one file-input LogPipeline: it renders the pipeline's
// sidecar configuration from a snapshot holding only what that pipeline refers to,
// writes it into a Secret in the pipeline's namespace (owned by the pipeline), and
// counts the selected pods that run the current configuration, an older one, or none.
// It runs beside the agent reconciler, which keeps writing the pipeline's
// ConfigGenerated and Ready conditions; this one owns status.sidecars and the
// SidecarsCurrent condition.
package sidecar

import (
	"context"
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	v1 "github.com/logplane/logplane/api/v1alpha1"
	"github.com/logplane/logplane/internal/alias"
	"github.com/logplane/logplane/internal/apply"
	"github.com/logplane/logplane/internal/conditions"
	"github.com/logplane/logplane/internal/render"
	"github.com/logplane/logplane/internal/sidecar"
	"github.com/logplane/logplane/internal/snapshot"
)

// Reconciler handles one LogPipeline per request.
type Reconciler struct {
	// Client reads logplane resources and Secret metadata from the cache, and writes.
	Client client.Client
	// Secrets reads referenced Secrets directly; their data is never cached.
	Secrets client.Reader
	// Pods lists pod metadata (labels and the sidecar annotation) in a namespace.
	Pods client.Reader
	// Namespace is the operator's: ClusterLogOutput Secrets live there.
	Namespace string
	// Salt keys the names of credentials (snapshot.Snapshot.Salt).
	Salt []byte
	// Generated remembers every configuration written, for the metrics scraper
	// (sidecar.Verifier); nil remembers nothing.
	Generated *sidecar.Generated
}

// Reconcile writes or removes the pipeline's sidecar Secret and its sidecar status.
func (r *Reconciler) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	var p v1.LogPipeline
	if err := r.Client.Get(ctx, req.NamespacedName, &p); err != nil {
		if apierrors.IsNotFound(err) {
			r.Generated.Forget(req.Namespace, req.Name)
		}
		return reconcile.Result{}, client.IgnoreNotFound(err) // deleted: its Secret goes with it
	}
	if p.Spec.Input.Files == nil || p.DeletionTimestamp != nil {
		r.Generated.Forget(p.Namespace, p.Name)
		return reconcile.Result{}, r.removeSecret(ctx, p.Namespace, p.Name)
	}
	cfg, values, err := r.render(ctx, &p)
	if err != nil {
		return reconcile.Result{}, err
	}
	hash := ""
	if cfg != nil {
		s, missing, err := sidecar.BuildSecret(p.Name, p.Namespace, *cfg, values)
		if err == nil && len(missing) > 0 {
			err = fmt.Errorf("secret %s/%s key %s is gone", missing[0].Namespace, missing[0].Name, missing[0].Key)
		}
		if err != nil {
			// Reported by the agent reconciler's ConfigGenerated when it is the
			// configuration; a value that vanished since the read comes back here.
			log.FromContext(ctx).Info("sidecar configuration not written", "reason", err.Error())
			cfg = nil
		} else {
			if err := controllerutil.SetControllerReference(&p, s, r.Client.Scheme()); err != nil {
				return reconcile.Result{}, err
			}
			if err := apply.Apply(ctx, r.Client, s); err != nil {
				return reconcile.Result{}, err
			}
			m, _ := sidecar.DecodeManifest(s.Annotations[sidecar.AnnotationManifest])
			hash = m.Hash
			r.Generated.Record(p.Namespace, p.Name, m)
		}
	}
	if cfg == nil {
		// Nothing to run: new pods get no sidecar rather than a stale one.
		if err := r.removeSecret(ctx, p.Namespace, p.Name); err != nil {
			return reconcile.Result{}, err
		}
	}
	counts, err := r.count(ctx, &p, hash)
	if err != nil {
		return reconcile.Result{}, err
	}
	return reconcile.Result{}, r.writeStatus(ctx, &p, counts, cfg != nil)
}

// render renders this pipeline alone, and returns the secret values its configuration
// needs. A nil configuration means the pipeline cannot render now; the agent
// reconciler reports why on ConfigGenerated.
func (r *Reconciler) render(ctx context.Context, p *v1.LogPipeline) (*render.Config, map[render.SecretSource][]byte, error) {
	snap, secrets, err := r.gather(ctx, p)
	if err != nil {
		return nil, nil, err
	}
	ref := render.Ref{Kind: alias.LogPipeline, Namespace: p.Namespace, Name: p.Name}
	for _, sc := range render.Render(snap).Sidecars {
		if sc.Pipeline == ref {
			values := map[render.SecretSource][]byte{}
			for _, src := range sc.SecretSources() {
				if s := secrets[[2]string{src.Namespace, src.Name}]; s != nil {
					if v, ok := s.Data[src.Key]; ok {
						values[src] = v
					}
				}
			}
			return &sc.Config, values, nil
		}
	}
	return nil, nil, nil
}

// gather builds a snapshot of the pipeline and what it refers to: its namespace's
// outputs, the cluster outputs and retention policies, namespace labels (for
// allowedNamespaces), and the key names of the Secrets those outputs use.
func (r *Reconciler) gather(ctx context.Context, p *v1.LogPipeline) (*snapshot.Snapshot, map[[2]string]*corev1.Secret, error) {
	var (
		outputs    v1.LogOutputList
		coutputs   v1.ClusterLogOutputList
		policies   v1.RetentionPolicyList
		namespaces metav1.PartialObjectMetadataList
	)
	namespaces.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("NamespaceList"))
	if err := r.Client.List(ctx, &outputs, client.InNamespace(p.Namespace)); err != nil {
		return nil, nil, fmt.Errorf("failed to list LogOutputs: %w", err)
	}
	for _, l := range []client.ObjectList{&coutputs, &policies, &namespaces} {
		if err := r.Client.List(ctx, l); err != nil {
			return nil, nil, fmt.Errorf("failed to list %T: %w", l, err)
		}
	}
	s := &snapshot.Snapshot{
		OperatorNamespace: r.Namespace,
		Salt:              r.Salt,
		Pipelines:         []v1.LogPipeline{*p},
		Policies:          policies.Items,
	}
	for _, o := range outputs.Items {
		if slices.Contains(p.Spec.OutputRefs, v1.ResourceName(o.Name)) {
			s.Outputs = append(s.Outputs, o)
		}
	}
	for _, o := range coutputs.Items {
		if slices.Contains(p.Spec.ClusterOutputRefs, v1.ResourceName(o.Name)) {
			s.ClusterOutputs = append(s.ClusterOutputs, o)
		}
	}
	for _, ns := range namespaces.Items {
		s.Namespaces = append(s.Namespaces, snapshot.Namespace{Name: ns.Name, Labels: ns.Labels})
	}
	secrets := map[[2]string]*corev1.Secret{}
	for _, o := range s.Outputs {
		for _, ref := range snapshot.SecretRefs(&o.Spec) {
			secrets[[2]string{o.Namespace, string(ref.Ref.Name)}] = nil
		}
	}
	// Cluster outputs' Secrets are read for their key names only: the renderer
	// refuses to copy platform credentials into a tenant namespace, and says so.
	for _, o := range s.ClusterOutputs {
		for _, ref := range snapshot.SecretRefs(&o.Spec) {
			secrets[[2]string{r.Namespace, string(ref.Ref.Name)}] = nil
		}
	}
	for key := range secrets {
		var sec corev1.Secret
		err := r.Secrets.Get(ctx, client.ObjectKey{Namespace: key[0], Name: key[1]}, &sec)
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return nil, nil, fmt.Errorf("failed to get Secret %s/%s: %w", key[0], key[1], err)
		}
		s.Secrets = append(s.Secrets, snapshot.NewSecret(key[0], key[1], sec.Data))
		if key[0] == p.Namespace {
			secrets[key] = &sec
		}
	}
	return s, secrets, nil
}

// removeSecret deletes the pipeline's sidecar Secret if the cache knows one.
func (r *Reconciler) removeSecret(ctx context.Context, namespace, pipeline string) error {
	s := &metav1.PartialObjectMetadata{}
	s.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Secret"))
	err := r.Client.Get(ctx, client.ObjectKey{Namespace: namespace, Name: sidecar.SecretName(pipeline)}, s)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("failed to get sidecar Secret: %w", err)
	}
	if err := r.Client.Delete(ctx, s); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("failed to delete sidecar Secret %s/%s: %w", namespace, s.Name, err)
	}
	return nil
}

// count sorts the namespace's pods the pipeline selects by the configuration they run.
func (r *Reconciler) count(ctx context.Context, p *v1.LogPipeline, hash string) (v1.SidecarCounts, error) {
	var pods metav1.PartialObjectMetadataList
	pods.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("PodList"))
	if err := r.Pods.List(ctx, &pods, client.InNamespace(p.Namespace)); err != nil {
		return v1.SidecarCounts{}, fmt.Errorf("failed to list pods: %w", err)
	}
	metas := make([]sidecar.PodMeta, len(pods.Items))
	for i, pod := range pods.Items {
		metas[i] = sidecar.PodMeta{Labels: pod.Labels, Annotations: pod.Annotations, Terminating: pod.DeletionTimestamp != nil}
	}
	return sidecar.Count(p.Name, p.Spec.Input.Files, hash, metas), nil
}

// writeStatus sets status.sidecars and SidecarsCurrent, only when they changed. The
// patch carries the resourceVersion it was computed from, so it never overwrites a
// condition the agent reconciler wrote in between; a conflict is retried.
func (r *Reconciler) writeStatus(ctx context.Context, p *v1.LogPipeline, counts v1.SidecarCounts, configured bool) error {
	base := p.DeepCopy()
	cond := SidecarCondition(counts, configured, p.Generation)
	changed := !equality.Semantic.DeepEqual(p.Status.Sidecars, &counts)
	p.Status.Sidecars = &counts
	before := meta.FindStatusCondition(p.Status.Conditions, cond.Type)
	if before == nil || before.Status != cond.Status || before.Reason != cond.Reason || before.Message != cond.Message || before.ObservedGeneration != cond.ObservedGeneration {
		meta.SetStatusCondition(&p.Status.Conditions, cond)
		changed = true
	}
	if !changed {
		return nil
	}
	if err := r.Client.Status().Patch(ctx, p, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{})); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("failed to write status of LogPipeline %s/%s: %w", p.Namespace, p.Name, err)
	}
	return nil
}

// SidecarCondition tells the user whether every selected pod runs the current
// sidecar, and what to do when not.
func SidecarCondition(c v1.SidecarCounts, configured bool, generation int64) metav1.Condition {
	total := c.Injected + c.Outdated + c.Missing
	switch {
	case !configured:
		return conditions.New(conditions.TypeSidecarsCurrent, metav1.ConditionFalse, conditions.ReasonSidecarNotConfigured, generation)
	case c.Outdated > 0 || c.Missing > 0:
		return conditions.New(conditions.TypeSidecarsCurrent, metav1.ConditionFalse, conditions.ReasonSidecarsOutdated, generation, total, c.Outdated, c.Missing)
	}
	return conditions.New(conditions.TypeSidecarsCurrent, metav1.ConditionTrue, conditions.ReasonSidecarsCurrent, generation, c.Injected)
}
