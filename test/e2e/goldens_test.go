package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/logplane/logplane/test/testcerts"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/logplane/logplane/internal/render"
	"github.com/logplane/logplane/test/fbrun"
	"github.com/logplane/logplane/test/testenv"
)

// The renderer's golden configurations that talk to the API server (the kubernetes
// filter, the events input) start against a real one, with a service account that
// may do what the agent's may, run for a few seconds without an [error] and stop
// cleanly. internal/render's TestGoldensStart starts every other golden.
func TestGoldensReadingTheAPIServerStart(t *testing.T) {
	bin, env, api := clusterFor(t)
	ctx := t.Context()
	const name = "golden-check"
	for _, o := range []client.Object{
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: operatorNamespace}},
		&rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: name}, Rules: []rbacv1.PolicyRule{
			{APIGroups: []string{""}, Resources: []string{"pods", "namespaces", "events"}, Verbs: []string{"get", "list", "watch"}}}},
		&rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: name},
			RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: name},
			Subjects: []rbacv1.Subject{{Kind: "ServiceAccount", Name: name, Namespace: operatorNamespace}}},
		// The kubernetes filter looks up its own pod at start.
		&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: operatorNamespace},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "fluent-bit", Image: "fluent-bit"}}}},
	} {
		if err := env.Client.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	tr := &authenticationv1.TokenRequest{}
	if err := env.Client.SubResource("token").Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: operatorNamespace}}, tr); err != nil {
		t.Fatal(err)
	}
	certs, err := testcerts.New("localhost")
	if err != nil {
		t.Fatal(err)
	}
	configs := goldensReadingTheAPIServer(t)
	if len(configs) < 3 {
		t.Fatalf("found only %v", configs)
	}
	for _, c := range configs {
		t.Run(c.name, func(t *testing.T) {
			logs := t.TempDir()
			for _, d := range []string{"containers", "pods", "journal"} {
				if err := os.Mkdir(filepath.Join(logs, d), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			const sa = "/var/run/secrets/kubernetes.io/serviceaccount/"
			p := fbrun.Pod{Binary: bin, Env: []string{"HOSTNAME=" + name},
				Files: map[string][]byte{fbrun.MainConfig: c.config, sa + "token": []byte(tr.Status.Token),
					sa + "ca.crt": api.CA, sa + "namespace": []byte(operatorNamespace)},
				Hosts:  map[string]string{"kubernetes.default.svc": api.Address},
				Mounts: []fbrun.Mount{{Path: render.AgentDataDir}, {Path: "/var/log", HostDir: logs, ReadOnly: true}}}
			p.StandInCredentials(string(c.creds), render.AWSCredentialsFile, certs)
			proc, err := p.Start()
			if err != nil {
				t.Fatal(err)
			}
			time.Sleep(4 * time.Second)
			errs := proc.Errors()
			stopErr := proc.Stop(15 * time.Second)
			if len(errs) > 0 {
				t.Errorf("Fluent Bit logged errors:\n%s", strings.Join(errs, "\n"))
			}
			if stopErr != nil {
				t.Errorf("%v\n%s", stopErr, proc.Log())
			}
		})
	}
}

type golden struct {
	name          string
	config, creds []byte
}

// goldensReadingTheAPIServer finds internal/render's golden configurations that read
// the API server, with their credential listings.
func goldensReadingTheAPIServer(t *testing.T) []golden {
	t.Helper()
	dir := filepath.Join(testenv.RepoRoot(), "internal", "render", "testdata")
	var out []golden
	for _, pattern := range []string{"destinations/*.yaml", "filters/*.yaml", "samples/*/" + render.MainFile} {
		files, err := filepath.Glob(filepath.Join(dir, pattern))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if !fbrun.ReadsAPIServer(data) {
				continue
			}
			creds, _ := os.ReadFile(filepath.Join(filepath.Dir(f), "credentials.txt"))
			rel, _ := filepath.Rel(dir, f)
			out = append(out, golden{name: rel, config: data, creds: append(creds, data...)})
		}
	}
	return out
}
