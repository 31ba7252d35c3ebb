package agent

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/logplane/logplane/api/v1alpha1"
	"github.com/logplane/logplane/internal/render"
	"github.com/logplane/logplane/internal/snapshot"
)

// gather builds the renderer's snapshot from the cache, and reads the referenced
// Secrets (key names and what their values are fit for go into the snapshot).
func (r *Reconciler) gather(ctx context.Context) (*snapshot.Snapshot, map[[2]string]*corev1.Secret, error) {
	var (
		agents     v1.LogAgentList
		cpipelines v1.ClusterLogPipelineList
		pipelines  v1.LogPipelineList
		outputs    v1.LogOutputList
		coutputs   v1.ClusterLogOutputList
		policies   v1.RetentionPolicyList
		grants     v1.IdentityGrantList
		namespaces metav1.PartialObjectMetadataList // labels are all selectors need
	)
	namespaces.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("NamespaceList"))
	// LogAgents are copied: the reconcile writes an agent's status on its object.
	if err := r.Client.List(ctx, &agents); err != nil {
		return nil, nil, fmt.Errorf("failed to list LogAgents: %w", err)
	}
	// The rest is only read, by the renderer and the verdicts, so it is listed without
	// a deep copy of every object on every render; the informer replaces a cached
	// object on update rather than changing it, so what the renderer keeps stays valid.
	for _, l := range []client.ObjectList{&cpipelines, &pipelines, &outputs, &coutputs, &policies, &grants, &namespaces} {
		if err := r.Client.List(ctx, l, client.UnsafeDisableDeepCopy); err != nil {
			return nil, nil, fmt.Errorf("failed to list %T: %w", l, err)
		}
	}
	s := &snapshot.Snapshot{
		OperatorNamespace: r.Namespace,
		Salt:              r.Salt,
		Agents:            agents.Items,
		ClusterPipelines:  cpipelines.Items,
		Pipelines:         pipelines.Items,
		Outputs:           outputs.Items,
		ClusterOutputs:    coutputs.Items,
		Policies:          policies.Items,
		Grants:            grants.Items,
	}
	for _, ns := range namespaces.Items {
		s.Namespaces = append(s.Namespaces, snapshot.Namespace{Name: ns.Name, Labels: ns.Labels})
	}

	secrets := map[[2]string]*corev1.Secret{}
	want := func(ns string, spec any) {
		for _, ref := range snapshot.SecretRefs(spec) {
			secrets[[2]string{ns, string(ref.Ref.Name)}] = nil
		}
	}
	for i := range s.Outputs {
		want(s.Outputs[i].Namespace, &s.Outputs[i].Spec)
	}
	for i := range s.ClusterOutputs {
		want(r.Namespace, &s.ClusterOutputs[i].Spec)
	}
	for key := range secrets {
		var sec corev1.Secret
		err := r.readSecret(ctx, client.ObjectKey{Namespace: key[0], Name: key[1]}, &sec)
		if apierrors.IsNotFound(err) {
			continue // reported by the renderer on the resource that refers to it
		}
		if err != nil {
			return nil, nil, fmt.Errorf("failed to get Secret %s/%s: %w", key[0], key[1], err)
		}
		secrets[key] = &sec
		s.Secrets = append(s.Secrets, snapshot.NewSecret(key[0], key[1], sec.Data))
	}
	if r.SecretData != nil {
		r.SecretData.Retain(secrets)
	}
	return s, secrets, nil
}

func (r *Reconciler) readSecret(ctx context.Context, key client.ObjectKey, s *corev1.Secret) error {
	if r.SecretData != nil {
		return r.SecretData.Get(ctx, key, s)
	}
	return r.Secrets.Get(ctx, key, s)
}

// secretValues picks the values a configuration needs out of the Secrets read.
func secretValues(cfg render.Config, secrets map[[2]string]*corev1.Secret) map[render.SecretSource][]byte {
	values := map[render.SecretSource][]byte{}
	for _, src := range cfg.SecretSources() {
		if sec := secrets[[2]string{src.Namespace, src.Name}]; sec != nil {
			if v, ok := sec.Data[src.Key]; ok {
				values[src] = v
			}
		}
	}
	return values
}
