package agent

import (
	"slices"
	"sync"

	v1 "github.com/logplane/logplane/api/v1alpha1"
	"github.com/logplane/logplane/internal/render"
)

// SecretIndex remembers which Secrets the last renders referred to, so that a Secret
// event queues only the agents it can affect: none for the cluster's other Secrets.
type SecretIndex struct {
	mu sync.RWMutex
	// usedBy maps a Secret to the agents whose configuration carries its values.
	usedBy map[[2]string][]string
	// referenced holds every Secret any output refers to, present or not: when one
	// appears or changes, the outputs using it may start or stop rendering anywhere.
	referenced map[[2]string]bool
}

// NewSecretIndex returns an empty index.
func NewSecretIndex() *SecretIndex {
	return &SecretIndex{usedBy: map[[2]string][]string{}, referenced: map[[2]string]bool{}}
}

// record replaces what is known after a render.
func (x *SecretIndex) record(agent string, cfg render.Config, referenced map[[2]string]bool) {
	x.mu.Lock()
	defer x.mu.Unlock()
	for key, agents := range x.usedBy {
		x.usedBy[key] = slices.DeleteFunc(agents, func(a string) bool { return a == agent })
	}
	for _, src := range cfg.SecretSources() {
		key := [2]string{src.Namespace, src.Name}
		if !slices.Contains(x.usedBy[key], agent) {
			x.usedBy[key] = append(x.usedBy[key], agent)
		}
	}
	x.referenced = referenced
}

// Agents returns the agents a change of Secret namespace/name can affect; all=true
// means every agent. The default agent is among them for any Secret in use, since
// it reports on the outputs that refer to it.
func (x *SecretIndex) Agents(namespace, name string) (agents []string, all bool) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	key := [2]string{namespace, name}
	if used := x.usedBy[key]; len(used) > 0 {
		if slices.Contains(used, v1.DefaultAgentName) {
			return slices.Clone(used), false
		}
		return append(slices.Clone(used), v1.DefaultAgentName), false
	}
	return nil, x.referenced[key]
}
