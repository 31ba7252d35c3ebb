package render

import (
	"fmt"
	"math/bits"
	"slices"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/logplane/logplane/api/v1alpha1"
	"github.com/logplane/logplane/internal/alias"
	"github.com/logplane/logplane/internal/snapshot"
)

// withMaxFileBytes lowers the file limit for one test, so that small fleets shard.
func withMaxFileBytes(t *testing.T, n int) {
	t.Helper()
	old := maxFileBytes
	maxFileBytes = n
	t.Cleanup(func() { maxFileBytes = old })
}

// changedFiles names the files that differ between two renders, and fails unless
// both have the same files.
func changedFiles(t *testing.T, a, b []File) []string {
	t.Helper()
	names := func(fs []File) []string {
		var out []string
		for _, f := range fs {
			out = append(out, f.Name)
		}
		return out
	}
	if !slices.Equal(names(a), names(b)) {
		t.Fatalf("files %v became %v", names(a), names(b))
	}
	var changed []string
	for i := range a {
		if string(a[i].Content) != string(b[i].Content) {
			changed = append(changed, a[i].Name)
		}
	}
	return changed
}

// At 2,000 pipelines, editing, adding or removing one pipeline rewrites exactly one
// shard file: neither the main file nor any other shard changes.
func TestOnePipelineChangeRewritesOneShard(t *testing.T) {
	base := Render(fleet(2000)).Agents[0]
	if len(base.Files) < 3 {
		t.Fatalf("2,000 pipelines in %d files: not sharded", len(base.Files))
	}
	for _, tc := range []struct {
		name string
		edit func(s *snapshot.Snapshot)
	}{
		{"edit a filter", func(s *snapshot.Snapshot) { s.Pipelines[777].Spec.Filters[0].Grep.Exclude[0].Regex = "GET /livez" }},
		{"edit another filter", func(s *snapshot.Snapshot) { s.Pipelines[1999].Spec.Filters[2].AddFields.Fields[0].Value = "other" }},
		{"remove a pipeline", func(s *snapshot.Snapshot) { s.Pipelines = slices.Delete(s.Pipelines, 42, 43) }},
		{"add a pipeline", func(s *snapshot.Snapshot) {
			p := *s.Pipelines[5].DeepCopy()
			p.Name = "added"
			s.Pipelines = append(s.Pipelines, p)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := fleet(2000)
			tc.edit(s)
			got := Render(s).Agents[0]
			changed := changedFiles(t, base.Files, got.Files)
			if len(changed) != 1 || changed[0] == MainFile {
				t.Errorf("changed %v, want exactly one shard", changed)
			}
			if got.Hash == base.Hash {
				t.Error("the bytes changed, the hash did not")
			}
		})
	}
}

// Whatever the limit, every file fits, the number of shards is a power of two, each
// pipeline's sections share one shard, and a shard holds its sections in order.
func TestShardsFitAndKeepPipelinesTogether(t *testing.T) {
	for _, limit := range []int{24 << 10, 64 << 10, 200 << 10} {
		t.Run(fmt.Sprint(limit), func(t *testing.T) {
			withMaxFileBytes(t, limit)
			cfg := Render(fleet(400)).Agents[0]
			main := string(cfg.Files[0].Content)
			highest := 0
			where := map[string]string{}
			for _, f := range cfg.Files {
				if len(f.Content) > limit {
					t.Errorf("%s is %d bytes, over %d", f.Name, len(f.Content), limit)
				}
				if f.Name == MainFile {
					continue
				}
				var i int
				if _, err := fmt.Sscanf(f.Name, "outputs-%03d.yaml", &i); err != nil {
					t.Fatalf("unexpected file %s", f.Name)
				}
				highest = max(highest, i)
				if !strings.Contains(main, `- "`+f.Name+`"`) {
					t.Errorf("main file does not include %s", f.Name)
				}
				var pipelines []string
				for _, line := range strings.Split(string(f.Content), "\n") {
					if a, ok := strings.CutPrefix(line, `      alias: "`); ok {
						o, ok := alias.Decode(strings.TrimSuffix(a, `"`))
						if !ok {
							t.Fatalf("%s: alias %s", f.Name, a)
						}
						pipelines = append(pipelines, o.Namespace+"/"+o.Pipeline)
					}
				}
				if !slices.IsSorted(pipelines) {
					t.Errorf("%s holds its sections out of order", f.Name)
				}
				for _, p := range pipelines {
					if other, ok := where[p]; ok && other != f.Name {
						t.Errorf("%s is split between %s and %s", p, other, f.Name)
					}
					where[p] = f.Name
				}
			}
			if len(where) != 400 {
				t.Errorf("%d pipelines found in shards, want 400", len(where))
			}
			if shards := highest + 1; bits.OnesCount(uint(shards)) != 1 && len(cfg.Files) > 1 {
				t.Errorf("highest shard %d: the count is not a power of two", highest)
			}
		})
	}
}

// A sharded configuration does not depend on input order either.
func TestShardedRenderIsDeterministicUnderShuffling(t *testing.T) {
	withMaxFileBytes(t, 32<<10)
	base := fleet(200)
	want := Render(base).Agents[0]
	if len(want.Files) < 3 {
		t.Fatalf("not sharded: %d files", len(want.Files))
	}
	for seed := uint64(1); seed <= 3; seed++ {
		got := Render(shuffled(base, seed)).Agents[0]
		if !sameFiles(got.Files, want.Files) || got.Hash != want.Hash {
			t.Fatalf("seed %d: shuffled input rendered differently", seed)
		}
	}
}

// A remembering Renderer writes exactly the shards Render writes, reusing the files
// of shards whose sections did not change.
func TestRememberingRendererMatchesRenderWhenSharded(t *testing.T) {
	withMaxFileBytes(t, 32<<10)
	r := NewRenderer()
	s := fleet(200)
	var last []File
	check := func(step string, wantChanged int) {
		t.Helper()
		want, got := Render(s).Agents[0], r.Render(s).Agents[0]
		if !sameFiles(want.Files, got.Files) || want.Hash != got.Hash {
			t.Fatalf("%s: remembered render differs from a fresh one", step)
		}
		if last != nil && wantChanged >= 0 {
			if changed := changedFiles(t, last, got.Files); len(changed) != wantChanged {
				t.Errorf("%s: changed %v, want %d files", step, changed, wantChanged)
			}
		}
		last = got.Files
	}
	check("first render", -1)
	check("nothing changed", 0)
	s.Pipelines[3].Spec.Filters[0].Grep.Exclude[0].Regex = "GET /livez"
	s.Pipelines[3].ResourceVersion = "2"
	check("pipeline edited", 1)
	s.Outputs[5].Spec.HTTP.Path = "/v2/logs"
	s.Outputs[5].ResourceVersion = "2"
	check("output edited", 1)
	s.Pipelines = slices.Delete(s.Pipelines, 7, 8)
	check("pipeline deleted", 1)
	s.ClusterOutputs[0].Spec.HTTP.Path = "/v2/ingest"
	s.ClusterOutputs[0].ResourceVersion = "2"
	check("cluster output edited", -1)
	s.Outputs = append(s.Outputs, v1.LogOutput{ObjectMeta: metav1.ObjectMeta{Namespace: "team-000", Name: "extra", ResourceVersion: "1"},
		Spec: v1.OutputSpec{Type: v1.OutputStdout, Stdout: &v1.StdoutOutput{}}})
	s.Pipelines[0].Spec.OutputRefs = append(slices.Clone(s.Pipelines[0].Spec.OutputRefs), "extra")
	s.Pipelines[0].ResourceVersion = "2"
	check("output added to a pipeline", 1)
}

// A sharded configuration's hash is taken from digests worked out as its shard files
// are joined; it must equal the hash of the files as written, with and without a
// Renderer (which reuses shard files and digests it remembers).
func TestShardedHashIsHashOfFiles(t *testing.T) {
	withMaxFileBytes(t, 64*1024)
	s := fleet(200)
	r := NewRenderer()
	configs := map[string]Config{"Render": Render(s).Agents[0].Config,
		"Renderer": r.Render(s).Agents[0].Config, "Renderer again": r.Render(s).Agents[0].Config}
	s.Pipelines[7].Spec.Filters = nil
	s.Pipelines[7].ResourceVersion = "2"
	configs["Renderer after a change"] = r.Render(s).Agents[0].Config
	if configs["Renderer after a change"].Hash == configs["Renderer again"].Hash {
		t.Fatal("the change left the hash as it was")
	}
	for name, got := range configs {
		if len(got.Files) < 3 {
			t.Fatalf("%s: %d files: not sharded", name, len(got.Files))
		}
		if want := hashRest(hashFiles(got.Files), &got); got.Hash != want {
			t.Errorf("%s: hash %s, the files hash to %s", name, got.Hash, want)
		}
	}
}
