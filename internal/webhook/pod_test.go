package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus/testutil"
	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	v1 "github.com/logplane/logplane/api/v1alpha1"
	"github.com/logplane/logplane/internal/conditions"
	"github.com/logplane/logplane/internal/sidecar"
)

const tenant = "billing"

func scheme() *runtime.Scheme {
	s := runtime.NewScheme()
	_ = corev1.AddToScheme(s)
	_ = v1.AddToScheme(s)
	return s
}

func pipeline(name, container string) *v1.LogPipeline {
	return &v1.LogPipeline{ObjectMeta: metav1.ObjectMeta{Namespace: tenant, Name: name}, Spec: v1.LogPipelineSpec{
		Input: v1.LogPipelineInput{Files: &v1.FileInput{
			PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{"app": "billing"}},
			Container:   v1.ContainerName(container), Paths: []v1.LogFilePath{"/var/log/app/a.log"}}},
		OutputRefs: []v1.ResourceName{"loki"}}}
}

func sidecarSecret(pipeline string) *corev1.Secret {
	m := sidecar.Manifest{Hash: "h1", Files: []string{"fluent-bit.yaml"}, Env: []string{"LP_X"}}
	return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: tenant, Name: sidecar.SecretName(pipeline),
		Annotations: map[string]string{sidecar.AnnotationManifest: m.Encode()}}}
}

func optedIn(name string) *corev1.Namespace {
	return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{sidecar.LabelInjection: sidecar.InjectionEnabled}}}
}

type recorder struct {
	mu     sync.Mutex
	events []string
}

func (r *recorder) Eventf(regarding, _ runtime.Object, eventtype, reason, _, note string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, fmt.Sprintf("%s %s %s: %s", eventtype, reason, regarding.(client.Object).GetName(), fmt.Sprintf(note, args...)))
}

func injector(funcs interceptor.Funcs, objs ...client.Object) (*PodInjector, *recorder) {
	c := fake.NewClientBuilder().WithScheme(scheme()).WithObjects(objs...).WithInterceptorFuncs(funcs).Build()
	rec := &recorder{}
	return &PodInjector{Reader: c, Events: rec, Log: logr.Discard(),
		Options: sidecar.Options{Native: true, OperatorNamespace: "logplane-system"}}, rec
}

func request(op admissionv1.Operation, pod any) admission.Request {
	raw, _ := json.Marshal(pod)
	return admission.Request{AdmissionRequest: admissionv1.AdmissionRequest{
		UID: "u1", Operation: op, Namespace: tenant, Object: runtime.RawExtension{Raw: raw}}}
}

var appPod = &corev1.Pod{ObjectMeta: metav1.ObjectMeta{GenerateName: "app-", Labels: map[string]string{"app": "billing"}},
	Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "app:1"}}}}

// Every path through the handler admits the pod; only a selected pod in an opted-in
// namespace with a rendered pipeline is patched, and errors are counted.
func TestHandle(t *testing.T) {
	boom := errors.New("cache not synced")
	healthy := []client.Object{optedIn(tenant), pipeline("audit", "app"), sidecarSecret("audit")}
	cases := []struct {
		name    string
		objs    []client.Object
		funcs   interceptor.Funcs
		req     admission.Request
		outcome string
		patched bool
		event   string
	}{
		{name: "selected pod is injected", objs: healthy, req: request(admissionv1.Create, appPod), outcome: OutcomeInjected, patched: true},
		{name: "updates are not injected", objs: healthy, req: request(admissionv1.Update, appPod), outcome: OutcomeUnchanged},
		{name: "undecodable pod", objs: healthy, req: request(admissionv1.Create, "not a pod"), outcome: OutcomeError},
		{name: "namespace not opted in", objs: []client.Object{&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: tenant}}, pipeline("audit", "app"), sidecarSecret("audit")},
			req: request(admissionv1.Create, appPod), outcome: OutcomeUnchanged},
		{name: "Secret not written yet", objs: []client.Object{optedIn(tenant), pipeline("audit", "app")},
			req: request(admissionv1.Create, appPod), outcome: OutcomeUnchanged},
		{name: "pipeline names a missing container", objs: []client.Object{optedIn(tenant), pipeline("audit", "sidecar-less"), sidecarSecret("audit")},
			req: request(admissionv1.Create, appPod), outcome: OutcomeUnchanged, event: "Warning " + conditions.ReasonSidecarNotInjected + " audit"},
		{name: "namespace lookup fails", objs: healthy, req: request(admissionv1.Create, appPod), outcome: OutcomeError,
			funcs: interceptor.Funcs{Get: func(context.Context, client.WithWatch, client.ObjectKey, client.Object, ...client.GetOption) error {
				return boom
			}}},
		{name: "pipeline list fails", objs: healthy, req: request(admissionv1.Create, appPod), outcome: OutcomeError,
			funcs: interceptor.Funcs{List: func(context.Context, client.WithWatch, client.ObjectList, ...client.ListOption) error { return boom }}},
		{name: "a panic is an error, not a failed pod", objs: healthy, req: request(admissionv1.Create, appPod), outcome: OutcomeError,
			funcs: interceptor.Funcs{List: func(context.Context, client.WithWatch, client.ObjectList, ...client.ListOption) error { panic("bug") }}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h, rec := injector(tc.funcs, tc.objs...)
			before := testutil.ToFloat64(Admissions.WithLabelValues(tc.outcome))
			resp := h.Handle(t.Context(), tc.req)
			if !resp.Allowed {
				t.Fatalf("pod not admitted: %+v", resp.Result)
			}
			if got := testutil.ToFloat64(Admissions.WithLabelValues(tc.outcome)) - before; got != 1 {
				t.Fatalf("outcome %s counted %v times", tc.outcome, got)
			}
			if patched := len(resp.Patches) > 0; patched != tc.patched {
				t.Fatalf("patched = %v, want %v (%+v)", patched, tc.patched, resp.Result)
			}
			if tc.patched {
				raw, _ := json.Marshal(resp.Patches)
				if !strings.Contains(string(raw), sidecar.ContainerName) || !strings.Contains(string(raw), "audit=h1") {
					t.Fatalf("patch does not add the sidecar and its hash: %s", raw)
				}
			}
			if tc.event != "" && !slices.ContainsFunc(rec.events, func(e string) bool { return strings.HasPrefix(e, tc.event) }) {
				t.Fatalf("events %q, want one starting %q", rec.events, tc.event)
			}
		})
	}
}

// cacheReader reads like the manager's informer cache: from memory, deep-copying
// what it returns, metadata-only for Namespaces and Secrets. (The fake client
// round-trips every read through JSON, which would dominate a benchmark.)
type cacheReader struct {
	namespaces map[string]metav1.ObjectMeta
	secrets    map[client.ObjectKey]metav1.ObjectMeta
	pipelines  []v1.LogPipeline
}

func (r *cacheReader) Get(_ context.Context, key client.ObjectKey, obj client.Object, _ ...client.GetOption) error {
	m, ok := obj.(*metav1.PartialObjectMetadata)
	if !ok {
		return fmt.Errorf("unexpected %T", obj)
	}
	var meta metav1.ObjectMeta
	switch m.Kind {
	case "Namespace":
		meta, ok = r.namespaces[key.Name]
	case "Secret":
		meta, ok = r.secrets[key]
	}
	if !ok {
		return apierrors.NewNotFound(corev1.Resource(strings.ToLower(m.Kind)+"s"), key.Name)
	}
	meta.DeepCopyInto(&m.ObjectMeta)
	return nil
}

func (r *cacheReader) List(_ context.Context, list client.ObjectList, opts ...client.ListOption) error {
	l, ok := list.(*v1.LogPipelineList)
	if !ok {
		return fmt.Errorf("unexpected %T", list)
	}
	o := (&client.ListOptions{}).ApplyOptions(opts)
	l.Items = nil
	for i := range r.pipelines {
		if o.Namespace == "" || r.pipelines[i].Namespace == o.Namespace {
			l.Items = append(l.Items, *r.pipelines[i].DeepCopy())
		}
	}
	return nil
}

// BenchmarkHandle measures webhook handler time (decode, cache reads, mutation,
// JSON patch) with 50 admissions in flight and 20 pipelines in the namespace, a
// quarter of which select the pod, and reports p50/p99 per admission. On a loaded
// 2-core machine most of the latency is waiting for a CPU: ns/op is the cost.
func BenchmarkHandle(b *testing.B) {
	r := &cacheReader{namespaces: map[string]metav1.ObjectMeta{tenant: optedIn(tenant).ObjectMeta}, secrets: map[client.ObjectKey]metav1.ObjectMeta{}}
	for i := range 20 {
		p := pipeline(fmt.Sprintf("p%02d", i), "app")
		if i%4 != 0 {
			p.Spec.Input.Files.PodSelector.MatchLabels = map[string]string{"app": fmt.Sprintf("other-%d", i)}
		}
		r.pipelines = append(r.pipelines, *p)
		s := sidecarSecret(p.Name)
		r.secrets[client.ObjectKeyFromObject(s)] = s.ObjectMeta
	}
	h := &PodInjector{Reader: r, Log: logr.Discard(), Options: sidecar.Options{Native: true, OperatorNamespace: "logplane-system"}}
	req := request(admissionv1.Create, appPod)
	// Each round is a burst of 50 pod creations arriving together, as the API
	// server would send them, each admission on its own goroutine.
	const burst = 50
	durations := make([]time.Duration, 0, b.N)
	var mu sync.Mutex
	b.ResetTimer()
	for done := 0; done < b.N; done += burst {
		var wg sync.WaitGroup
		for range min(burst, b.N-done) {
			wg.Go(func() {
				start := time.Now()
				if resp := h.Handle(context.Background(), req); len(resp.Patches) == 0 {
					panic("benchmark pod not injected: " + resp.Result.Message)
				}
				d := time.Since(start)
				mu.Lock()
				durations = append(durations, d)
				mu.Unlock()
			})
		}
		wg.Wait()
	}
	b.StopTimer()
	slices.Sort(durations)
	if n := len(durations); n > 0 {
		b.ReportMetric(float64(durations[n/2].Microseconds()), "p50-µs")
		b.ReportMetric(float64(durations[min(n-1, n*99/100)].Microseconds()), "p99-µs")
	}
}
