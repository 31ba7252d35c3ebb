package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/logplane/logplane/internal/agent"
	"github.com/logplane/logplane/test/fbrun"
	"github.com/logplane/logplane/test/localnode"
	"github.com/logplane/logplane/test/sink"
	"github.com/logplane/logplane/test/testenv"
)

// demo is what the local agent shows: a namespace whose pods write logs, and a
// pipeline that sends them to the local sink. $SINK_PORT is the sink's port.
//
// The local node's pods share this machine's network, where in a cluster each pod has
// its own: the agent gets a metrics port that the events collector (2020) does not use.
const demo = `
apiVersion: logging.logplane.dev/v1alpha1
kind: LogAgent
metadata: {name: default}
spec: {metricsPort: 2021}
---
apiVersion: v1
kind: Namespace
metadata: {name: demo}
---
apiVersion: logging.logplane.dev/v1alpha1
kind: LogOutput
metadata: {name: local-sink, namespace: demo}
spec: {type: http, http: {host: 127.0.0.1, port: $SINK_PORT, path: /demo}}
---
apiVersion: logging.logplane.dev/v1alpha1
kind: LogPipeline
metadata: {name: web, namespace: demo}
spec:
  input:
    containers:
      podSelector: {matchLabels: {app: web}}
  filters:
  - type: grep
    grep:
      exclude:
      - {field: log, regex: 'GET /healthz'}
  outputRefs: [local-sink]
`

// localAgent runs the default agent (and the events collector) on one local node with
// the real Fluent Bit, demo pods writing logs, and a sink receiving them. It follows
// the operator's DaemonSet as the DaemonSet controller would: a new configuration
// restarts the agent on the same node directories.
type localAgent struct {
	stop      context.CancelFunc
	done      chan struct{}
	env       *testenv.Env
	namespace string
	node      *localnode.Node
	sink      *sink.HTTP
	pods      map[string]*localnode.AgentPod // workload name → its running pod
	hashes    map[string]string              // workload name → configuration it runs
}

func startLocalAgent(ctx context.Context, env *testenv.Env, api testenv.InCluster, bin, dir, namespace string) (*localAgent, error) {
	snk, err := sink.StartHTTP("127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	root, err := filepath.Abs(filepath.Join(dir, "node"))
	if err != nil {
		return nil, err
	}
	if err := os.RemoveAll(root); err != nil {
		return nil, err
	}
	node, err := localnode.New("local", localnode.Kubelet{Client: env.Client, Binary: bin, API: api, Root: root}, api.Address)
	if err != nil {
		return nil, err
	}
	objs, err := testenv.DecodeYAML([]byte(strings.ReplaceAll(demo, "$SINK_PORT", strconv.Itoa(snk.Port))))
	if err != nil {
		return nil, err
	}
	if err := testenv.Apply(ctx, env.Client, "logplane-demo", objs); err != nil {
		return nil, err
	}
	ctx, stop := context.WithCancel(ctx)
	la := &localAgent{stop: stop, done: make(chan struct{}), env: env, namespace: namespace, node: node, sink: snk,
		pods: map[string]*localnode.AgentPod{}, hashes: map[string]string{}}
	for _, name := range []string{"web-1", "web-2"} {
		app, err := node.RunApp(ctx, "demo", name, map[string]string{"app": "web"}, "app")
		if err != nil {
			return nil, err
		}
		go writeDemoLogs(ctx, app)
	}
	go la.follow(ctx)
	return la, nil
}

// writeDemoLogs writes ten lines a second, one in ten a health check the pipeline drops.
func writeDemoLogs(ctx context.Context, app *localnode.App) {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for i := 0; ; i++ {
		select {
		case <-ctx.Done():
			app.Close()
			return
		case <-tick.C:
		}
		line := fmt.Sprintf(`{"level":"info","msg":"order %d placed","pod":%q}`, i, app.Pod.Name)
		if i%10 == 0 {
			line = "GET /healthz 200"
		}
		_ = app.Write("app", line)
	}
}

// Stop stops the demo pods' writers, Fluent Bit and the sink, and waits for them.
func (la *localAgent) Stop() {
	la.stop()
	<-la.done
}

// follow keeps one pod of the default agent's DaemonSet and of the events collector
// running the configuration the operator last wrote.
func (la *localAgent) follow(ctx context.Context) {
	tick := time.NewTicker(2 * time.Second)
	defer tick.Stop()
	for {
		la.sync(ctx)
		select {
		case <-ctx.Done():
			for _, p := range la.pods {
				_ = p.Proc.Stop(10 * time.Second)
			}
			_ = la.sink.Close()
			close(la.done)
			return
		case <-tick.C:
		}
	}
}

func (la *localAgent) sync(ctx context.Context) {
	ds := &appsv1.DaemonSet{}
	if err := la.env.Client.Get(ctx, client.ObjectKey{Namespace: la.namespace, Name: agent.ResourceName("default")}, ds); err == nil {
		la.keep(ctx, ds.Name, ds.Spec.Template, func() (*localnode.AgentPod, error) { return la.node.RunDaemonSet(ctx, ds) })
	} else if !apierrors.IsNotFound(err) {
		say("reading the agent's DaemonSet: %v", err)
	}
	var deps appsv1.DeploymentList
	if err := la.env.Client.List(ctx, &deps, client.InNamespace(la.namespace), client.MatchingLabels{agent.LabelManagedBy: "logplane"}); err == nil {
		for i := range deps.Items {
			d := &deps.Items[i]
			la.keep(ctx, d.Name, d.Spec.Template, func() (*localnode.AgentPod, error) { return la.node.RunDeployment(ctx, d) })
		}
	}
}

// keep (re)starts a workload's pod when its template's configuration changed, or when
// Fluent Bit exited (as the kubelet restarts a container).
func (la *localAgent) keep(ctx context.Context, name string, tmpl corev1.PodTemplateSpec, run func() (*localnode.AgentPod, error)) {
	hash := tmpl.Annotations[agent.AnnotationConfig]
	p := la.pods[name]
	if p != nil && la.hashes[name] == hash {
		if done, err := p.Proc.Exited(); done {
			errs := p.Proc.Errors()
			say("%s exited (%v), restarting it:\n%s", name, err, strings.Join(errs[:min(len(errs), 8)], "\n"))
			_ = p.Restart()
		}
		return
	}
	if p != nil {
		say("%s has a new configuration: restarting its pod", name)
		_ = p.Proc.Stop(10 * time.Second)
		_ = la.env.Client.Delete(ctx, p.Pod, client.GracePeriodSeconds(0))
	}
	np, err := run()
	if err != nil {
		say("starting %s: %v", name, err)
		delete(la.pods, name)
		return
	}
	la.pods[name], la.hashes[name] = np, hash
	say("%s runs on the local node (Fluent Bit %s, pod %s/%s)", name, fbrun.Version, np.Pod.Namespace, np.Pod.Name)
}

// agentUnavailable says why the local agent cannot run here, or "" when it can.
func agentUnavailable() (bin string, why string) {
	bin, err := fbrun.Find()
	switch {
	case err != nil:
		return "", err.Error()
	case bin == "":
		return "", "Fluent Bit " + fbrun.Version + " was not found: install it (https://docs.fluentbit.io/manual/installation) " +
			"and put fluent-bit on PATH, or set FLUENT_BIT_BIN, to see records flow locally"
	case os.Geteuid() != 0:
		return "", "the local agent needs root (a private mount namespace per pod, and port 443 of a loopback address for the API server)"
	}
	if err := fbrun.CanIsolate(); err != nil {
		return "", err.Error()
	}
	return bin, ""
}
