package render

import (
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	v1 "github.com/logplane/logplane/api/v1alpha1"
	"github.com/logplane/logplane/internal/snapshot"
)

// The sidecar's main file carries the only service section and includes the
// pipelines' fragments in the order the webhook gives them.
func TestSidecarMainGolden(t *testing.T) {
	data, err := SidecarMain([]string{"pipelines/a/fluent-bit.yaml", "pipelines/b/fluent-bit.yaml"})
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "sidecar-main.yaml", data)
}

// An include that could alter the file's structure is refused, not written.
func TestSidecarMainRefusesUnsafeIncludes(t *testing.T) {
	if _, err := SidecarMain([]string{"a.yaml\nservice:"}); err == nil || !strings.Contains(err.Error(), "include") {
		t.Fatalf("got %v, want an include error", err)
	}
}

// One sidecar runs the fragments of every pipeline that selects its pod, and Fluent
// Bit refuses a configuration that defines a parser name twice: two pipelines with
// the same parse filter must not share parser names (found with a real Fluent Bit).
func TestSidecarFragmentsNeverShareParserNames(t *testing.T) {
	s, err := snapshot.LoadFiles([]string{filepath.Join("..", "..", "config", "samples")}, "logplane-system", "default")
	if err != nil {
		t.Fatal(err)
	}
	var twin *v1.LogPipeline
	for i := range s.Pipelines {
		if s.Pipelines[i].Spec.Input.Files != nil && len(s.Pipelines[i].Spec.Filters) > 0 {
			twin = s.Pipelines[i].DeepCopy()
		}
	}
	if twin == nil {
		t.Fatal("the samples have no file-input pipeline with filters")
	}
	twin.Name += "-twin"
	s.Pipelines = append(s.Pipelines, *twin)
	names := map[string]string{}
	sidecars := 0
	for _, sc := range Render(s).Sidecars {
		if sc.Pipeline.Namespace != twin.Namespace {
			continue
		}
		sidecars++
		for _, f := range sc.Files {
			for _, m := range regexp.MustCompile(`(?m)^  - name: "([^"]+)"`).FindAllStringSubmatch(string(f.Content), -1) {
				if other, ok := names[m[1]]; ok && other != sc.Pipeline.Name {
					t.Errorf("parser %s is defined by both %s and %s", m[1], other, sc.Pipeline.Name)
				}
				names[m[1]] = sc.Pipeline.Name
			}
		}
	}
	if sidecars < 2 || len(names) < 2 {
		t.Fatalf("%d sidecar configurations with %d parsers; the test needs two pipelines with parsers", sidecars, len(names))
	}
}
