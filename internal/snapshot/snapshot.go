// Package snapshot holds everything the renderer reads, gathered once: the logplane
// resources, the namespaces' labels, the names of the keys of referenced Secrets and
// what each key's value is fit for (never the values), and the salt of the names that
// address credentials. It is filled from the controller cache or, for the render
// command, from YAML files, and is read-only afterwards.
package snapshot

import (
	"cmp"
	"slices"

	"k8s.io/apimachinery/pkg/labels"

	v1 "github.com/logplane/logplane/api/v1alpha1"
	"github.com/logplane/logplane/internal/secretvalue"
)

// Snapshot is the renderer's whole input.
type Snapshot struct {
	// OperatorNamespace holds the Secrets of cluster-scoped outputs.
	OperatorNamespace string
	// Salt keys the names that address credentials in a configuration (environment
	// variables, mounted files, AWS profiles), so that no tenant can work out the name
	// of another's. The operator keeps it in the Secret SaltSecretName of its
	// namespace; empty leaves the names unsalted (logplane render without that Secret).
	Salt []byte

	Agents           []v1.LogAgent
	ClusterPipelines []v1.ClusterLogPipeline
	Pipelines        []v1.LogPipeline
	Outputs          []v1.LogOutput
	ClusterOutputs   []v1.ClusterLogOutput
	Policies         []v1.RetentionPolicy
	// Grants hand AWS identities to the LogOutputs of some namespaces.
	Grants     []v1.IdentityGrant
	Namespaces []Namespace
	Secrets    []Secret
}

// Namespace is what selectors need to know of a namespace.
type Namespace struct {
	Name   string
	Labels map[string]string
}

// Secret is a Secret's identity, the keys it holds and what their values are fit for.
type Secret struct {
	Namespace string
	Name      string
	Keys      []string
	// Uses[i] is what the value of Keys[i] is fit for (secretvalue.Uses). Missing
	// entries (a Secret written by hand in a test) fit an ordinary value's uses
	// (SingleLine, Bounded) but no AWS key's.
	Uses []secretvalue.Use
}

// NewSecret describes a Secret from its data: the keys, sorted, and their uses.
func NewSecret(namespace, name string, data map[string][]byte) Secret {
	s := Secret{Namespace: namespace, Name: name, Keys: make([]string, 0, len(data)), Uses: make([]secretvalue.Use, 0, len(data))}
	for k := range data {
		s.Keys = append(s.Keys, k)
	}
	slices.Sort(s.Keys)
	for _, k := range s.Keys {
		s.Uses = append(s.Uses, secretvalue.Uses(data[k]))
	}
	return s
}

// The operator's salt (Snapshot.Salt): key SaltKey of Secret SaltSecretName in the
// operator's namespace.
const (
	SaltSecretName = "logplane-credentials-salt"
	SaltKey        = "salt"
)

// Sort orders every list by identity, so that the renderer's output does not depend on
// the order objects were listed in.
func (s *Snapshot) Sort() {
	byName := func(ns1, n1, ns2, n2 string) int { return cmp.Or(cmp.Compare(ns1, ns2), cmp.Compare(n1, n2)) }
	s.Agents = sortedBy(s.Agents, func(a, b *v1.LogAgent) int { return cmp.Compare(a.Name, b.Name) })
	s.ClusterPipelines = sortedBy(s.ClusterPipelines, func(a, b *v1.ClusterLogPipeline) int { return cmp.Compare(a.Name, b.Name) })
	s.Pipelines = sortedBy(s.Pipelines, func(a, b *v1.LogPipeline) int { return byName(a.Namespace, a.Name, b.Namespace, b.Name) })
	s.Outputs = sortedBy(s.Outputs, func(a, b *v1.LogOutput) int { return byName(a.Namespace, a.Name, b.Namespace, b.Name) })
	s.ClusterOutputs = sortedBy(s.ClusterOutputs, func(a, b *v1.ClusterLogOutput) int { return cmp.Compare(a.Name, b.Name) })
	s.Policies = sortedBy(s.Policies, func(a, b *v1.RetentionPolicy) int { return cmp.Compare(a.Name, b.Name) })
	s.Grants = sortedBy(s.Grants, func(a, b *v1.IdentityGrant) int { return cmp.Compare(a.Name, b.Name) })
	s.Namespaces = sortedBy(s.Namespaces, func(a, b *Namespace) int { return cmp.Compare(a.Name, b.Name) })
	s.Secrets = sortedBy(s.Secrets, func(a, b *Secret) int { return byName(a.Namespace, a.Name, b.Namespace, b.Name) })
}

// sortedBy returns items in order. Sorting indices and moving each (large) item once is
// much cheaper than swapping the items themselves throughout the sort; a list already
// in order is returned as it is.
func sortedBy[T any](items []T, compare func(a, b *T) int) []T {
	sorted := true
	for i := 1; i < len(items) && sorted; i++ {
		sorted = compare(&items[i-1], &items[i]) <= 0
	}
	if sorted {
		return items
	}
	order := make([]int, len(items))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(i, j int) int { return compare(&items[i], &items[j]) })
	out := make([]T, len(items))
	for j, i := range order {
		out[j] = items[i]
	}
	return out
}

// Index answers the renderer's lookups in constant time.
type Index struct {
	outputs        map[[2]string]*v1.LogOutput
	clusterOutputs map[string]*v1.ClusterLogOutput
	policies       map[string]*v1.RetentionPolicy
	agents         map[string]*v1.LogAgent
	namespaces     map[string]labels.Set
	// secretKeys holds each key's uses, with keyPresent set.
	secretKeys map[[3]string]secretvalue.Use
}

// keyPresent marks a key in Index.secretKeys: a key whose value fits nothing is there too.
const keyPresent secretvalue.Use = 1 << 7

// NewIndex indexes s; s must not change while the index is in use.
func NewIndex(s *Snapshot) *Index {
	ix := &Index{
		outputs:        make(map[[2]string]*v1.LogOutput, len(s.Outputs)),
		clusterOutputs: make(map[string]*v1.ClusterLogOutput, len(s.ClusterOutputs)),
		policies:       make(map[string]*v1.RetentionPolicy, len(s.Policies)),
		agents:         make(map[string]*v1.LogAgent, len(s.Agents)),
		namespaces:     make(map[string]labels.Set, len(s.Namespaces)),
		secretKeys:     make(map[[3]string]secretvalue.Use, len(s.Secrets)),
	}
	for i := range s.Outputs {
		o := &s.Outputs[i]
		ix.outputs[[2]string{o.Namespace, o.Name}] = o
	}
	for i := range s.ClusterOutputs {
		ix.clusterOutputs[s.ClusterOutputs[i].Name] = &s.ClusterOutputs[i]
	}
	for i := range s.Policies {
		ix.policies[s.Policies[i].Name] = &s.Policies[i]
	}
	for i := range s.Agents {
		ix.agents[s.Agents[i].Name] = &s.Agents[i]
	}
	for _, ns := range s.Namespaces {
		ix.namespaces[ns.Name] = labels.Set(ns.Labels)
	}
	for _, sec := range s.Secrets {
		for i, k := range sec.Keys {
			u := keyPresent | secretvalue.SingleLine | secretvalue.Bounded
			if i < len(sec.Uses) {
				u = keyPresent | sec.Uses[i]
			}
			ix.secretKeys[[3]string{sec.Namespace, sec.Name, k}] = u
		}
	}
	return ix
}

// Output returns the LogOutput namespace/name, or nil.
func (ix *Index) Output(namespace, name string) *v1.LogOutput {
	return ix.outputs[[2]string{namespace, name}]
}

// ClusterOutput returns the ClusterLogOutput name, or nil.
func (ix *Index) ClusterOutput(name string) *v1.ClusterLogOutput { return ix.clusterOutputs[name] }

// Policy returns the RetentionPolicy name, or nil.
func (ix *Index) Policy(name string) *v1.RetentionPolicy { return ix.policies[name] }

// Agent returns the LogAgent name, or nil.
func (ix *Index) Agent(name string) *v1.LogAgent { return ix.agents[name] }

// NamespaceLabels returns a namespace's labels and whether the namespace is known.
func (ix *Index) NamespaceLabels(name string) (labels.Set, bool) {
	l, ok := ix.namespaces[name]
	return l, ok
}

// HasSecretKey reports whether Secret namespace/name exists and holds key.
func (ix *Index) HasSecretKey(namespace, name, key string) bool {
	return ix.secretKeys[[3]string{namespace, name, key}]&keyPresent != 0
}

// SecretKeyUses returns what the value of key in Secret namespace/name is fit for.
func (ix *Index) SecretKeyUses(namespace, name, key string) secretvalue.Use {
	return ix.secretKeys[[3]string{namespace, name, key}] &^ keyPresent
}
