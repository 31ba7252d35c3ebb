package integration

import (
	"context"
	"testing"

	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/logplane/logplane/api/v1alpha1"
	"github.com/logplane/logplane/internal/render"
)

const defaultsNamespace = "defaults"

// Defaults live in the CRD schema (never in a webhook that writes spec), so a minimal
// object read back from the API server carries every documented default.
func TestSchemaDefaultsAsDocumented(t *testing.T) {
	ensureNamespace(t, defaultsNamespace)

	t.Run("LogAgent with no spec", func(t *testing.T) {
		got := roundTrip(t, &v1.LogAgent{ObjectMeta: metav1.ObjectMeta{Name: "defaults"}})
		want := v1.LogAgentSpec{
			ImagePullPolicy: "IfNotPresent",
			HostPath:        "/var/lib/logplane",
			MetricsPort:     2020,
			ConfigReload:    v1.ConfigReloadRestart,
			MaxUnavailable:  ptr(intstr.FromString("10%")),
			LogLevel:        "warn",
			// The renderer's defaults, which the built-in agent uses.
			Budgets: render.DefaultBudgets(),
		}
		assertEqual(t, got.Spec, want)
	})

	t.Run("RetentionPolicy with only retention", func(t *testing.T) {
		got := roundTrip(t, &v1.RetentionPolicy{
			ObjectMeta: metav1.ObjectMeta{Name: "defaults"},
			Spec:       v1.RetentionPolicySpec{Retention: "30d"},
		})
		assertEqual(t, got.Spec, v1.RetentionPolicySpec{
			Retention:       "30d",
			AllowShortening: false,
			Delivery:        v1.DeliveryBestEffort,
			Buffer:          v1.RetentionBuffer{MaxSize: ptr(resource.MustParse("1Gi"))},
			Retry:           v1.RetentionRetry{MaxDuration: &metav1.Duration{Duration: 3600e9}},
		})
	})

	t.Run("LogPipeline picks the default agent and parse defaults", func(t *testing.T) {
		got := roundTrip(t, &v1.LogPipeline{
			ObjectMeta: metav1.ObjectMeta{Name: "defaults", Namespace: defaultsNamespace},
			Spec: v1.LogPipelineSpec{
				Input:      v1.LogPipelineInput{Containers: &v1.ContainerSelection{}},
				Filters:    []v1.Filter{{Type: v1.FilterParse, Parse: &v1.ParseFilter{Format: v1.ParseJSON}}},
				OutputRefs: []v1.ResourceName{"o"},
			},
		})
		assertEqual(t, got.Spec.Agent, v1.AgentName(v1.DefaultAgentName))
		assertEqual(t, *got.Spec.Filters[0].Parse, v1.ParseFilter{Field: "log", Format: v1.ParseJSON})
	})

	t.Run("ClusterLogPipeline picks the default agent", func(t *testing.T) {
		got := roundTrip(t, &v1.ClusterLogPipeline{
			ObjectMeta: metav1.ObjectMeta{Name: "defaults"},
			Spec: v1.ClusterLogPipelineSpec{
				Input:             v1.ClusterLogPipelineInput{Events: &v1.EventsInput{}},
				ClusterOutputRefs: []v1.ResourceName{"o"},
			},
		})
		assertEqual(t, got.Spec.Agent, v1.AgentName(v1.DefaultAgentName))
	})

	t.Run("S3 output", func(t *testing.T) {
		got := roundTrip(t, &v1.LogOutput{
			ObjectMeta: metav1.ObjectMeta{Name: "s3", Namespace: defaultsNamespace},
			Spec: v1.OutputSpec{Type: v1.OutputS3, S3: &v1.S3Output{
				AWS: v1.AWSAuth{Region: "eu-west-1"}, Bucket: "logs",
			}},
		})
		assertEqual(t, *got.Spec.S3, v1.S3Output{
			AWS:           v1.AWSAuth{Region: "eu-west-1"},
			Bucket:        "logs",
			KeyFormat:     "/logs/$TAG/%Y/%m/%d/%H%M%S-$UUID",
			TotalFileSize: ptr(resource.MustParse("100M")),
			UploadTimeout: &metav1.Duration{Duration: 600e9},
			Compression:   "Gzip",
		})
	})

	t.Run("HTTP output", func(t *testing.T) {
		got := roundTrip(t, &v1.LogOutput{
			ObjectMeta: metav1.ObjectMeta{Name: "http", Namespace: defaultsNamespace},
			Spec:       v1.OutputSpec{Type: v1.OutputHTTP, HTTP: &v1.HTTPOutput{Host: "logs.example.com"}},
		})
		assertEqual(t, *got.Spec.HTTP, v1.HTTPOutput{
			Host: "logs.example.com", Port: 443, Path: "/", Method: "POST",
			Format: "JSONLines", Compression: v1.CompressionNone,
		})
	})

	t.Run("syslog output", func(t *testing.T) {
		got := roundTrip(t, &v1.ClusterLogOutput{
			ObjectMeta: metav1.ObjectMeta{Name: "syslog"},
			Spec: v1.ClusterLogOutputSpec{OutputSpec: v1.OutputSpec{
				Type: v1.OutputSyslog, Syslog: &v1.SyslogOutput{Host: "10.0.0.1"},
			}},
		})
		assertEqual(t, *got.Spec.Syslog, v1.SyslogOutput{
			Host: "10.0.0.1", Port: 514, Mode: "TCP", Format: "RFC5424", MessageKey: "log",
		})
	})

	t.Run("forward output waits for acknowledgement", func(t *testing.T) {
		got := roundTrip(t, &v1.LogOutput{
			ObjectMeta: metav1.ObjectMeta{Name: "forward", Namespace: defaultsNamespace},
			Spec:       v1.OutputSpec{Type: v1.OutputForward, Forward: &v1.ForwardOutput{Host: "fluentd"}},
		})
		assertEqual(t, *got.Spec.Forward, v1.ForwardOutput{
			Host: "fluentd", Port: 24224, RequireAck: true, Compression: v1.CompressionNone,
		})
	})
}

// roundTrip creates obj, reads it back from the API server and deletes it.
func roundTrip[T client.Object](t *testing.T, obj T) T {
	t.Helper()
	if err := k8s.Create(t.Context(), obj); err != nil {
		t.Fatalf("create: %v", err)
	}
	// t.Context is already cancelled when cleanups run.
	t.Cleanup(func() { _ = k8s.Delete(context.Background(), obj) })
	got := obj.DeepCopyObject().(T)
	if err := k8s.Get(t.Context(), client.ObjectKeyFromObject(obj), got); err != nil {
		t.Fatalf("get: %v", err)
	}
	return got
}
