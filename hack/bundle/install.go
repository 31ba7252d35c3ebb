package main

import (
	"fmt"
	"sort"
	"strings"

	operatorsv1alpha1 "github.com/operator-framework/api/pkg/operators/v1alpha1"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// webhookCertModeFlag switches the operator's own certificate management off: under
// OLM, OLM issues the webhook's certificate, mounts it and patches the caBundle.
const webhookCertModeFlag = "--webhook-cert-mode"

// managerContainer is the operator's container in the Deployment.
const managerContainer = "manager"

// operatorImageEnv tells the manager which image its reloader sidecars run; it must
// equal the manager's own image.
const operatorImageEnv = "OPERATOR_IMAGE"

// installParts is the kustomize install sorted into what the CSV expresses, what OLM
// replaces, and what ships beside the CSV as plain objects.
type installParts struct {
	crds                []*unstructured.Unstructured
	namespaces          []*unstructured.Unstructured
	deployments         []appsv1.Deployment
	serviceAccounts     []corev1.ServiceAccount
	clusterRoles        map[string]rbacv1.ClusterRole
	roles               map[string]rbacv1.Role
	clusterRoleBindings []rbacv1.ClusterRoleBinding
	roleBindings        []rbacv1.RoleBinding
	services            []corev1.Service
	mutatingWebhooks    []admissionregistrationv1.MutatingWebhookConfiguration
	validatingWebhooks  []admissionregistrationv1.ValidatingWebhookConfiguration
	extras              []*unstructured.Unstructured
}

// extraKinds are the kinds OLM installs from a bundle as plain objects.
var extraKinds = map[string]bool{
	"ConfigMap": true, "Secret": true, "Service": true, "ServiceAccount": true,
	"ClusterRole": true, "Role": true, "PrometheusRule": true, "ServiceMonitor": true,
	"PodMonitor": true, "PodDisruptionBudget": true, "PriorityClass": true,
	"NetworkPolicy": true, "VerticalPodAutoscaler": true, "ConsoleYAMLSample": true,
}

func partition(objs []*unstructured.Unstructured) (*installParts, error) {
	p := &installParts{clusterRoles: map[string]rbacv1.ClusterRole{}, roles: map[string]rbacv1.Role{}}
	for _, o := range objs {
		var err error
		switch o.GetKind() {
		case "CustomResourceDefinition":
			p.crds = append(p.crds, o)
		case "Namespace":
			// OLM installs into the namespace of the OperatorGroup; the install's own
			// becomes the suggested one.
			p.namespaces = append(p.namespaces, o)
		case "Certificate", "Issuer":
			// cert-manager objects: OLM provides the webhook certificate.
		case "Deployment":
			err = convertAppend(o, &p.deployments)
		case "ServiceAccount":
			err = convertAppend(o, &p.serviceAccounts)
		case "ClusterRole":
			var r rbacv1.ClusterRole
			err = convert(o, &r)
			p.clusterRoles[r.Name] = r
		case "Role":
			var r rbacv1.Role
			err = convert(o, &r)
			p.roles[r.Name] = r
		case "ClusterRoleBinding":
			err = convertAppend(o, &p.clusterRoleBindings)
		case "RoleBinding":
			err = convertAppend(o, &p.roleBindings)
		case "Service":
			err = convertAppend(o, &p.services)
		case "MutatingWebhookConfiguration":
			err = convertAppend(o, &p.mutatingWebhooks)
		case "ValidatingWebhookConfiguration":
			err = convertAppend(o, &p.validatingWebhooks)
		default:
			if !extraKinds[o.GetKind()] {
				return nil, fmt.Errorf("%s %s cannot be shipped in an OLM bundle", o.GetKind(), o.GetName())
			}
			p.extras = append(p.extras, o)
		}
		if err != nil {
			return nil, fmt.Errorf("failed to read %s %s: %w", o.GetKind(), o.GetName(), err)
		}
	}
	if len(p.deployments) == 0 {
		return nil, fmt.Errorf("the install has no Deployment")
	}
	sort.Slice(p.crds, func(i, j int) bool { return p.crds[i].GetName() < p.crds[j].GetName() })
	return p, nil
}

func convert(o *unstructured.Unstructured, into any) error {
	return runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, into)
}

func convertAppend[T any](o *unstructured.Unstructured, list *[]T) error {
	var v T
	if err := convert(o, &v); err != nil {
		return err
	}
	*list = append(*list, v)
	return nil
}

// installStrategy turns Deployments and RBAC into the CSV's install strategy and the
// webhook configurations into webhook definitions. What the CSV takes over is removed
// from p.extras' candidates; what it cannot express is added to p.extras or reported.
func installStrategy(p *installParts, image string) (operatorsv1alpha1.StrategyDetailsDeployment, []operatorsv1alpha1.WebhookDescription, []string, error) {
	var strategy operatorsv1alpha1.StrategyDetailsDeployment
	var notes []string

	webhooks, webhookServices, webhookPorts, webhookNotes, err := webhookDefinitions(p)
	if err != nil {
		return strategy, nil, nil, err
	}
	notes = append(notes, webhookNotes...)

	sort.Slice(p.deployments, func(i, j int) bool { return p.deployments[i].Name < p.deployments[j].Name })
	usedAccounts := map[string]bool{}
	managers := 0
	for _, d := range p.deployments {
		d := d.DeepCopy()
		if setImage(d, image) {
			managers++
		}
		if port, ok := webhookPorts[d.Name]; ok {
			if err := setExternalCertMode(d, port); err != nil {
				return strategy, nil, nil, err
			}
		}
		account := d.Spec.Template.Spec.ServiceAccountName
		if account == "" {
			account = "default"
		}
		usedAccounts[account] = true
		strategy.DeploymentSpecs = append(strategy.DeploymentSpecs, operatorsv1alpha1.StrategyDeploymentSpec{
			Name:  d.Name,
			Spec:  d.Spec,
			Label: labels.Set(d.Labels),
		})
	}

	if managers != 1 {
		return strategy, nil, nil, fmt.Errorf("%d Deployments run a %q container, want exactly one", managers, managerContainer)
	}

	perms, clusterPerms, boundRoles, boundClusterRoles, err := permissions(p)
	if err != nil {
		return strategy, nil, nil, err
	}
	strategy.Permissions, strategy.ClusterPermissions = perms, clusterPerms
	for _, perm := range append(append([]operatorsv1alpha1.StrategyDeploymentPermissions{}, perms...), clusterPerms...) {
		usedAccounts[perm.ServiceAccountName] = true
	}

	// Whatever the CSV does not take over ships as a plain object.
	for _, name := range sortedKeys(p.clusterRoles) {
		if !boundClusterRoles[name] {
			if err := appendExtra(p, p.clusterRoles[name], "ClusterRole"); err != nil {
				return strategy, nil, nil, err
			}
		}
	}
	for _, name := range sortedKeys(p.roles) {
		if !boundRoles[name] {
			if err := appendExtra(p, p.roles[name], "Role"); err != nil {
				return strategy, nil, nil, err
			}
		}
	}
	for _, sa := range p.serviceAccounts {
		if !usedAccounts[sa.Name] {
			if err := appendExtra(p, sa, "ServiceAccount"); err != nil {
				return strategy, nil, nil, err
			}
		}
	}
	for _, svc := range p.services {
		if !webhookServices[svc.Name] {
			if err := appendExtra(p, svc, "Service"); err != nil {
				return strategy, nil, nil, err
			}
		}
	}
	sort.SliceStable(p.extras, func(i, j int) bool { return extraFileName(p.extras[i]) < extraFileName(p.extras[j]) })
	return strategy, webhooks, notes, nil
}

func appendExtra(p *installParts, obj any, kind string) error {
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(&obj)
	if err != nil {
		return fmt.Errorf("failed to encode %s: %w", kind, err)
	}
	u := &unstructured.Unstructured{Object: m}
	if u.GetKind() == "" {
		u.SetKind(kind)
	}
	p.extras = append(p.extras, u)
	return nil
}

// setImage points the manager at the released image, and the reloader image it hands
// to agents at the same one. It reports whether the Deployment runs the manager.
func setImage(d *appsv1.Deployment, image string) bool {
	found := false
	for i := range d.Spec.Template.Spec.Containers {
		c := &d.Spec.Template.Spec.Containers[i]
		if c.Name == managerContainer {
			c.Image = image
			found = true
		}
		for j := range c.Env {
			if c.Env[j].Name == operatorImageEnv {
				c.Env[j].Value = image
			}
		}
	}
	return found
}

// setExternalCertMode sets --webhook-cert-mode=external on the container that serves
// the webhook port (or on the manager container when none declares it).
func setExternalCertMode(d *appsv1.Deployment, port intstr.IntOrString) error {
	containers := d.Spec.Template.Spec.Containers
	idx := -1
	for i, c := range containers {
		for _, cp := range c.Ports {
			if (port.Type == intstr.Int && cp.ContainerPort == port.IntVal) || (port.Type == intstr.String && cp.Name == port.StrVal) {
				idx = i
			}
		}
	}
	if idx < 0 {
		for i, c := range containers {
			if c.Name == managerContainer {
				idx = i
			}
		}
	}
	if idx < 0 {
		return fmt.Errorf("deployment %s: no container serves webhook port %s", d.Name, port.String())
	}
	c := &containers[idx]
	arg := webhookCertModeFlag + "=external"
	for i, a := range c.Args {
		if a == webhookCertModeFlag || strings.HasPrefix(a, webhookCertModeFlag+"=") {
			if a == webhookCertModeFlag && i+1 < len(c.Args) {
				// "--flag value" form: drop the value too.
				c.Args = append(c.Args[:i+1], c.Args[i+2:]...)
			}
			c.Args[i] = arg
			return nil
		}
	}
	c.Args = append(c.Args, arg)
	return nil
}

// permissions turns each binding of a ServiceAccount into the CSV's permissions (Role
// or RoleBinding to a ClusterRole: the install namespace) and clusterPermissions.
func permissions(p *installParts) (perms, clusterPerms []operatorsv1alpha1.StrategyDeploymentPermissions, boundRoles, boundClusterRoles map[string]bool, err error) {
	boundRoles, boundClusterRoles = map[string]bool{}, map[string]bool{}
	nsRules, clusterRules := map[string][]rbacv1.PolicyRule{}, map[string][]rbacv1.PolicyRule{}

	sort.Slice(p.clusterRoleBindings, func(i, j int) bool { return p.clusterRoleBindings[i].Name < p.clusterRoleBindings[j].Name })
	for _, b := range p.clusterRoleBindings {
		role, ok := p.clusterRoles[b.RoleRef.Name]
		if b.RoleRef.Kind != "ClusterRole" || !ok {
			return nil, nil, nil, nil, fmt.Errorf("ClusterRoleBinding %s refers to %s %s, which the install does not contain", b.Name, b.RoleRef.Kind, b.RoleRef.Name)
		}
		accounts, err := serviceAccounts(b.Subjects, "ClusterRoleBinding "+b.Name)
		if err != nil {
			return nil, nil, nil, nil, err
		}
		boundClusterRoles[role.Name] = true
		for _, a := range accounts {
			clusterRules[a] = append(clusterRules[a], role.Rules...)
		}
	}
	sort.Slice(p.roleBindings, func(i, j int) bool { return p.roleBindings[i].Name < p.roleBindings[j].Name })
	for _, b := range p.roleBindings {
		var rules []rbacv1.PolicyRule
		switch b.RoleRef.Kind {
		case "Role":
			role, ok := p.roles[b.RoleRef.Name]
			if !ok {
				return nil, nil, nil, nil, fmt.Errorf("RoleBinding %s refers to Role %s, which the install does not contain", b.Name, b.RoleRef.Name)
			}
			boundRoles[role.Name] = true
			rules = role.Rules
		case "ClusterRole":
			role, ok := p.clusterRoles[b.RoleRef.Name]
			if !ok {
				return nil, nil, nil, nil, fmt.Errorf("RoleBinding %s refers to ClusterRole %s, which the install does not contain", b.Name, b.RoleRef.Name)
			}
			boundClusterRoles[role.Name] = true
			rules = role.Rules
		}
		accounts, err := serviceAccounts(b.Subjects, "RoleBinding "+b.Name)
		if err != nil {
			return nil, nil, nil, nil, err
		}
		for _, a := range accounts {
			nsRules[a] = append(nsRules[a], rules...)
		}
	}
	for _, a := range sortedKeys(nsRules) {
		perms = append(perms, operatorsv1alpha1.StrategyDeploymentPermissions{ServiceAccountName: a, Rules: nsRules[a]})
	}
	for _, a := range sortedKeys(clusterRules) {
		clusterPerms = append(clusterPerms, operatorsv1alpha1.StrategyDeploymentPermissions{ServiceAccountName: a, Rules: clusterRules[a]})
	}
	return perms, clusterPerms, boundRoles, boundClusterRoles, nil
}

// serviceAccounts are a binding's subjects; a CSV can grant permissions only to
// ServiceAccounts it installs, so any other subject is an error.
func serviceAccounts(subjects []rbacv1.Subject, binding string) ([]string, error) {
	var out []string
	for _, s := range subjects {
		if s.Kind != "ServiceAccount" {
			return nil, fmt.Errorf("%s binds %s %s; a CSV can only grant permissions to its ServiceAccounts", binding, s.Kind, s.Name)
		}
		out = append(out, s.Name)
	}
	return out, nil
}
