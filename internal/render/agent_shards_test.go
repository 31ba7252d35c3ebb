package render

import (
	"path"
	"reflect"
	"strings"
	"testing"

	"github.com/logplane/logplane/internal/fluentbit"
)

// Every container log file must be read by exactly one shard, whatever its ID's last digit.
func TestContainerShardsCoverEveryFileOnce(t *testing.T) {
	id := strings.Repeat("0", 63)
	for _, last := range "0123456789abcdef" {
		file := "web-0_team-a_app-" + id + string(last) + ".log"
		n := 0
		for _, digits := range containerShards {
			ok, err := path.Match("*"+digits+".log", file)
			if err != nil {
				t.Fatalf("shard %q: %v", digits, err)
			}
			if ok {
				n++
			}
		}
		if n != 1 {
			t.Errorf("file ending in %q is read by %d shards, want 1", last, n)
		}
	}
}

// Outputs match on tags, so every shard must tag alike; each keeps its own positions.
func TestContainerShardsTagAlikeWithOwnPositions(t *testing.T) {
	inputs := containersInputs("logplane-system", false, nil)
	if len(inputs) != len(containerShards) {
		t.Fatalf("got %d inputs, want %d", len(inputs), len(containerShards))
	}
	param := func(s fluentbit.Section, key string) fluentbit.Value {
		for _, p := range s.Params {
			if p.Key == key {
				return p.Value
			}
		}
		t.Fatalf("input %s has no %s", s.Alias, key)
		return fluentbit.Value{}
	}
	aliases := map[string]bool{}
	for i, in := range inputs {
		aliases[in.Alias] = true
		for _, key := range []string{"tag", "tag_regex", "exclude_path"} {
			if !reflect.DeepEqual(param(in, key), param(inputs[0], key)) {
				t.Errorf("shard %d: %s differs from shard 0", i, key)
			}
		}
		for j := range i {
			for _, key := range []string{"db", "path"} {
				if reflect.DeepEqual(param(in, key), param(inputs[j], key)) {
					t.Errorf("shards %d and %d share %s", j, i, key)
				}
			}
		}
		if !reflect.DeepEqual(param(in, "threaded"), fluentbit.Bool(true)) {
			t.Errorf("shard %d is not threaded", i)
		}
	}
	if len(aliases) != len(inputs) {
		t.Errorf("aliases not distinct: %v", aliases)
	}
}
