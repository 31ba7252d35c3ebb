package agent

import (
	"slices"
	"testing"

	"github.com/logplane/logplane/internal/render"
)

func TestSecretIndexQueuesOnlyAffectedAgents(t *testing.T) {
	x := NewSecretIndex()
	cfg := render.Config{Env: []render.EnvVar{{Name: "LP_A", Source: render.SecretSource{Namespace: "team-a", Name: "token", Key: "t"}}}}
	referenced := map[[2]string]bool{{"team-a", "token"}: true, {"team-b", "not-yet-created"}: true}
	x.record("default", cfg, referenced)
	x.record("edge", render.Config{}, referenced)

	if agents, all := x.Agents("team-a", "token"); all || !slices.Equal(agents, []string{"default"}) {
		t.Errorf("used secret: %v, all=%v; want only default", agents, all)
	}
	// An edge agent's Secret also queues the default agent, which reports on outputs.
	edgeCfg := render.Config{Env: []render.EnvVar{{Name: "LP_B", Source: render.SecretSource{Namespace: "team-c", Name: "key", Key: "k"}}}}
	x.record("edge", edgeCfg, referenced)
	if agents, all := x.Agents("team-c", "key"); all || !slices.Equal(agents, []string{"edge", "default"}) {
		t.Errorf("secret used on edge: %v, all=%v; want edge and default", agents, all)
	}
	if agents, all := x.Agents("team-b", "not-yet-created"); !all || agents != nil {
		t.Errorf("referenced but unused secret: %v, all=%v; want all agents", agents, all)
	}
	if agents, all := x.Agents("kube-system", "unrelated"); all || agents != nil {
		t.Errorf("unrelated secret queued %v, all=%v", agents, all)
	}
	// A new render without the secret forgets it.
	x.record("default", render.Config{}, map[[2]string]bool{})
	if agents, all := x.Agents("team-a", "token"); all || len(agents) != 0 {
		t.Errorf("forgotten secret still queues %v, all=%v", agents, all)
	}
}
