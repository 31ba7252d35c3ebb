package integration

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/diff"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	v1 "github.com/logplane/logplane/api/v1alpha1"
	agentobjects "github.com/logplane/logplane/internal/agent"
	"github.com/logplane/logplane/internal/conditions"
	"github.com/logplane/logplane/internal/rendercli"
	"github.com/logplane/logplane/internal/sidecar"
	"github.com/logplane/logplane/internal/snapshot"
	"github.com/logplane/logplane/test/testenv"
)

// `logplane render` is the GitOps gate: from the samples it must read the objects the
// API server stores for them (spec by spec, CRD defaults applied), and render, byte for
// byte, every configuration file the operator writes into Secrets for those objects.
//
// This test runs its own control plane and operator: the package's shared operator
// renders one default agent and one events collector from every test's objects, and
// cluster pipelines select namespaces of the whole cluster, so only a cluster holding
// nothing but the samples can be compared byte for byte. The operator is the binary
// built from this tree (an in-process second manager would clash with the first one's
// controller names and metrics).
//
// The names that address credentials are salted with a Secret the operator makes in
// its namespace; given that Secret among its manifests, logplane render names them as
// the operator does, and without it differently.
func TestOfflineRenderMatchesTheOperator(t *testing.T) {
	ctx := t.Context()
	samples := filepath.Join(testenv.RepoRoot(), "config", "samples")

	c := startOwnOperator(t)
	salt := saltManifest(t, c)
	render := func(args ...string) map[string][]byte {
		t.Helper()
		offline := t.TempDir()
		var stdout, stderr bytes.Buffer
		args = append(args, "-f", samples, "--out", offline, "--operator-namespace", operatorNamespace)
		if code := rendercli.Run(args, &stdout, &stderr); code == 2 {
			t.Fatalf("logplane render failed: %s", stderr.String())
		}
		files, err := offlineFiles(offline)
		if err != nil {
			t.Fatal(err)
		}
		return files
	}
	want, unsalted := render("-f", salt), render()

	objs, err := testenv.LoadManifests(samples)
	if err != nil {
		t.Fatal(err)
	}
	if err := testenv.Apply(ctx, c, "render-parity", objs); err != nil {
		t.Fatal(err)
	}
	// The objects render reads are the ones the API server stored.
	snap, err := snapshot.LoadFiles([]string{samples}, operatorNamespace, "default")
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range logplaneObjects(snap) {
		stored := o.DeepCopyObject().(client.Object)
		if err := c.Get(ctx, client.ObjectKeyFromObject(o), stored); err != nil {
			t.Fatal(err)
		}
		offlineSpec, storedSpec := spec(t, o), spec(t, stored)
		if !equality.Semantic.DeepEqual(offlineSpec, storedSpec) {
			t.Errorf("%T %s: spec differs (-logplane render +API server):\n%s", o, testenv.ObjectKey(o), diff.Diff(offlineSpec, storedSpec))
		}
	}
	// A pipeline's verdict is published after its agent's Secrets are applied.
	eventually(t, "the operator rendered every sample pipeline", func() error {
		var lps v1.LogPipelineList
		var clps v1.ClusterLogPipelineList
		if err := c.List(ctx, &lps); err != nil {
			return err
		}
		if err := c.List(ctx, &clps); err != nil {
			return err
		}
		for _, p := range lps.Items {
			if err := rendered(p.Status.Conditions, p.Generation); err != nil {
				return fmt.Errorf("LogPipeline %s/%s: %w", p.Namespace, p.Name, err)
			}
		}
		for _, p := range clps.Items {
			if err := rendered(p.Status.Conditions, p.Generation); err != nil {
				return fmt.Errorf("ClusterLogPipeline %s: %w", p.Name, err)
			}
		}
		return nil
	})

	var got map[string][]byte
	eventually(t, "the operator's Secrets hold what logplane render wrote", func() error {
		if got, err = operatorFiles(ctx, c); err != nil {
			return err
		}
		return compareFiles(want, got)
	})
	// The samples make an agent, an events collector and a sidecar configuration.
	if len(got) < 3 {
		t.Errorf("compared only %d files: %v", len(got), slices.Sorted(maps.Keys(got)))
	}
	if compareFiles(unsalted, got) == nil {
		t.Error("without the salt, logplane render names credentials as the operator does: the names are not salted")
	}
}

// saltManifest waits for the operator's salt Secret and writes it to a manifest file,
// as `kubectl get secret -o yaml` would.
func saltManifest(t *testing.T, c client.Client) string {
	t.Helper()
	var s corev1.Secret
	eventually(t, "the operator made its salt", func() error {
		return c.Get(t.Context(), client.ObjectKey{Namespace: operatorNamespace, Name: snapshot.SaltSecretName}, &s)
	})
	s.TypeMeta = metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"}
	s.ManagedFields = nil
	data, err := yaml.Marshal(&s)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "salt.yaml")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// logplaneObjects lists the logplane objects of s.
func logplaneObjects(s *snapshot.Snapshot) []client.Object {
	var out []client.Object
	for i := range s.Agents {
		out = append(out, &s.Agents[i])
	}
	for i := range s.ClusterPipelines {
		out = append(out, &s.ClusterPipelines[i])
	}
	for i := range s.Pipelines {
		out = append(out, &s.Pipelines[i])
	}
	for i := range s.Outputs {
		out = append(out, &s.Outputs[i])
	}
	for i := range s.ClusterOutputs {
		out = append(out, &s.ClusterOutputs[i])
	}
	for i := range s.Policies {
		out = append(out, &s.Policies[i])
	}
	return out
}

// spec returns the spec of o as JSON values, as the API server stores it.
func spec(t *testing.T, o client.Object) any {
	t.Helper()
	u, err := runtime.DefaultUnstructuredConverter.ToUnstructured(o)
	if err != nil {
		t.Fatal(err)
	}
	return u["spec"]
}

// rendered reports whether a pipeline's ConfigGenerated condition describes its generation.
func rendered(conds []metav1.Condition, generation int64) error {
	c := meta.FindStatusCondition(conds, conditions.TypeConfigGenerated)
	if c == nil || c.ObservedGeneration != generation {
		return errString("no ConfigGenerated condition for the current generation yet")
	}
	return nil
}

// startOwnOperator starts a control plane and the operator built from this tree, both
// stopped when t ends, and returns a client of that control plane.
func startOwnOperator(t *testing.T) client.Client {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "logplane")
	build := exec.Command("go", "build", "-o", bin, "./cmd/logplane")
	build.Dir = testenv.RepoRoot()
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	env, err := testenv.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Stop(context.Background()) })
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: operatorNamespace}}
	if err := env.Client.Create(t.Context(), ns); err != nil {
		t.Fatal(err)
	}
	kubeconfig := filepath.Join(dir, "kubeconfig")
	if err := env.WriteKubeconfig(kubeconfig); err != nil {
		t.Fatal(err)
	}
	op, err := testenv.StartOperator(t.Context(), testenv.OperatorOptions{
		Command: []string{bin, "manager"}, Kubeconfig: kubeconfig, Namespace: operatorNamespace,
		LogPath: filepath.Join(dir, "operator.log"),
		// No webhook: nothing here creates pods, and sidecar Secrets are written without it.
		// No canary: no kubelet runs its pod here (test/e2e runs them).
		Args: []string{"--metrics-bind-address=0", "--webhook-port=0", "--canary=false"},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = op.Stop() })
	return env.Client
}

// offlineFiles maps each file `logplane render --out dir` wrote to the Secret and key
// the operator keeps it in, as "<namespace>/<secret>[<key>]".
func offlineFiles(dir string) (map[string][]byte, error) {
	files := map[string][]byte{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		parts := strings.Split(filepath.ToSlash(rel), "/")
		var key string
		switch {
		case parts[0] == "agents" && len(parts) == 3:
			key = secretKey(operatorNamespace, agentobjects.ConfigSecretName(agentobjects.ResourceName(parts[1]), parts[2]), parts[2])
		case parts[0] == "events" && len(parts) == 2:
			key = secretKey(operatorNamespace, agentobjects.ConfigSecretName(agentobjects.EventsName, parts[1]), parts[1])
		case parts[0] == "sidecars" && len(parts) == 4:
			key = secretKey(parts[1], sidecar.SecretName(parts[2]), parts[3])
		default:
			return fmt.Errorf("unexpected file %s from logplane render", rel)
		}
		data, err := os.ReadFile(p)
		files[key] = data
		return err
	})
	return files, err
}

// operatorFiles reads every configuration file the operator wrote: the agents' and the
// events collector's configuration Secrets, and the files of sidecar Secrets (not their
// credentials).
func operatorFiles(ctx context.Context, c client.Client) (map[string][]byte, error) {
	files := map[string][]byte{}
	var secrets corev1.SecretList
	if err := c.List(ctx, &secrets, client.MatchingLabels{agentobjects.LabelManagedBy: "logplane"}); err != nil {
		return nil, err
	}
	for _, s := range secrets.Items {
		var prefix string
		switch s.Labels[agentobjects.LabelComponent] {
		case "agent":
			prefix = agentobjects.ResourceName(s.Labels[agentobjects.LabelAgent]) + "-config-"
		case "events":
			prefix = agentobjects.EventsName + "-config-"
		case sidecar.ComponentSidecar:
			m, err := sidecar.DecodeManifest(s.Annotations[sidecar.AnnotationManifest])
			if err != nil {
				return nil, fmt.Errorf("secret %s/%s: %w", s.Namespace, s.Name, err)
			}
			for _, f := range m.Files {
				files[secretKey(s.Namespace, s.Name, f)] = s.Data[f]
			}
			continue
		}
		if prefix == "" || s.Namespace != operatorNamespace || !strings.HasPrefix(s.Name, prefix) {
			continue // credentials
		}
		for k, v := range s.Data {
			files[secretKey(s.Namespace, s.Name, k)] = v
		}
	}
	return files, nil
}

// compareFiles reports every difference between the files rendered offline and the
// operator's, with a diff of each file that differs.
func compareFiles(offline, operator map[string][]byte) error {
	var errs []error
	for _, k := range slices.Sorted(maps.Keys(offline)) {
		got, ok := operator[k]
		switch {
		case !ok:
			errs = append(errs, fmt.Errorf("logplane render wrote %s, the operator did not", k))
		case !bytes.Equal(got, offline[k]):
			errs = append(errs, fmt.Errorf("%s differs (-logplane render +operator):\n%s", k, diff.Diff(lines(offline[k]), lines(got))))
		}
	}
	for _, k := range slices.Sorted(maps.Keys(operator)) {
		if _, ok := offline[k]; !ok {
			errs = append(errs, fmt.Errorf("the operator wrote %s, logplane render did not", k))
		}
	}
	return errors.Join(errs...)
}

// lines splits a file so that its diff is by line.
func lines(b []byte) []string { return strings.Split(string(b), "\n") }

func secretKey(namespace, name, key string) string {
	return namespace + "/" + name + "[" + key + "]"
}
