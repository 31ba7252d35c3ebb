// Package agent builds the Kubernetes objects that run one LogAgent: its identity and
// permissions, configuration and credential Secrets, the Fluent Bit DaemonSet and its
// metrics Service. Building is pure; the controller applies what it returns.
package agent

import (
	"reflect"
	"slices"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/logplane/logplane/api/v1alpha1"
	"github.com/logplane/logplane/internal/fluentbit"
	"github.com/logplane/logplane/internal/render"
)

// Labels and annotations logplane puts on what it owns.
const (
	LabelAgent       = "logging.logplane.dev/agent"
	LabelComponent   = "app.kubernetes.io/component"
	LabelManagedBy   = "app.kubernetes.io/managed-by"
	AnnotationConfig = "logging.logplane.dev/config-hash"
	managedBy        = "logplane"
	// ComponentAgent is the component label of the agent's DaemonSet pods.
	ComponentAgent = "agent"
	configDir      = "/fluent-bit/etc"
	// AWSCredentialsKey holds the AWS shared credentials file in a credentials Secret.
	AWSCredentialsKey = "credentials"
)

// Input is everything the objects of one agent are built from.
type Input struct {
	Name      string
	Namespace string // the operator's namespace, where agent objects live
	Spec      v1.LogAgentSpec
	Config    render.Config
	// SecretValues holds the values of the Secret keys the configuration needs, read
	// by the controller: env vars, mounted files and AWS profiles.
	SecretValues map[render.SecretSource][]byte
	// OperatorImage holds fbexec, which every agent pod's init container copies in
	// (see FBExecDir), and runs the reloader beside Fluent Bit in HotReload mode;
	// empty means DefaultOperatorImage.
	OperatorImage string
	// Agents names every node agent of the cluster: their ServiceAccounts are the
	// subjects of the one ClusterRoleBinding they share (see ClusterRBACName).
	Agents []string
}

// DefaultOperatorImage is the operator image of agent pods when none is configured.
const DefaultOperatorImage = "ghcr.io/logplane/logplane:latest"

func operatorImage(in Input) string {
	if in.OperatorImage == "" {
		return DefaultOperatorImage
	}
	return in.OperatorImage
}

// Objects are the agent's objects, in the order they should be applied.
type Objects struct {
	ServiceAccount     *corev1.ServiceAccount
	ClusterRole        *rbacv1.ClusterRole
	ClusterRoleBinding *rbacv1.ClusterRoleBinding
	ConfigSecrets      []*corev1.Secret
	// CredentialsSecrets carry the secret values the configuration refers to
	// (credentialsSecrets): one Secret, or several when they do not fit in one.
	CredentialsSecrets []*corev1.Secret
	DaemonSet          *appsv1.DaemonSet
	Service            *corev1.Service
	// Deployment runs the events collector instead of a DaemonSet.
	Deployment *appsv1.Deployment
	// Missing lists Secret keys whose values were not provided.
	Missing []render.SecretSource
	// Refused lists Secret values not written because they do not fit their use.
	Refused []RefusedValue
}

// All returns the objects in apply order: identity, configuration, then workload.
func (o *Objects) All() []client.Object {
	out := []client.Object{o.ServiceAccount, o.ClusterRole, o.ClusterRoleBinding}
	for _, s := range o.ConfigSecrets {
		out = append(out, s)
	}
	for _, s := range o.CredentialsSecrets {
		out = append(out, s)
	}
	for _, w := range []client.Object{o.DaemonSet, o.Deployment, o.Service} {
		if !reflect.ValueOf(w).IsNil() {
			out = append(out, w)
		}
	}
	return out
}

// ResourceName is the name of the agent's objects.
func ResourceName(agent string) string { return "logplane-agent-" + agent }

// Build builds the objects for in.
func Build(in Input) *Objects {
	name := ResourceName(in.Name)
	labels := map[string]string{LabelAgent: in.Name, LabelComponent: ComponentAgent, LabelManagedBy: managedBy}
	// The kubernetes filter reads pods and namespaces; nothing else.
	o := withIdentity(in, name, labels, AgentsClusterRBACName, "pods", "namespaces")
	o.ClusterRoleBinding.Subjects = nil
	for _, a := range slices.Sorted(slices.Values(append(slices.Clone(in.Agents), in.Name))) {
		sa := rbacv1.Subject{Kind: "ServiceAccount", Name: ResourceName(a), Namespace: in.Namespace}
		if !slices.Contains(o.ClusterRoleBinding.Subjects, sa) {
			o.ClusterRoleBinding.Subjects = append(o.ClusterRoleBinding.Subjects, sa)
		}
	}
	o.DaemonSet = daemonSet(in, name, labels, o)
	o.Service = &corev1.Service{TypeMeta: typeMeta("v1", "Service"), ObjectMeta: metav1.ObjectMeta{Name: name + "-metrics", Namespace: in.Namespace, Labels: labels},
		Spec: corev1.ServiceSpec{
			ClusterIP: corev1.ClusterIPNone,
			Selector:  map[string]string{LabelAgent: in.Name, LabelComponent: ComponentAgent},
			Ports:     []corev1.ServicePort{{Name: "metrics", Port: metricsPort(in.Spec), TargetPort: intstr.FromString("metrics")}},
		}}
	return o
}

// Cluster-wide RBAC objects have fixed names, so that the operator's own rights to
// them can be limited to these names (config/rbac): every node agent shares one
// ClusterRole and one ClusterRoleBinding, whose subjects are every agent's
// ServiceAccount; the events collector has its own pair. They carry no owner: they
// are shared, and the operator may not delete any other.
const (
	AgentsClusterRBACName = "logplane-agent"
	EventsClusterRBACName = EventsName
)

// withIdentity builds what every Fluent Bit workload needs besides itself: a
// ServiceAccount bound to a ClusterRole (clusterName) that may read only the given
// core resources, its configuration Secret(s) and its credentials Secret.
func withIdentity(in Input, name string, labels map[string]string, clusterName string, reads ...string) *Objects {
	meta := func(n string) metav1.ObjectMeta {
		return metav1.ObjectMeta{Name: n, Namespace: in.Namespace, Labels: labels}
	}
	// Shared by agents: no agent label, which would say which agent owns it.
	clusterMeta := metav1.ObjectMeta{Name: clusterName, Labels: map[string]string{LabelManagedBy: managedBy, LabelComponent: labels[LabelComponent]}}
	o := &Objects{
		ServiceAccount: &corev1.ServiceAccount{TypeMeta: typeMeta("v1", "ServiceAccount"), ObjectMeta: meta(name)},
		ClusterRole: &rbacv1.ClusterRole{TypeMeta: typeMeta("rbac.authorization.k8s.io/v1", "ClusterRole"), ObjectMeta: clusterMeta,
			Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: reads, Verbs: []string{"get", "list", "watch"}}}},
		ClusterRoleBinding: &rbacv1.ClusterRoleBinding{TypeMeta: typeMeta("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"), ObjectMeta: clusterMeta,
			RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: clusterName},
			Subjects: []rbacv1.Subject{{Kind: "ServiceAccount", Name: name, Namespace: in.Namespace}}},
	}
	o.ConfigSecrets = configSecrets(in.Config.Files, name, meta)
	var c Credentials
	o.CredentialsSecrets, c = credentialsSecrets(in, name, meta)
	o.Missing, o.Refused = c.Missing, c.Refused
	return o
}

func typeMeta(apiVersion, kind string) metav1.TypeMeta {
	return metav1.TypeMeta{APIVersion: apiVersion, Kind: kind}
}

// configSecrets puts each configuration file in a Secret of its own: the renderer
// keeps each file under a Secret's limit, and shards a large configuration so that a
// change to one pipeline changes one file; one Secret per file keeps that to one
// Secret write. The DaemonSet projects all of them into one directory.
func configSecrets(files []render.File, name string, meta func(string) metav1.ObjectMeta) []*corev1.Secret {
	out := make([]*corev1.Secret, 0, len(files))
	for _, f := range files {
		out = append(out, &corev1.Secret{TypeMeta: typeMeta("v1", "Secret"), ObjectMeta: meta(ConfigSecretName(name, f.Name)),
			Type: corev1.SecretTypeOpaque, Data: map[string][]byte{f.Name: f.Content}})
	}
	return out
}

// ConfigSecretName is the Secret that carries configuration file file of the agent
// objects named name: "<name>-config-0" for the main file, "<name>-config-<file>"
// without its extension for a shard (outputs-003.yaml: "<name>-config-outputs-003"),
// so that a file keeps its Secret whatever other files come and go.
func ConfigSecretName(name, file string) string {
	if file == render.MainFile {
		return name + "-config-0"
	}
	return name + "-config-" + strings.TrimSuffix(file, ".yaml")
}

func metricsPort(spec v1.LogAgentSpec) int32 {
	if spec.MetricsPort == 0 {
		return 2020
	}
	return spec.MetricsPort
}

var defaultResources = corev1.ResourceRequirements{
	Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m"), corev1.ResourceMemory: resource.MustParse("128Mi")},
	Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("512Mi")},
}

func image(spec v1.LogAgentSpec) string {
	if spec.Image != "" {
		return spec.Image
	}
	return fluentbit.Image
}
