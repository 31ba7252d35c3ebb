package agent

import (
	"context"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	agentobjects "github.com/logplane/logplane/internal/agent"
	"github.com/logplane/logplane/internal/apply"
	"github.com/logplane/logplane/internal/canary"
	"github.com/logplane/logplane/internal/render"
)

// The canary runs as a pod in the operator's namespace: the operator creates and
// deletes it, and its NetworkPolicy.
// +kubebuilder:rbac:groups="",resources=pods,verbs=create;delete,namespace=logplane-system
// +kubebuilder:rbac:groups=networking.k8s.io,resources=networkpolicies,verbs=get;create;patch,namespace=logplane-system

// PodProver proves configurations with a canary pod (agentobjects.BuildCanary) and
// judges it from its status (canary.Judge). One canary per agent exists at a time;
// a verdict deletes it.
type PodProver struct {
	// Client reads pods from the cache (the operator's pods are cached) and writes.
	Client client.Client
	// Namespace is the operator's, where canaries run.
	Namespace string
	// Timing bounds a run; zero means canary.DefaultTiming.
	Timing canary.Timing
	// Now is the clock; nil is time.Now.
	Now func() time.Time
}

// Prove implements Prover.
func (p *PodProver) Prove(ctx context.Context, agent string, objs *agentobjects.CanaryObjects) (canary.Verdict, error) {
	var pod corev1.Pod
	err := p.Client.Get(ctx, client.ObjectKeyFromObject(objs.Pod), &pod)
	if apierrors.IsNotFound(err) {
		if err := p.clean(ctx, agent, objs.Pod.Name); err != nil {
			return canary.Verdict{}, err
		}
		// What the pod mounts first, so that it starts at once.
		for _, obj := range objs.All() {
			if obj == client.Object(objs.Pod) {
				break
			}
			if err := apply.Apply(ctx, p.Client, obj); err != nil {
				return canary.Verdict{}, err
			}
		}
		if err := p.Client.Create(ctx, objs.Pod.DeepCopy()); err != nil && !apierrors.IsAlreadyExists(err) {
			return canary.Verdict{}, fmt.Errorf("failed to create canary pod %s: %w", objs.Pod.Name, err)
		}
		return canary.Verdict{Outcome: canary.Pending}, nil
	}
	if err != nil {
		return canary.Verdict{}, fmt.Errorf("failed to get canary pod %s: %w", objs.Pod.Name, err)
	}
	now := time.Now()
	if p.Now != nil {
		now = p.Now()
	}
	timing := p.Timing
	if timing == (canary.Timing{}) {
		timing = canary.DefaultTiming
	}
	v := canary.Judge(&pod, render.AgentContainerName, now, timing)
	if v.Outcome != canary.Pending {
		if err := p.clean(ctx, agent, ""); err != nil {
			return v, err
		}
	}
	return v, nil
}

// Clean implements Prover.
func (p *PodProver) Clean(ctx context.Context, agent string) error { return p.clean(ctx, agent, "") }

// clean deletes the agent's canary pods and Secrets except those of the canary named
// keep.
func (p *PodProver) clean(ctx context.Context, agent, keep string) error {
	labels := client.MatchingLabels(agentobjects.CanaryLabels(agent))
	var pods corev1.PodList
	if err := p.Client.List(ctx, &pods, client.InNamespace(p.Namespace), labels); err != nil {
		return fmt.Errorf("failed to list canary pods: %w", err)
	}
	for i := range pods.Items {
		if pod := &pods.Items[i]; pod.Name != keep && pod.DeletionTimestamp == nil {
			if err := p.Client.Delete(ctx, pod, client.GracePeriodSeconds(0)); err != nil && !apierrors.IsNotFound(err) {
				return fmt.Errorf("failed to delete canary pod %s: %w", pod.Name, err)
			}
		}
	}
	var secrets metav1.PartialObjectMetadataList
	secrets.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("SecretList"))
	if err := p.Client.List(ctx, &secrets, client.InNamespace(p.Namespace), labels); err != nil {
		return fmt.Errorf("failed to list canary Secrets: %w", err)
	}
	for i := range secrets.Items {
		s := &secrets.Items[i]
		if keep != "" && strings.HasPrefix(s.Name, keep+"-") {
			continue
		}
		if err := p.Client.Delete(ctx, s); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("failed to delete canary Secret %s: %w", s.Name, err)
		}
	}
	return nil
}
