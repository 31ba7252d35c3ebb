package snapshot

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/intstr"

	v1 "github.com/logplane/logplane/api/v1alpha1"
)

// Manifests read offline get the CRD schema defaults, as the API server gives them to
// the objects the operator reads: what the render command renders is what runs.
func TestLoadFilesAppliesSchemaDefaults(t *testing.T) {
	const header = "apiVersion: logging.logplane.dev/v1alpha1\n"
	for _, tc := range []struct {
		name     string
		manifest string
		check    func(t *testing.T, s *Snapshot)
	}{{
		name: "parse filter reads log (key_name) unless told otherwise",
		manifest: header + `kind: LogPipeline
metadata: {name: p, namespace: team}
spec:
  input: {containers: {}}
  filters:
  - {type: parse, parse: {format: JSON}}
  outputRefs: [o]
`,
		check: func(t *testing.T, s *Snapshot) {
			spec := s.Pipelines[0].Spec
			want(t, "agent", spec.Agent, v1.AgentName(v1.DefaultAgentName))
			want(t, "parse", *spec.Filters[0].Parse, v1.ParseFilter{Field: "log", Format: v1.ParseJSON})
		},
	}, {
		name: "s3 output gets compression, upload timeout, file size and key format",
		manifest: header + `kind: ClusterLogOutput
metadata: {name: archive}
spec:
  type: s3
  s3: {aws: {region: eu-west-1}, bucket: logs}
`,
		check: func(t *testing.T, s *Snapshot) {
			s3 := s.ClusterOutputs[0].Spec.S3
			want(t, "compression", s3.Compression, v1.S3Compression("Gzip"))
			want(t, "uploadTimeout", s3.UploadTimeout.Duration, 10*time.Minute)
			want(t, "totalFileSize", s3.TotalFileSize.String(), "100M")
			want(t, "keyFormat", s3.KeyFormat, v1.ConfigString("/logs/$TAG/%Y/%m/%d/%H%M%S-$UUID"))
		},
	}, {
		name: "every item of a list gets the defaults of its own block",
		manifest: header + `kind: ClusterLogPipeline
metadata: {name: c}
spec:
  input: {containers: {}}
  filters:
  - {type: multiline, multiline: {parser: java}}
  - {type: parse, parse: {format: Logfmt}}
  - {type: throttle, throttle: {records: 100}}
  - {type: parse, parse: {format: JSON, keepOriginal: true}}
  clusterOutputRefs: [o]
`,
		check: func(t *testing.T, s *Snapshot) {
			f := s.ClusterPipelines[0].Spec.Filters
			want(t, "multiline", *f[0].Multiline, v1.MultilineFilter{Parser: "java", Field: "log"})
			want(t, "first parse", *f[1].Parse, v1.ParseFilter{Field: "log", Format: v1.ParseLogfmt})
			want(t, "throttle", *f[2].Throttle, v1.ThrottleFilter{Records: 100, Interval: "1s", Window: 5})
			want(t, "second parse", *f[3].Parse, v1.ParseFilter{Field: "log", Format: v1.ParseJSON, KeepOriginal: true})
		},
	}, {
		name: "values that are set are kept",
		manifest: header + `kind: LogOutput
metadata: {name: o, namespace: team}
spec:
  type: s3
  s3: {aws: {region: eu-west-1}, bucket: logs, compression: None, uploadTimeout: 1m}
---
` + header + `kind: LogPipeline
metadata: {name: p, namespace: team}
spec:
  agent: edge
  input: {containers: {}}
  filters:
  - {type: parse, parse: {format: JSON, field: message}}
  - {type: throttle, throttle: {records: 100, interval: 1m, window: 10}}
  outputRefs: [o]
`,
		check: func(t *testing.T, s *Snapshot) {
			s3 := s.Outputs[0].Spec.S3
			want(t, "compression", s3.Compression, v1.S3Compression("None"))
			want(t, "uploadTimeout", s3.UploadTimeout.Duration, time.Minute)
			spec := s.Pipelines[0].Spec
			want(t, "agent", spec.Agent, v1.AgentName("edge"))
			want(t, "parse", *spec.Filters[0].Parse, v1.ParseFilter{Field: "message", Format: v1.ParseJSON})
			want(t, "throttle", *spec.Filters[1].Throttle, v1.ThrottleFilter{Records: 100, Interval: "1m", Window: 10})
		},
	}, {
		name: "a default object is filled in with the defaults inside it",
		manifest: header + `kind: LogAgent
metadata: {name: bare}
---
` + header + `kind: RetentionPolicy
metadata: {name: r}
spec: {retention: 30d}
`,
		check: func(t *testing.T, s *Snapshot) {
			nsDisk, agentDisk := resource.MustParse("5Gi"), resource.MustParse("20Gi")
			want(t, "agent", s.Agents[0].Spec, v1.LogAgentSpec{ImagePullPolicy: "IfNotPresent", HostPath: "/var/lib/logplane",
				MetricsPort: 2020, ConfigReload: v1.ConfigReloadRestart, MaxUnavailable: ptr(intstr.FromString("10%")), LogLevel: "warn",
				Budgets: v1.AgentBudgets{
					PerNamespace: v1.NamespaceBudget{OutputSections: 16, Workers: 12, FilterThreads: 32, FilesystemBuffer: &nsDisk, PipelineConfigBytes: 131072},
					PerAgent:     v1.AgentBudget{OutputSections: 48, Workers: 32, FilterThreads: 128, FilesystemBuffer: &agentDisk},
				}})
			p := s.Policies[0].Spec
			want(t, "delivery", p.Delivery, v1.DeliveryBestEffort)
			want(t, "buffer", p.Buffer.MaxSize.Cmp(resource.MustParse("1Gi")), 0)
			want(t, "retry", p.Retry.MaxDuration.Duration, time.Hour)
		},
	}, {
		name: "null is the default, as the API server reads it",
		manifest: header + `kind: LogPipeline
metadata: {name: p, namespace: team}
spec:
  input: {containers: {}}
  filters:
  - {type: parse, parse: {format: JSON, field: null}}
  outputRefs: [o]
`,
		check: func(t *testing.T, s *Snapshot) {
			want(t, "field", s.Pipelines[0].Spec.Filters[0].Parse.Field, v1.FieldPath("log"))
		},
	}, {
		name: "status cannot be created",
		manifest: header + `kind: LogAgent
metadata: {name: a}
status: {pipelines: 3}
`,
		check: func(t *testing.T, s *Snapshot) {
			want(t, "pipelines", s.Agents[0].Status.Pipelines, int32(0))
		},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "m.yaml"), []byte(tc.manifest), 0o600); err != nil {
				t.Fatal(err)
			}
			s, err := LoadFiles([]string{dir}, "ops", "default")
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, s)
		})
	}
}

// A field no schema declares is refused with its path, as kubectl apply's strict field
// validation refuses it; the API server would otherwise drop it.
func TestLoadFilesNamesUnknownFields(t *testing.T) {
	dir := t.TempDir()
	bad := "apiVersion: logging.logplane.dev/v1alpha1\nkind: LogOutput\nmetadata: {name: o}\n" +
		"spec: {type: stdout, stdout: {}, colour: red, tls: {insecureSkipVerify: true, ca: {name: s, key: k, optional: true}}}\n"
	if err := os.WriteFile(filepath.Join(dir, "bad.yaml"), []byte(bad), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := LoadFiles([]string{dir}, "ops", "default")
	if err == nil {
		t.Fatal("accepted unknown fields")
	}
	for _, f := range []string{`"spec.colour"`, `"spec.tls.ca.optional"`} {
		if !strings.Contains(err.Error(), f) {
			t.Errorf("error %q does not name %s", err, f)
		}
	}
}

func want[T any](t *testing.T, what string, got, want T) {
	t.Helper()
	if !equality.Semantic.DeepEqual(got, want) {
		t.Errorf("%s = %+v, want %+v", what, got, want)
	}
}

// A key given twice is refused, as the API server refuses it.
func TestLoadFilesRefusesDuplicateKeys(t *testing.T) {
	dir := t.TempDir()
	bad := "apiVersion: logging.logplane.dev/v1alpha1\nkind: LogOutput\nmetadata: {name: o}\nspec: {type: stdout, type: http}\n"
	if err := os.WriteFile(filepath.Join(dir, "bad.yaml"), []byte(bad), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadFiles([]string{dir}, "ops", "default"); err == nil || !strings.Contains(err.Error(), `"type" already set`) {
		t.Fatalf("error %v, want one about the duplicate key", err)
	}
}
