package webhook

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus/testutil"
	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	v1 "github.com/logplane/logplane/api/v1alpha1"
)

func review(op admissionv1.Operation, kind string, obj, old any) admission.Request {
	raw := func(o any) runtime.RawExtension {
		if o == nil {
			return runtime.RawExtension{}
		}
		b, _ := json.Marshal(o)
		return runtime.RawExtension{Raw: b}
	}
	return admission.Request{AdmissionRequest: admissionv1.AdmissionRequest{UID: "u1", Operation: op, Name: "p", Namespace: tenant,
		Kind: metav1.GroupVersionKind{Group: v1.GroupVersion.Group, Version: "v1alpha1", Kind: kind}, Object: raw(obj), OldObject: raw(old)}}
}

func grepPipeline(rx string) *v1.LogPipeline {
	p := pipeline("p", "app")
	p.Spec.Filters = []v1.Filter{{Type: v1.FilterGrep, Grep: &v1.GrepFilter{Include: []v1.FieldMatch{{Field: "log", Regex: v1.Regex(rx)}}}}}
	return p
}

// The handler refuses a new or changed spec that fails the shared checks, with a 422
// naming each field, and admits everything else: unchanged specs of objects stored
// before a rule, objects being deleted, and whatever it cannot read (the renderer
// checks those).
func TestValidatorHandle(t *testing.T) {
	bad, good := grepPipeline(`(?s)ERROR.*Exception`), grepPipeline(`ERROR[\s\S]*Exception`)
	relabelled := bad.DeepCopy()
	relabelled.Labels = map[string]string{"team": "a"}
	deleting := bad.DeepCopy()
	deleting.DeletionTimestamp = &metav1.Time{}
	deleting.Finalizers = nil
	nul := &v1.LogOutput{ObjectMeta: metav1.ObjectMeta{Name: "o", Namespace: tenant}, Spec: v1.OutputSpec{Type: v1.OutputLoki,
		Loki: &v1.LokiOutput{Host: "loki", TenantID: ptr(v1.ConfigString("a\x00b"))}}}
	badAllowed := &v1.ClusterLogOutput{ObjectMeta: metav1.ObjectMeta{Name: "o"}, Spec: v1.ClusterLogOutputSpec{
		OutputSpec: v1.OutputSpec{Type: v1.OutputStdout, Stdout: &v1.StdoutOutput{}}, AllowedNamespaces: &metav1.LabelSelector{MatchLabels: map[string]string{"it's": "x"}}}}
	raw := &v1.ClusterLogOutput{ObjectMeta: metav1.ObjectMeta{Name: "o"}, Spec: v1.ClusterLogOutputSpec{
		OutputSpec: v1.OutputSpec{Type: v1.OutputHTTP, HTTP: &v1.HTTPOutput{Host: "logs"}}, RawParameters: []v1.RawParameter{{Key: "compress", Value: "gzip"}}}}
	cp := &v1.ClusterLogPipeline{ObjectMeta: metav1.ObjectMeta{Name: "p"}, Spec: v1.ClusterLogPipelineSpec{Filters: bad.Spec.Filters}}

	cases := []struct {
		name    string
		req     admission.Request
		outcome string
		// denied: the fields the refusal names, in order.
		denied  []string
		warning string
	}{
		{name: "create with a bad regex", req: review(admissionv1.Create, "LogPipeline", bad, nil), outcome: OutcomeDenied,
			denied: []string{"spec.filters[0].grep.include[0].regex"}},
		{name: "create with a good regex", req: review(admissionv1.Create, "LogPipeline", good, nil), outcome: OutcomeAllowed},
		{name: "update to a bad regex", req: review(admissionv1.Update, "LogPipeline", bad, good), outcome: OutcomeDenied,
			denied: []string{"spec.filters[0].grep.include[0].regex"}},
		{name: "update that fixes it", req: review(admissionv1.Update, "LogPipeline", good, bad), outcome: OutcomeAllowed},
		{name: "update that leaves a bad spec", req: review(admissionv1.Update, "LogPipeline", relabelled, bad), outcome: OutcomeAllowed},
		{name: "finalizer removal while deleting", req: review(admissionv1.Update, "LogPipeline", deleting, bad), outcome: OutcomeAllowed},
		{name: "cluster pipeline", req: review(admissionv1.Create, "ClusterLogPipeline", cp, nil), outcome: OutcomeDenied,
			denied: []string{"spec.filters[0].grep.include[0].regex"}},
		{name: "NUL in a tenant output", req: review(admissionv1.Create, "LogOutput", nul, nil), outcome: OutcomeDenied,
			denied: []string{"spec.loki.tenantId"}},
		{name: "cluster output selector", req: review(admissionv1.Create, "ClusterLogOutput", badAllowed, nil), outcome: OutcomeDenied,
			denied: []string{"spec.allowedNamespaces.matchLabels"}},
		{name: "rawParameters are admitted with a warning", req: review(admissionv1.Create, "ClusterLogOutput", raw, nil), outcome: OutcomeAllowed,
			warning: "Unsupported"},
		{name: "delete is not checked", req: review(admissionv1.Delete, "LogPipeline", nil, bad), outcome: OutcomeAllowed},
		{name: "undecodable object is admitted", req: review(admissionv1.Create, "LogPipeline", "not a pipeline", nil), outcome: OutcomeError,
			warning: "could not validate"},
		{name: "unknown kind is admitted", req: review(admissionv1.Create, "LogAgent", good, nil), outcome: OutcomeError,
			warning: "could not validate"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			kind := tc.req.Kind.Kind
			before := testutil.ToFloat64(Validations.WithLabelValues(kind, tc.outcome))
			resp := (&Validator{Log: logr.Discard()}).Handle(t.Context(), tc.req)
			if got := testutil.ToFloat64(Validations.WithLabelValues(kind, tc.outcome)) - before; got != 1 {
				t.Errorf("outcome %s counted %v times", tc.outcome, got)
			}
			if resp.Allowed != (tc.denied == nil) {
				t.Fatalf("allowed = %v, want %v (%+v)", resp.Allowed, tc.denied == nil, resp.Result)
			}
			if tc.denied != nil {
				r := resp.Result
				if r.Code != http.StatusUnprocessableEntity || r.Reason != metav1.StatusReasonInvalid || r.Details == nil || r.Details.Kind != kind {
					t.Fatalf("refusal %+v, want 422 Invalid for %s", r, kind)
				}
				var fields []string
				for _, c := range r.Details.Causes {
					fields = append(fields, c.Field)
					if !strings.Contains(r.Message, c.Field) {
						t.Errorf("message %q does not name %s", r.Message, c.Field)
					}
				}
				if strings.Join(fields, ",") != strings.Join(tc.denied, ",") {
					t.Errorf("refused fields %v, want %v", fields, tc.denied)
				}
			}
			if w := strings.Join(resp.Warnings, "\n"); !strings.Contains(w, tc.warning) || tc.warning == "" && w != "" {
				t.Errorf("warnings %q, want %q", resp.Warnings, tc.warning)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

// BenchmarkValidatorHandle measures one admission of a realistic tenant pipeline:
// a parse regex, four grep rules and a pod selector, each regex new to the checker's
// memory (as every change to a regex is).
func BenchmarkValidatorHandle(b *testing.B) {
	v := &Validator{Log: logr.Discard()}
	parse := v1.Regex(`^(?<time>[^ ]+) (?<level>[A-Z]+) \[(?<thread>[^\]]*)\] (?<msg>.*)$`)
	for i := 0; b.Loop(); i++ {
		p := pipeline("p", "app")
		p.Spec.Filters = []v1.Filter{
			{Type: v1.FilterParse, Parse: &v1.ParseFilter{Format: v1.ParseRegex, Regex: &parse}},
			{Type: v1.FilterGrep, Grep: &v1.GrepFilter{
				Include: []v1.FieldMatch{{Field: "level", Regex: v1.Regex(fmt.Sprintf(`^(ERROR|WARN|FATAL%d)$`, i))}},
				Exclude: []v1.FieldMatch{
					{Field: "msg", Regex: v1.Regex(fmt.Sprintf(`GET /(healthz|readyz|livez)%d`, i))},
					{Field: "msg", Regex: v1.Regex(fmt.Sprintf(`(?i)kube-probe/%d`, i))},
					{Field: "msg", Regex: v1.Regex(fmt.Sprintf(`ERROR.*Exception%d`, i))}}}}}
		if resp := v.Handle(b.Context(), review(admissionv1.Create, "LogPipeline", p, nil)); !resp.Allowed {
			b.Fatalf("refused: %+v", resp.Result)
		}
	}
}

// While every slot is busy (a spec that takes seconds to check), an admission waits
// QueueWait and is admitted unchecked, with a warning, inside the webhook's timeout;
// cheap answers (unchanged specs) need no slot.
func TestValidatorAdmitsUncheckedWhenBusy(t *testing.T) {
	v := NewValidator(logr.Discard(), 1)
	v.QueueWait = 50 * time.Millisecond
	v.Slots <- struct{}{} // taken by a long check
	bad := grepPipeline(`(?s)x.*y`)
	before := testutil.ToFloat64(Validations.WithLabelValues("LogPipeline", OutcomeUnchecked))
	resp := v.Handle(t.Context(), review(admissionv1.Create, "LogPipeline", bad, nil))
	if !resp.Allowed || !strings.Contains(strings.Join(resp.Warnings, ""), "unchecked") {
		t.Fatalf("busy: %+v, want admitted unchecked with a warning", resp)
	}
	if got := testutil.ToFloat64(Validations.WithLabelValues("LogPipeline", OutcomeUnchecked)) - before; got != 1 {
		t.Errorf("unchecked counted %v times", got)
	}
	relabelled := bad.DeepCopy()
	relabelled.Labels = map[string]string{"a": "b"}
	if resp := v.Handle(t.Context(), review(admissionv1.Update, "LogPipeline", relabelled, bad)); !resp.Allowed || len(resp.Warnings) != 0 {
		t.Fatalf("unchanged spec while busy: %+v", resp)
	}
	<-v.Slots // the long check ends
	if resp := v.Handle(t.Context(), review(admissionv1.Create, "LogPipeline", bad, nil)); resp.Allowed {
		t.Fatal("admitted once a slot was free")
	}
	if len(v.Slots) != 0 {
		t.Fatal("the slot was not given back")
	}
}
