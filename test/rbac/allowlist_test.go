// Package rbac holds the operator to least privilege: the RBAC that `kubectl apply -k
// config/default` installs is printed and checked against an allow-list written out
// here, and the operator is run in a real API server as a user bound to exactly that
// RBAC, through a flow that exercises every controller.
package rbac

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/logplane/logplane/test/testenv"
)

// allowed is one grant the operator may hold: verbs on resources of a group, in the
// operator's namespace or cluster-wide, on any object or only on named ones.
type allowed struct {
	namespaced bool // a Role in the operator's namespace; false: cluster-wide
	group      string
	resources  []string
	verbs      []string
	names      []string // nil: any object
	why        string
}

// allowList is everything the operator may do. A rule the generated RBAC holds that
// no entry covers fails the test: a new permission is a decision to write down here,
// with its reason, not a side effect of a marker.
var allowList = []allowed{
	// Reading: what the controllers watch and the renderer resolves.
	{false, "logging.logplane.dev", []string{"logagents", "clusterlogpipelines", "logpipelines", "logoutputs", "clusterlogoutputs", "retentionpolicies"},
		[]string{"get", "list", "watch"}, nil, "the API it reconciles"},
	{false, "logging.logplane.dev", []string{"identitygrants"}, []string{"get", "list", "watch"}, nil, "the platform's identity grants (read only: no status)"},
	{false, "logging.logplane.dev", []string{"logoutputs", "clusterlogoutputs"}, []string{"patch"}, nil,
		"the retention finalizer on outputs whose S3 rule is removed with them (metadata only, never spec)"},
	{false, "logging.logplane.dev", []string{"logagents/status", "clusterlogpipelines/status", "logpipelines/status", "logoutputs/status", "clusterlogoutputs/status", "retentionpolicies/status"},
		[]string{"get", "patch"}, nil, "statuses, patched (never updated whole)"},
	{false, "", []string{"namespaces", "pods"}, []string{"get", "list", "watch"}, nil,
		"namespace labels for selectors; pod metadata for sidecar counts and metrics; the agents' ClusterRole grants these, so the operator must hold them"},
	{false, "", []string{"events"}, []string{"get", "list", "watch"}, nil, "granted to the events collector's ClusterRole, so held by the operator"},
	{false, "", []string{"secrets"}, []string{"get", "list", "watch"}, nil, "credentials outputs name in their namespace (data read on demand, metadata cached)"},
	// The one cluster-wide write to tenants' namespaces: sidecar configuration Secrets,
	// which a pod can mount only from its own namespace. No update: server-side apply
	// and removal only.
	{false, "", []string{"secrets"}, []string{"create", "patch", "delete"}, nil, "sidecar configuration Secrets in tenant namespaces"},
	// The webhook configuration: its caBundle, by name.
	{false, "admissionregistration.k8s.io", []string{"mutatingwebhookconfigurations"}, []string{"get", "patch"},
		[]string{"logplane-mutating-webhook-configuration"}, "caBundle of logplane's own webhook"},
	{false, "admissionregistration.k8s.io", []string{"validatingwebhookconfigurations"}, []string{"get", "patch"},
		[]string{"logplane-validating-webhook-configuration"}, "caBundle of logplane's own validating webhook"},
	// Agent RBAC: create cannot be limited by name; everything else is, to the two
	// fixed pairs. No escalate, no bind: the API server then lets the operator create
	// only roles granting what it holds itself.
	{false, "rbac.authorization.k8s.io", []string{"clusterroles", "clusterrolebindings"}, []string{"create"}, nil, "agents' ClusterRole and binding"},
	{false, "rbac.authorization.k8s.io", []string{"clusterroles", "clusterrolebindings"}, []string{"get", "patch", "delete"},
		[]string{"logplane-agent", "logplane-events"}, "agents' ClusterRole and binding, by name"},
	{false, "events.k8s.io", []string{"events"}, []string{"create", "patch"}, nil, "events explaining decisions"},
	{false, "authentication.k8s.io", []string{"tokenreviews"}, []string{"create"}, nil, "authenticated metrics"},
	{false, "authorization.k8s.io", []string{"subjectaccessreviews"}, []string{"create"}, nil, "authorised metrics"},
	// The operator's namespace.
	{true, "", []string{"secrets"}, []string{"get", "create", "update", "patch", "delete"}, nil, "agents' configuration and credentials, the salt, the webhook certificate"},
	{true, "", []string{"serviceaccounts", "services"}, []string{"get", "create", "patch", "delete"}, nil, "agents' identities and metrics Services"},
	{true, "apps", []string{"daemonsets"}, []string{"get", "list", "watch", "create", "patch", "delete"}, nil, "agents"},
	{true, "apps", []string{"deployments"}, []string{"get", "create", "patch", "delete"}, nil, "the events collector"},
	{true, "", []string{"pods"}, []string{"create", "delete"}, nil, "canary pods that prove a configuration before the nodes get it"},
	{true, "networking.k8s.io", []string{"networkpolicies"}, []string{"get", "create", "patch"}, nil, "the canary's deny-all NetworkPolicy"},
	{true, "coordination.k8s.io", []string{"leases"}, []string{"get", "create", "update"}, nil, "leader election"},
	{true, "", []string{"events"}, []string{"create", "patch"}, nil, "leader election's events (client-go records them with the core API)"},
}

// Never, whatever the allow-list says: wildcards, and verbs that hand out rights.
var forbiddenVerbs = []string{"*", "escalate", "bind", "impersonate", "deletecollection"}

const operatorNamespace = "logplane-system"

// TestRBACIsLeastPrivilege prints every rule config/default installs and fails on
// any rule the allow-list does not cover, on wildcards and right-granting verbs, and
// on any binding other than the operator's own two.
func TestRBACIsLeastPrivilege(t *testing.T) {
	objs := defaultInstall(t)
	var roles, bindings int
	for _, u := range objs {
		switch u.GetKind() {
		case "ClusterRole", "Role":
			roles++
			var r rbacv1.Role // same rules field for both kinds
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &r); err != nil {
				t.Fatal(err)
			}
			namespaced := u.GetKind() == "Role"
			if namespaced && u.GetNamespace() != operatorNamespace {
				t.Errorf("Role %s/%s outside the operator's namespace", u.GetNamespace(), u.GetName())
			}
			if u.Object["aggregationRule"] != nil {
				t.Errorf("%s %s aggregates other roles", u.GetKind(), u.GetName())
			}
			for _, rule := range r.Rules {
				t.Logf("%-11s %-16s %s", u.GetKind(), u.GetName(), describe(rule))
				for _, problem := range check(rule, namespaced) {
					t.Errorf("%s %s: %s: %s", u.GetKind(), u.GetName(), describe(rule), problem)
				}
			}
		case "ClusterRoleBinding", "RoleBinding":
			bindings++
			var b rbacv1.RoleBinding
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &b); err != nil {
				t.Fatal(err)
			}
			t.Logf("%-11s %-16s %s %s → %v", u.GetKind(), u.GetName(), b.RoleRef.Kind, b.RoleRef.Name, b.Subjects)
			want := []rbacv1.Subject{{Kind: "ServiceAccount", Name: "logplane-controller-manager", Namespace: operatorNamespace}}
			if b.RoleRef.Name != "logplane-manager" || !slices.Equal(b.Subjects, want) ||
				(u.GetKind() == "RoleBinding") != (b.RoleRef.Kind == "Role") {
				t.Errorf("%s %s binds %s %s to %v; only the operator's own roles to its ServiceAccount are expected",
					u.GetKind(), u.GetName(), b.RoleRef.Kind, b.RoleRef.Name, b.Subjects)
			}
		}
	}
	if roles != 2 || bindings != 2 {
		t.Errorf("%d roles and %d bindings, want the ClusterRole and Role logplane-manager and their bindings", roles, bindings)
	}
}

// check lists what is wrong with one rule: each (group, resource, verb, name) it
// grants must be covered by one allow-list entry of the same scope.
func check(rule rbacv1.PolicyRule, namespaced bool) []string {
	var problems []string
	if len(rule.NonResourceURLs) > 0 {
		problems = append(problems, "non-resource URLs")
	}
	for _, v := range rule.Verbs {
		if slices.Contains(forbiddenVerbs, v) {
			problems = append(problems, "verb "+v+" is never granted")
		}
	}
	for _, list := range [][]string{rule.APIGroups, rule.Resources, rule.ResourceNames} {
		if slices.Contains(list, "*") {
			problems = append(problems, "wildcard")
		}
	}
	for _, g := range rule.APIGroups {
		for _, res := range rule.Resources {
			for _, v := range rule.Verbs {
				if !covered(g, res, v, rule.ResourceNames, namespaced) {
					scope := "cluster-wide"
					if namespaced {
						scope = "in " + operatorNamespace
					}
					target := "any object"
					if len(rule.ResourceNames) > 0 {
						target = strings.Join(rule.ResourceNames, ",")
					}
					problems = append(problems, fmt.Sprintf("%s %s.%s (%s, %s) is not on the allow-list", v, res, g, target, scope))
				}
			}
		}
	}
	return problems
}

func covered(group, resource, verb string, names []string, namespaced bool) bool {
	for _, a := range allowList {
		if a.namespaced != namespaced || a.group != group || !slices.Contains(a.resources, resource) || !slices.Contains(a.verbs, verb) {
			continue
		}
		if a.names == nil {
			return true
		}
		// A named grant covers only rules limited to some of its names.
		if len(names) > 0 && !slices.ContainsFunc(names, func(n string) bool { return !slices.Contains(a.names, n) }) {
			return true
		}
	}
	return false
}

func describe(r rbacv1.PolicyRule) string {
	s := fmt.Sprintf("%s on %s in group %q", strings.Join(r.Verbs, ","), strings.Join(r.Resources, ","), strings.Join(r.APIGroups, ","))
	if len(r.ResourceNames) > 0 {
		s += " named " + strings.Join(r.ResourceNames, ",")
	}
	return s
}

// The checker itself: rules broader than the allow-list fail.
func TestAllowListRefusesBroaderRules(t *testing.T) {
	for _, tc := range []struct {
		name       string
		rule       rbacv1.PolicyRule
		namespaced bool
	}{
		{"wildcard verbs", rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"*"}}, false},
		{"wildcard resources", rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"*"}, Verbs: []string{"get"}}, false},
		{"secret update cluster-wide", rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"secrets"}, Verbs: []string{"update"}}, false},
		{"namespaced secret write granted cluster-wide", rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"serviceaccounts"}, Verbs: []string{"create"}}, false},
		{"unnamed webhook patch", rbacv1.PolicyRule{APIGroups: []string{"admissionregistration.k8s.io"}, Resources: []string{"mutatingwebhookconfigurations"}, Verbs: []string{"patch"}}, false},
		{"webhook update", rbacv1.PolicyRule{APIGroups: []string{"admissionregistration.k8s.io"}, Resources: []string{"mutatingwebhookconfigurations"},
			Verbs: []string{"update"}, ResourceNames: []string{"logplane-mutating-webhook-configuration"}}, false},
		{"another ClusterRole by name", rbacv1.PolicyRule{APIGroups: []string{"rbac.authorization.k8s.io"}, Resources: []string{"clusterroles"},
			Verbs: []string{"patch"}, ResourceNames: []string{"logplane-agent", "cluster-admin"}}, false},
		{"unnamed ClusterRoleBinding delete", rbacv1.PolicyRule{APIGroups: []string{"rbac.authorization.k8s.io"}, Resources: []string{"clusterrolebindings"}, Verbs: []string{"delete"}}, false},
		{"bind on the agents' role", rbacv1.PolicyRule{APIGroups: []string{"rbac.authorization.k8s.io"}, Resources: []string{"clusterroles"},
			Verbs: []string{"bind"}, ResourceNames: []string{"logplane-agent"}}, false},
		{"escalate", rbacv1.PolicyRule{APIGroups: []string{"rbac.authorization.k8s.io"}, Resources: []string{"roles"}, Verbs: []string{"escalate"}}, true},
		{"impersonate", rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"serviceaccounts"}, Verbs: []string{"impersonate"}}, false},
		{"deployments cluster-wide", rbacv1.PolicyRule{APIGroups: []string{"apps"}, Resources: []string{"deployments"}, Verbs: []string{"get"}}, false},
		{"non-resource URLs", rbacv1.PolicyRule{NonResourceURLs: []string{"/metrics"}, Verbs: []string{"get"}}, false},
	} {
		if len(check(tc.rule, tc.namespaced)) == 0 {
			t.Errorf("%s: %s passed", tc.name, describe(tc.rule))
		}
	}
	// And what the operator needs passes.
	for _, ok := range []rbacv1.PolicyRule{
		{APIGroups: []string{"rbac.authorization.k8s.io"}, Resources: []string{"clusterroles"}, Verbs: []string{"patch"}, ResourceNames: []string{"logplane-agent"}},
		{APIGroups: []string{""}, Resources: []string{"secrets"}, Verbs: []string{"create", "patch", "delete"}},
	} {
		if p := check(ok, false); len(p) > 0 {
			t.Errorf("%s refused: %v", describe(ok), p)
		}
	}
}

// defaultInstall is what `kubectl apply -k config/default` applies.
func defaultInstall(t *testing.T) []*unstructured.Unstructured {
	t.Helper()
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	resmap, err := k.Run(filesys.MakeFsOnDisk(), filepath.Join(testenv.RepoRoot(), "config", "default"))
	if err != nil {
		t.Fatalf("kustomize build config/default: %v", err)
	}
	var out []*unstructured.Unstructured
	for _, r := range resmap.Resources() {
		m, err := r.Map()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, &unstructured.Unstructured{Object: m})
	}
	return out
}
