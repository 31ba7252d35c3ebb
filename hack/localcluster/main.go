// Command localcluster is `make run`: it starts a local control plane (kube-apiserver
// and etcd, no nodes) with the logplane CRDs, runs the operator against it as its own
// process, applies the samples and shows what kubectl sees — no cluster needed.
//
//	go run ./hack/localcluster [-dir .local] [-for 0] -- bin/logplane manager
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/logplane/logplane/api/v1alpha1"
	"github.com/logplane/logplane/internal/agent"
	"github.com/logplane/logplane/test/testenv"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "localcluster:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, argv []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("localcluster", flag.ContinueOnError)
	dir := fs.String("dir", ".local", "directory for the kubeconfig and operator log")
	samples := fs.String("samples", filepath.Join(testenv.RepoRoot(), "config", "samples"), "manifests to apply")
	namespace := fs.String("namespace", "logplane-system", "the operator's namespace")
	runFor := fs.Duration("for", 0, "stop this long after the samples are applied; 0 runs until interrupted")
	if err := fs.Parse(argv); err != nil {
		return err
	}
	operator := fs.Args()
	if len(operator) == 0 {
		return errors.New("usage: localcluster [flags] -- OPERATOR-COMMAND [ARGS]")
	}

	if err := os.MkdirAll(*dir, 0o755); err != nil {
		return err
	}
	kubeconfig, err := filepath.Abs(filepath.Join(*dir, "kubeconfig"))
	if err != nil {
		return err
	}

	bin, noAgent := agentUnavailable()
	var opts []testenv.Option
	var api testenv.InCluster
	if bin != "" {
		// Pods reach the API server as kubernetes.default.svc:443 at this address.
		opts = append(opts, testenv.WithInClusterAddress(fmt.Sprintf("127.%d.%d.1", 100+os.Getpid()%100, os.Getpid()/100%250), &api))
	}
	say("starting the local control plane (kube-apiserver + etcd)")
	env, err := testenv.Start(opts...)
	if err != nil {
		return err
	}
	defer func() {
		say("stopping the control plane")
		_ = env.Stop(context.Background())
	}()
	if err := env.WriteKubeconfig(kubeconfig); err != nil {
		return err
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: *namespace}}
	if err := env.Client.Create(ctx, ns); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("failed to create namespace %s: %w", *namespace, err)
	}

	webhookPort, err := testenv.FreePort()
	if err != nil {
		return err
	}
	logPath := filepath.Join(*dir, "operator.log")
	say("starting the operator: %s (log: %s)", strings.Join(operator, " "), logPath)
	op, err := testenv.StartOperator(ctx, testenv.OperatorOptions{Command: operator, Kubeconfig: kubeconfig,
		Namespace: *namespace, LogPath: logPath,
		// Figures every 5 s and no pacing of rollouts: this is a demo.
		// The local node runs DaemonSet and Deployment pods only, not canary pods.
		// TODO: run them (localnode.RunPod), as test/e2e does.
		Args: []string{"--metrics-bind-address=0", "--flow-interval=5s", "--min-rollout-interval=0s", "--canary=false",
			"--webhook-port=" + strconv.Itoa(webhookPort), "--webhook-cert-dir=" + filepath.Join(*dir, "webhook-certs")}})
	if err != nil {
		return err
	}
	defer op.Stop()
	say("operator ready")

	objs, err := testenv.LoadManifests(*samples)
	if err != nil {
		return err
	}
	if err := testenv.Apply(ctx, env.Client, "logplane-samples", objs); err != nil {
		return err
	}
	say("applied %d objects from %s", len(objs), *samples)

	configDir, err := waitForAgentConfig(ctx, env, *namespace, *dir)
	if err != nil {
		return fmt.Errorf("%w (see %s)", err, logPath)
	}
	if bin == "" {
		say("no local agent: %s", noAgent)
	} else {
		say("starting the default agent on a local node with %s; demo pods write to namespace demo", bin)
		la, err := startLocalAgent(ctx, env, api, bin, *dir, *namespace)
		if err != nil {
			return err
		}
		defer la.Stop()
		if err := waitForFlow(ctx, env, 90*time.Second); err != nil {
			say("%v (see %s)", err, logPath)
		}
	}
	showKubectl(stdout, kubeconfig, "get", "logplane", "-A", "-o", "wide")
	fmt.Fprintf(stdout, "\nRendered agent configuration: %s\n", configDir)
	if bin == "" {
		fmt.Fprintf(stdout, "No local agent ran: %s.\n", noAgent)
	}
	fmt.Fprintf(stdout, `
The control plane is up. In another shell:
  export KUBECONFIG=%s
  kubectl get logplane -A
  kubectl explain logpipeline.spec
Operator log: %s
Stop with Ctrl-C.
`, kubeconfig, logPath)

	var timeUp <-chan time.Time
	if *runFor > 0 {
		timeUp = time.After(*runFor)
	}
	select {
	case <-ctx.Done():
		return nil
	case <-timeUp:
		return nil
	case <-op.Exited():
		return fmt.Errorf("the operator exited: %v (see %s)", op.Err(), logPath)
	}
}

// waitForAgentConfig waits until the operator has written the default agent's
// configuration and every pipeline reports Ready, then copies the configuration files
// to dir/agents/default for reading. (No kubelet runs here, so Ready is False with
// AgentNotReady: that is the truth, not an error.)
func waitForAgentConfig(ctx context.Context, env *testenv.Env, namespace, dir string) (string, error) {
	deadline := time.Now().Add(60 * time.Second)
	for {
		var secrets corev1.SecretList
		err := env.Client.List(ctx, &secrets, client.InNamespace(namespace),
			client.MatchingLabels{agent.LabelAgent: v1.DefaultAgentName})
		var pipelines v1.LogPipelineList
		if err == nil {
			err = env.Client.List(ctx, &pipelines)
		}
		if err == nil && len(secrets.Items) > 0 && allReported(pipelines.Items) {
			out := filepath.Join(dir, "agents", v1.DefaultAgentName)
			if err := os.MkdirAll(out, 0o755); err != nil {
				return "", err
			}
			for _, s := range secrets.Items {
				if !strings.Contains(s.Name, "-config-") {
					continue
				}
				for name, data := range s.Data {
					if err := os.WriteFile(filepath.Join(out, name), data, 0o644); err != nil {
						return "", err
					}
				}
			}
			return filepath.Join(out, "fluent-bit.yaml"), nil
		}
		if time.Now().After(deadline) {
			return "", errors.New("the operator did not write the agent configuration and pipeline statuses within 60s")
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// waitForFlow waits until the demo pipeline is Ready with records flowing.
func waitForFlow(ctx context.Context, env *testenv.Env, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		p := &v1.LogPipeline{}
		if err := env.Client.Get(ctx, client.ObjectKey{Namespace: "demo", Name: "web"}, p); err == nil {
			ready := meta.FindStatusCondition(p.Status.Conditions, "Ready")
			if ready != nil && ready.Status == metav1.ConditionTrue && p.Status.Throughput != nil && p.Status.Throughput.RecordsPerSecond > 0 {
				say("demo/web is Ready: %d records/s", p.Status.Throughput.RecordsPerSecond)
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("demo/web was not Ready with records flowing within %s", timeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

func allReported(ps []v1.LogPipeline) bool {
	for _, p := range ps {
		if meta.FindStatusCondition(p.Status.Conditions, "Ready") == nil {
			return false
		}
	}
	return true
}

func showKubectl(stdout io.Writer, kubeconfig string, args ...string) {
	if _, err := exec.LookPath("kubectl"); err != nil {
		say("kubectl is not installed; skipping `kubectl %v`", args)
		return
	}
	cmd := exec.Command("kubectl", append([]string{"--kubeconfig", kubeconfig}, args...)...)
	cmd.Stdout, cmd.Stderr = stdout, stdout
	fmt.Fprintf(stdout, "\n$ kubectl %s\n", strings.Join(args, " "))
	_ = cmd.Run()
}

func say(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "[localcluster] "+format+"\n", args...)
}
