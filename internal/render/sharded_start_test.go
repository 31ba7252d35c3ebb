package render

import (
	"testing"

	"github.com/logplane/logplane/test/fbrun"
)

// A sharded configuration, mounted as the agent mounts it (every file in one
// directory, the main file including each shard), starts too.
func TestShardedConfigurationStarts(t *testing.T) {
	bin := fbrun.Binary(t)
	withMaxFileBytes(t, 64<<10)
	cfg := Render(fleet(300)).Agents[0]
	if len(cfg.Files) < 3 {
		t.Fatalf("not sharded: %d files", len(cfg.Files))
	}
	gp := goldenPod{name: "sharded", files: map[string][]byte{}, api: true}
	for _, f := range cfg.Files {
		gp.files[fbrun.ConfigDir+"/"+f.Name] = f.Content
	}
	startAll(t, bin, []goldenPod{gp})
}
