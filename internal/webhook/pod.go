// Package webhook serves the pod admission webhook that injects the file-tailing
// sidecar. It gathers, from the manager's cache, the file-input LogPipelines that
// select a pod and the metadata of their rendered Secrets, and hands them to the pure
// mutator in internal/sidecar. It never blocks or fails a pod: every error admits the
// pod unchanged and is counted, logged and, where a pipeline is concerned, reported
// as an event on it.
package webhook

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	v1 "github.com/logplane/logplane/api/v1alpha1"
	"github.com/logplane/logplane/internal/conditions"
	"github.com/logplane/logplane/internal/sidecar"
)

// Path is where the API server sends pod admissions; the marker below names it too.
const Path = "/mutate-v1-pod"

// The sidecar webhook can never block a pod: failures are ignored, the timeout is
// short, only namespaces labelled logging.logplane.dev/sidecar-injection=enabled are
// sent, kube-system and the operator's namespace never, and logplane's own pods
// never. (Under OLM the namespaceSelector is OLM's; Handle checks the opt-in itself.)
//
// +kubebuilder:webhook:path=/mutate-v1-pod,mutating=true,failurePolicy=ignore,sideEffects=None,matchPolicy=Equivalent,timeoutSeconds=5,reinvocationPolicy=Never,groups="",resources=pods,verbs=create,versions=v1,name=sidecar.logging.logplane.dev,admissionReviewVersions=v1,serviceName=logplane-webhook-service,serviceNamespace=logplane-system,patch=`{"namespaceSelector":{"matchExpressions":[{"key":"logging.logplane.dev/sidecar-injection","operator":"In","values":["enabled"]},{"key":"kubernetes.io/metadata.name","operator":"NotIn","values":["kube-system","logplane-system"]}]},"objectSelector":{"matchExpressions":[{"key":"app.kubernetes.io/managed-by","operator":"NotIn","values":["logplane"]}]}}`
// +kubebuilder:webhookconfiguration:mutating=true,name=logplane-mutating-webhook-configuration

// lookupTimeout bounds the cache reads of one admission, well inside the webhook's
// timeoutSeconds: a cache that is not synced yet must not hold a pod back.
const lookupTimeout = 2 * time.Second

// Outcomes counted by logplane_sidecar_admissions_total.
const (
	OutcomeInjected  = "injected"
	OutcomeUnchanged = "unchanged"
	OutcomeError     = "error"
)

// Admissions counts admissions by outcome; registered with the manager's metrics.
var Admissions = prometheus.NewCounterVec(prometheus.CounterOpts{
	Name: "logplane_sidecar_admissions_total",
	Help: "Pod admissions by the sidecar webhook, by outcome: injected, unchanged, or error (admitted unchanged).",
}, []string{"outcome"})

// EventRecorder is the part of the events.k8s.io recorder the webhook uses.
type EventRecorder interface {
	Eventf(regarding, related runtime.Object, eventtype, reason, action, note string, args ...any)
}

// PodInjector is the admission handler.
type PodInjector struct {
	// Reader reads LogPipelines, Namespace and Secret metadata from the cache.
	Reader  client.Reader
	Options sidecar.Options
	// Events reports pipelines that select a pod but could not be injected; nil reports none.
	Events EventRecorder
	Log    logr.Logger
}

// Handle admits every pod; a pod that opted in and is selected gets the sidecar.
func (h *PodInjector) Handle(ctx context.Context, req admission.Request) (resp admission.Response) {
	defer func() {
		if r := recover(); r != nil {
			resp = h.failed(req, fmt.Errorf("panic: %v", r))
		}
	}()
	if req.Operation != admissionv1.Create {
		return h.unchanged("only pod creations are injected")
	}
	var pod corev1.Pod
	if err := json.Unmarshal(req.Object.Raw, &pod); err != nil {
		return h.failed(req, fmt.Errorf("failed to decode pod: %w", err))
	}
	ctx, cancel := context.WithTimeout(ctx, lookupTimeout)
	defer cancel()
	pipelines, objs, why, err := h.selecting(ctx, req.Namespace, &pod)
	if err != nil {
		return h.failed(req, err)
	}
	if why != "" {
		return h.unchanged(why)
	}
	out, res := sidecar.Mutate(&pod, req.Namespace, pipelines, h.Options)
	for _, s := range res.Skipped {
		h.event(objs[s.Pipeline], conditions.ReasonSidecarNotInjected, podName(&pod), s.Reason)
	}
	if res.Unchanged != "" {
		return h.unchanged(res.Unchanged)
	}
	Admissions.WithLabelValues(OutcomeInjected).Inc()
	h.Log.V(1).Info("injected sidecar", "namespace", req.Namespace, "pod", podName(&pod), "pipelines", res.Injected)
	return admission.Patched("sidecar injected", sidecar.Patch(&pod, out)...)
}

// selecting returns the file-input pipelines of the namespace that select pod, each
// with its Secret's manifest (empty when not rendered yet), or why none applies.
func (h *PodInjector) selecting(ctx context.Context, namespace string, pod *corev1.Pod) ([]sidecar.Pipeline, map[string]*v1.LogPipeline, string, error) {
	// The webhook configuration selects namespaces by label; checking again here keeps
	// a hand-edited configuration from injecting where nobody opted in.
	ns := &metav1.PartialObjectMetadata{}
	ns.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Namespace"))
	if err := h.Reader.Get(ctx, client.ObjectKey{Name: namespace}, ns); err != nil {
		return nil, nil, "", fmt.Errorf("failed to get namespace %s: %w", namespace, err)
	}
	if ns.Labels[sidecar.LabelInjection] != sidecar.InjectionEnabled {
		return nil, nil, "namespace " + namespace + " is not labelled " + sidecar.LabelInjection + "=" + sidecar.InjectionEnabled, nil
	}
	var list v1.LogPipelineList
	if err := h.Reader.List(ctx, &list, client.InNamespace(namespace)); err != nil {
		return nil, nil, "", fmt.Errorf("failed to list LogPipelines in %s: %w", namespace, err)
	}
	var out []sidecar.Pipeline
	objs := map[string]*v1.LogPipeline{}
	for i := range list.Items {
		p := &list.Items[i]
		if p.DeletionTimestamp != nil || !sidecar.Selects(p.Spec.Input.Files, pod.Labels) {
			continue
		}
		objs[p.Name] = p
		m, err := h.manifest(ctx, namespace, p.Name)
		if err != nil {
			return nil, nil, "", err
		}
		out = append(out, sidecar.Pipeline{Name: p.Name, Input: *p.Spec.Input.Files, Manifest: m})
	}
	return out, objs, "", nil
}

// manifest reads a pipeline's Secret metadata; a missing or unreadable Secret is an
// empty manifest, which the mutator skips, so that no pod ever waits for a volume
// that does not exist.
func (h *PodInjector) manifest(ctx context.Context, namespace, pipeline string) (sidecar.Manifest, error) {
	s := &metav1.PartialObjectMetadata{}
	s.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Secret"))
	err := h.Reader.Get(ctx, client.ObjectKey{Namespace: namespace, Name: sidecar.SecretName(pipeline)}, s)
	if apierrors.IsNotFound(err) {
		return sidecar.Manifest{}, nil
	}
	if err != nil {
		return sidecar.Manifest{}, fmt.Errorf("failed to get the sidecar Secret of %s/%s: %w", namespace, pipeline, err)
	}
	m, err := sidecar.DecodeManifest(s.Annotations[sidecar.AnnotationManifest])
	if err != nil {
		return sidecar.Manifest{}, nil
	}
	return m, nil
}

func (h *PodInjector) unchanged(why string) admission.Response {
	Admissions.WithLabelValues(OutcomeUnchanged).Inc()
	return admission.Allowed(why)
}

// failed admits the pod as it is: a logging sidecar is never worth a failed deployment.
func (h *PodInjector) failed(req admission.Request, err error) admission.Response {
	Admissions.WithLabelValues(OutcomeError).Inc()
	h.Log.Error(err, "admitted pod without sidecar", "namespace", req.Namespace, "name", req.Name, "uid", req.UID)
	resp := admission.Allowed("sidecar not injected: " + err.Error())
	resp.Result.Code = http.StatusOK
	return resp
}

func (h *PodInjector) event(p *v1.LogPipeline, reason, pod, why string) {
	if h.Events == nil || p == nil {
		return
	}
	h.Events.Eventf(p, nil, corev1.EventTypeWarning, reason, "Inject", "%s", conditions.Message(reason, pod, why))
}

// podName names a pod being created, which may have only a generateName yet.
func podName(p *corev1.Pod) string {
	if p.Name != "" {
		return p.Name
	}
	return p.GenerateName + "*"
}
