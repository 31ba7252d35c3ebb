package webhook

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	admissionv1 "k8s.io/api/admission/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	v1 "github.com/logplane/logplane/api/v1alpha1"
	"github.com/logplane/logplane/internal/validation"
)

// ValidatePath is where the API server sends admissions of pipelines and outputs.
const ValidatePath = "/validate-logging-logplane-dev-v1alpha1"

// The validating webhook is the admission half of the two gates (DESIGN.md): it
// refuses, when a tenant applies it, what the renderer would otherwise leave out with
// InvalidValue or UnsafeValue on the resource's status, so that kubectl and Argo CD
// say what is wrong at once.
//
// failurePolicy Ignore: the renderer runs the same checks (internal/validation) on
// every object it renders, so an object that passes while the operator is down or
// slow still never reaches an agent; it is left out and named on its own status. Fail
// would buy nothing for safety and would make every tenant's apply depend on the
// operator's pods. The same reasoning admits objects stored before a rule existed:
// see Handle.
//
// +kubebuilder:webhook:path=/validate-logging-logplane-dev-v1alpha1,mutating=false,failurePolicy=ignore,sideEffects=None,matchPolicy=Equivalent,timeoutSeconds=5,groups=logging.logplane.dev,resources=logpipelines;clusterlogpipelines;logoutputs;clusterlogoutputs,verbs=create;update,versions=v1alpha1,name=validate.logging.logplane.dev,admissionReviewVersions=v1,serviceName=logplane-webhook-service,serviceNamespace=logplane-system
// +kubebuilder:webhookconfiguration:mutating=false,name=logplane-validating-webhook-configuration

// Outcomes counted by logplane_validation_admissions_total (and OutcomeError).
const (
	OutcomeAllowed = "allowed"
	OutcomeDenied  = "denied"
	// OutcomeUnchecked: admitted without the checks, every slot being busy.
	OutcomeUnchecked = "unchecked"
)

// Validations counts admissions of pipelines and outputs by kind and outcome;
// registered with the manager's metrics.
var Validations = prometheus.NewCounterVec(prometheus.CounterOpts{
	Name: "logplane_validation_admissions_total",
	Help: "Admissions of pipelines and outputs by the validating webhook, by kind and outcome: allowed, denied, unchecked (admitted while every check slot was busy) or error (admitted unchecked).",
}, []string{"kind", "outcome"})

// Validator is the admission handler for LogPipeline, ClusterLogPipeline, LogOutput
// and ClusterLogOutput. It reads nothing from the cluster: every check is a pure
// function of the object.
type Validator struct {
	Log logr.Logger
	// Slots bounds the checks that run at once; nil runs every one at once. A spec
	// holding a thousand long regexes takes seconds to check (they cannot be
	// interrupted), and dry runs cost the same and store nothing, so unbounded checks
	// would let one tenant's loop of applies take every processor of the operator.
	Slots chan struct{}
	// QueueWait is how long an admission waits for a slot before it is admitted
	// unchecked, inside the webhook's timeoutSeconds.
	QueueWait time.Duration
}

// NewValidator returns a Validator that runs at most slots checks at once.
func NewValidator(log logr.Logger, slots int) *Validator {
	return &Validator{Log: log, Slots: make(chan struct{}, slots), QueueWait: 2 * time.Second}
}

// Handle refuses an object whose spec fails the checks both gates share. An update
// that leaves the spec as it was is admitted whatever the spec holds: it was admitted
// before the rule existed (or while the webhook was down), the renderer already
// reports it, and refusing would block the operator's and users' metadata changes,
// finalizer removal among them, which would leave the object impossible to delete.
func (v *Validator) Handle(_ context.Context, req admission.Request) (resp admission.Response) {
	outcome := OutcomeError
	defer func() {
		if r := recover(); r != nil {
			resp, outcome = v.failed(req, fmt.Errorf("panic: %v", r))
		}
		Validations.WithLabelValues(req.Kind.Kind, outcome).Inc()
	}()
	resp, outcome = v.handle(req)
	return resp
}

func (v *Validator) handle(req admission.Request) (admission.Response, string) {
	if req.Operation != admissionv1.Create && req.Operation != admissionv1.Update {
		return admission.Allowed(""), OutcomeAllowed
	}
	obj, err := decode(req.Kind.Kind, req.Object.Raw)
	if err != nil {
		return v.failed(req, err)
	}
	if obj.deleting {
		return admission.Allowed("being deleted"), OutcomeAllowed
	}
	if req.Operation == admissionv1.Update {
		old, err := decode(req.Kind.Kind, req.OldObject.Raw)
		if err != nil {
			return v.failed(req, err)
		}
		if equality.Semantic.DeepEqual(old.spec, obj.spec) {
			return admission.Allowed("spec unchanged"), OutcomeAllowed
		}
	}
	if v.Slots != nil {
		wait := time.NewTimer(v.QueueWait)
		defer wait.Stop()
		select {
		case v.Slots <- struct{}{}:
			defer func() { <-v.Slots }()
		case <-wait.C:
			return admission.Allowed("").WithWarnings("logplane was busy checking other objects and admitted this one unchecked; " +
				"the operator checks it before it reaches an agent and reports a problem on its status"), OutcomeUnchecked
		}
	}
	// Text first, as the renderer checks it first: a value that would alter the
	// configuration file is the graver problem.
	errs := append(validation.Text(obj.spec), validation.Spec(obj.spec)...)
	if len(errs) == 0 {
		return admission.Allowed("").WithWarnings(obj.warnings...), OutcomeAllowed
	}
	status := apierrors.NewInvalid(schema.GroupKind{Group: v1.GroupVersion.Group, Kind: req.Kind.Kind}, req.Name, errs).Status()
	return admission.Response{AdmissionResponse: admissionv1.AdmissionResponse{Allowed: false, Result: &status}}, OutcomeDenied
}

// failed admits the object unchecked, as failurePolicy Ignore would: the renderer
// runs the same checks, and a bug here must not block tenants' applies.
func (v *Validator) failed(req admission.Request, err error) (admission.Response, string) {
	v.Log.Error(err, "admitted without validation", "kind", req.Kind.Kind, "namespace", req.Namespace, "name", req.Name)
	return admission.Allowed("").WithWarnings("logplane could not validate this object (" + err.Error() +
		"); the operator checks it again before it reaches an agent"), OutcomeError
}

// object is what Handle reads of an admitted object.
type object struct {
	// spec points to the spec, of a type validation.Spec takes.
	spec     any
	deleting bool
	warnings []string
}

func decode(kind string, raw []byte) (object, error) {
	var (
		meta *metav1.ObjectMeta
		o    object
	)
	switch kind {
	case "LogPipeline":
		var p v1.LogPipeline
		if err := json.Unmarshal(raw, &p); err != nil {
			return o, fmt.Errorf("failed to decode %s: %w", kind, err)
		}
		meta, o.spec = &p.ObjectMeta, &p.Spec
	case "ClusterLogPipeline":
		var p v1.ClusterLogPipeline
		if err := json.Unmarshal(raw, &p); err != nil {
			return o, fmt.Errorf("failed to decode %s: %w", kind, err)
		}
		meta, o.spec = &p.ObjectMeta, &p.Spec
	case "LogOutput":
		var out v1.LogOutput
		if err := json.Unmarshal(raw, &out); err != nil {
			return o, fmt.Errorf("failed to decode %s: %w", kind, err)
		}
		meta, o.spec = &out.ObjectMeta, &out.Spec
	case "ClusterLogOutput":
		var out v1.ClusterLogOutput
		if err := json.Unmarshal(raw, &out); err != nil {
			return o, fmt.Errorf("failed to decode %s: %w", kind, err)
		}
		meta, o.spec = &out.ObjectMeta, &out.Spec
		if len(out.Spec.RawParameters) > 0 {
			o.warnings = append(o.warnings, "spec.rawParameters are passed to Fluent Bit unchecked: the output will carry the condition reason Unsupported")
		}
	default:
		return o, fmt.Errorf("kind %s is not validated here", kind)
	}
	o.deleting = meta.DeletionTimestamp != nil
	return o, nil
}
