package main

import (
	"bytes"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"

	"github.com/logplane/logplane/internal/conditions"
	"github.com/logplane/logplane/test/argocdhealth"
)

const root = "../.."

// kinds are read from the CRDs, so that a new kind without a health check fails here.
// Kinds without a status subresource (IdentityGrant, which the operator only reads)
// have no health for Argo CD to assess, and Argo CD counts a resource without a check
// as healthy.
func kinds(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(root, "config", "crd", "bases", argocdhealth.Group+"_*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no CRDs found: %v", err)
	}
	var out []string
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var crd struct {
			Spec struct {
				Names    struct{ Kind string } `json:"names"`
				Versions []struct {
					Subresources struct {
						Status *struct{} `json:"status"`
					} `json:"subresources"`
				} `json:"versions"`
			} `json:"spec"`
		}
		if err := yaml.Unmarshal(data, &crd); err != nil {
			t.Fatal(err)
		}
		if len(crd.Spec.Versions) == 0 || crd.Spec.Versions[0].Subresources.Status == nil {
			continue
		}
		out = append(out, crd.Spec.Names.Kind)
	}
	sort.Strings(out)
	return out
}

// object is a resource at generation 3 with the given status (nil: none).
func object(kind string, status map[string]any) map[string]any {
	o := map[string]any{
		"apiVersion": argocdhealth.Group + "/v1alpha1",
		"kind":       kind,
		"metadata":   map[string]any{"name": "x", "generation": 3},
	}
	if status != nil {
		o["status"] = status
	}
	return o
}

func status(observed any, conds ...metav1.Condition) map[string]any {
	s := map[string]any{"conditions": conds}
	if observed != nil {
		s["observedGeneration"] = observed
	}
	return s
}

func with(s map[string]any, key string, value any) map[string]any {
	s[key] = value
	return s
}

var (
	readyTrue     = conditions.New(conditions.TypeReady, metav1.ConditionTrue, conditions.ReasonReady, 3)
	readyOld      = conditions.New(conditions.TypeReady, metav1.ConditionTrue, conditions.ReasonReady, 2)
	readyUnknown  = metav1.Condition{Type: conditions.TypeReady, Status: metav1.ConditionUnknown, Reason: "Pending", Message: "Waiting for the first scrape.", ObservedGeneration: 3}
	readyFalse    = conditions.New(conditions.TypeReady, metav1.ConditionFalse, conditions.ReasonOutputNotFound, 3, "LogOutput shop/nope")
	configOnly    = conditions.New(conditions.TypeConfigGenerated, metav1.ConditionTrue, conditions.ReasonConfigGenerated, 3)
	degradedWants = conditions.ReasonOutputNotFound + ": " + conditions.Message(conditions.ReasonOutputNotFound, "LogOutput shop/nope")
)

// Every kind's check on every state the operator can leave a resource in.
func TestHealthChecks(t *testing.T) {
	common := []struct {
		name        string
		status      map[string]any
		wantStatus  string
		wantMessage string
	}{
		{"no status", nil, "Progressing", "Waiting for the operator to report status"},
		{"no conditions", map[string]any{"observedGeneration": 3}, "Progressing", "Waiting for the operator to report status"},
		{"status behind generation", status(2, readyTrue), "Progressing", "Waiting for the operator to observe generation 3"},
		{"status without observedGeneration", status(nil, readyTrue), "Progressing", "Waiting for the operator to observe generation 3"},
		{"Ready behind generation", status(3, readyOld), "Progressing", "Waiting for the operator to observe generation 3"},
		{"no Ready condition", status(3, configOnly), "Progressing", "Waiting for the Ready condition"},
		{"Ready Unknown", status(3, configOnly, readyUnknown), "Progressing", "Waiting for the first scrape."},
		{"Ready False", status(3, configOnly, readyFalse), "Degraded", degradedWants},
		{"Ready False behind generation", status(2, readyFalse), "Progressing", "Waiting for the operator to observe generation 3"},
	}
	healthy := map[string][]struct {
		status      map[string]any
		wantMessage string
	}{
		"LogPipeline": {
			{status(3, readyTrue), "Ready."},
			{with(status(3, readyTrue), "throughput", map[string]any{"recordsPerSecond": 1200, "droppedRecordsPerSecond": 3}), "1200 records/s delivered, 3 dropped/s"},
		},
		"ClusterLogPipeline": {
			{with(status(3, readyTrue), "throughput", map[string]any{"recordsPerSecond": 5}), "5 records/s delivered, 0 dropped/s"},
		},
		"LogOutput":        {{with(status(3, readyTrue), "pipelineCount", 2), "Used by 2 pipeline(s)"}},
		"ClusterLogOutput": {{status(3, readyTrue), "Used by 0 pipeline(s)"}},
		"LogAgent": {
			{with(with(with(status(3, readyTrue), "readyNodes", 3), "desiredNodes", 3), "pipelines", 5), "3 of 3 nodes ready, 5 pipeline(s)"},
		},
		"RetentionPolicy": {{status(3, readyTrue), "Ready."}},
	}

	for _, kind := range kinds(t) {
		script := argocdhealth.Script(root, kind)
		t.Run(kind, func(t *testing.T) {
			if _, err := os.Stat(script); err != nil {
				t.Fatalf("no health check for %s: %v", kind, err)
			}
			cases, ok := healthy[kind]
			if !ok {
				t.Fatalf("no Healthy case for %s in this test", kind)
			}
			for _, tc := range common {
				st, msg, err := argocdhealth.Run(script, object(kind, tc.status))
				if err != nil {
					t.Fatalf("%s: %v", tc.name, err)
				}
				if st != tc.wantStatus || msg != tc.wantMessage {
					t.Errorf("%s: %s %q, want %s %q", tc.name, st, msg, tc.wantStatus, tc.wantMessage)
				}
			}
			for _, tc := range cases {
				st, msg, err := argocdhealth.Run(script, object(kind, tc.status))
				if err != nil {
					t.Fatal(err)
				}
				if st != "Healthy" || msg != tc.wantMessage {
					t.Errorf("healthy: %s %q, want Healthy %q", st, msg, tc.wantMessage)
				}
			}
		})
	}
}

// The committed argocd-cm.yaml is what `make argocd` writes, and each of its keys holds
// exactly the script it was made from.
func TestSnippetIsUpToDate(t *testing.T) {
	want, err := Snippet(root)
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(root, snippetPath))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s is out of date: run make argocd", snippetPath)
	}
	var cm struct {
		Data map[string]string `json:"data"`
	}
	if err := yaml.Unmarshal(got, &cm); err != nil {
		t.Fatal(err)
	}
	ks := kinds(t)
	if len(cm.Data) != len(ks) {
		t.Errorf("%d keys for %d kinds", len(cm.Data), len(ks))
	}
	for _, kind := range ks {
		key := "resource.customizations.health." + argocdhealth.Group + "_" + kind
		script, err := os.ReadFile(argocdhealth.Script(root, kind))
		if err != nil {
			t.Fatal(err)
		}
		if cm.Data[key] != string(script) {
			t.Errorf("%s does not hold %s/health.lua verbatim", key, kind)
		}
	}
}

func TestSnippetRefusesTrailingWhitespace(t *testing.T) {
	if err := checkLiteral("x.lua", "local a = 1 \n"); err == nil || !strings.Contains(err.Error(), "trailing") {
		t.Errorf("err %v", err)
	}
	if err := checkLiteral("x.lua", "\tlocal a = 1\n"); err == nil {
		t.Error("tab indentation accepted")
	}
}

// `kubectl apply -k config/argocd` applies exactly the generated argocd-cm.
func TestKustomizationAppliesTheSnippet(t *testing.T) {
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	resmap, err := k.Run(filesys.MakeFsOnDisk(), filepath.Join(root, "config", "argocd"))
	if err != nil {
		t.Fatal(err)
	}
	if n := resmap.Size(); n != 1 {
		t.Fatalf("%d objects, want the one ConfigMap", n)
	}
	r := resmap.Resources()[0]
	if r.GetKind() != "ConfigMap" || r.GetName() != "argocd-cm" || r.GetNamespace() != "" {
		t.Errorf("%s %s/%s, want ConfigMap argocd-cm without a namespace (given with -n)", r.GetKind(), r.GetNamespace(), r.GetName())
	}
	snippet, err := Snippet(root)
	if err != nil {
		t.Fatal(err)
	}
	var want struct {
		Data map[string]string `json:"data"`
	}
	if err := yaml.Unmarshal(snippet, &want); err != nil {
		t.Fatal(err)
	}
	got := r.GetDataMap()
	if len(got) != len(want.Data) {
		t.Fatalf("%d keys, want %d", len(got), len(want.Data))
	}
	for k, v := range want.Data {
		if got[k] != v {
			t.Errorf("key %s differs from the snippet", k)
		}
	}
}
