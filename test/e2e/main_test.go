// Package e2e runs the data plane for real: a real API server (envtest), the operator,
// and the real Fluent Bit running the configuration the operator wrote, mounted from
// its Secrets as the DaemonSet mounts them (test/localnode), reading CRI log files that
// the tests write under a private /var/log and delivering to sinks on loopback that
// count every record per route. Each scenario asserts exact counts.
//
// It needs Fluent Bit 5.1.1 (FLUENT_BIT_BIN or PATH; without it every test skips, and
// with FLUENT_BIT_BIN set but unusable every test fails) and root, for the private
// mount namespaces and for the API server to listen on port 443 of a loopback
// address, where Fluent Bit's kubernetes filter dials kubernetes.default.svc.
package e2e

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/logplane/logplane/internal/canary"
	"github.com/logplane/logplane/internal/flow"
	"github.com/logplane/logplane/internal/manager"
	"github.com/logplane/logplane/internal/retention"
	"github.com/logplane/logplane/test/fbrun"
	"github.com/logplane/logplane/test/localnode"
	"github.com/logplane/logplane/test/testenv"
)

const operatorNamespace = "logplane-system"

// cluster is the control plane and operator every test shares, started by the first
// test that needs it.
var cluster struct {
	once sync.Once
	err  error
	env  *testenv.Env
	api  testenv.InCluster
	stop context.CancelFunc
	done chan error
	// canaries runs the operator's canary pods.
	canaries *canaryKubelet
}

// clusterFor returns the shared control plane for a test that runs Fluent Bit.
func clusterFor(t *testing.T) (string, *testenv.Env, testenv.InCluster) {
	t.Helper()
	bin := fbrun.Binary(t)
	cluster.once.Do(func() { cluster.err = startCluster(bin) })
	if cluster.err != nil {
		t.Fatal(cluster.err)
	}
	return bin, cluster.env, cluster.api
}

func startCluster(bin string) error {
	// A loopback address of its own, so that port 443 is free whatever else runs.
	addr := fmt.Sprintf("127.%d.%d.%d", 100+rand.IntN(100), rand.IntN(250), 1+rand.IntN(250))
	ctrllog.SetLogger(logr.Discard())
	// The pod webhook is installed too: the sidecar sample needs its injection.
	env, err := testenv.Start(testenv.WithInClusterAddress(addr, &cluster.api), testenv.WithWebhooks())
	if err != nil {
		return err
	}
	cluster.env = env
	ctx, stop := context.WithCancel(context.Background())
	cluster.stop = stop
	if err := env.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: operatorNamespace}}); err != nil {
		return err
	}
	// Every changed agent configuration is proven by a canary pod first, which a
	// node of its own runs, as the kubelet would, with the real Fluent Bit.
	root, err := os.MkdirTemp("", "e2e-canary-node-")
	if err != nil {
		return err
	}
	// Containers get containerd 2.x's open-file limits, which the agent's pods raise.
	soft, hard := localnode.ContainerdOpenFiles()
	node, err := localnode.New("canary", localnode.Kubelet{Client: env.Client, Binary: bin, API: cluster.api, Root: root,
		OpenFiles: soft, OpenFilesHard: hard}, cluster.api.Address)
	if err != nil {
		return err
	}
	cluster.canaries = &canaryKubelet{node: node, pods: map[types.UID]*localnode.BarePod{}, runs: map[string]int{}}
	go cluster.canaries.loop(ctx)
	cluster.done = make(chan error, 1)
	// The operator's scraper clones the default transport: its proxy function sees
	// every scrape, so that a test knows the exact windows the operator measured.
	http.DefaultTransport.(*http.Transport).Proxy = func(r *http.Request) (*url.URL, error) {
		if r.URL.Path == flow.MetricsPath {
			scrapes.record(r.URL.Host, time.Now())
		}
		return nil, nil
	}
	go func() {
		cluster.done <- manager.Run(ctx, env.Config, manager.Options{
			MetricsAddr: "0", ProbeAddr: "0", Namespace: operatorNamespace, LeaderElectionID: "logplane-e2e",
			FlowInterval: flowInterval,
			// Destinations here are fakes that only pods can name (their hosts files):
			// retention at the destination is test/integration's, and the operator
			// must not look up, or probe credentials for, the AWS endpoints the
			// samples name.
			RetentionAppliers: func(context.Context, retention.Target, retention.SecretValue) (retention.Applier, error) {
				return nil, errors.New("e2e: retention is not applied at destinations here")
			},
			// Without a kubelet nothing rolls pods: each scenario starts its agent
			// once the configuration is written.
			RolloutInterval: 0,
			Canary:          true,
			// One second of health after start is enough here: nothing is slow to
			// fail on this machine.
			CanaryTiming: canary.Timing{Settle: time.Second, Ready: 30 * time.Second, Start: 30 * time.Second},
			// The API server calls the in-process webhook at the address envtest
			// chose, trusting the certificate envtest wrote.
			Webhook: manager.WebhookOptions{Port: env.WebhookInstallOptions.LocalServingPort,
				Host: env.WebhookInstallOptions.LocalServingHost, CertDir: env.WebhookInstallOptions.LocalServingCertDir,
				CertMode: manager.CertModeExternal},
		}, logr.Discard())
	}()
	return nil
}

// flowInterval is how often the operator measures throughput here.
const flowInterval = 2 * time.Second

// scrapes are the times the operator read each agent's metrics (host:port), in order.
// Tests that read them too use a transport of their own.
var scrapes = &scrapeLog{at: map[string][]time.Time{}}

type scrapeLog struct {
	mu sync.Mutex
	at map[string][]time.Time
}

func (l *scrapeLog) record(host string, t time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.at[host] = append(l.at[host], t)
}

// of returns the times host was read.
func (l *scrapeLog) of(host string) []time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]time.Time(nil), l.at[host]...)
}

func TestMain(m *testing.M) {
	code := m.Run()
	if cluster.env != nil {
		cluster.stop()
		if err := <-cluster.done; err != nil {
			fmt.Fprintln(os.Stderr, "manager:", err)
		}
		if err := cluster.env.Stop(context.Background()); err != nil {
			fmt.Fprintln(os.Stderr, "failed to stop the control plane:", err)
		}
	}
	os.Exit(code)
}
