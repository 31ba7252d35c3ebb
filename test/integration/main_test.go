// Package integration runs logplane against a real kube-apiserver and etcd.
package integration

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/logplane/logplane/internal/manager"
	"github.com/logplane/logplane/test/testenv"
)

// k8s is a client of the control plane shared by every test in this package.
var k8s client.Client

const operatorNamespace = "logplane-system"

func TestMain(m *testing.M) {
	env, err := testenv.Start(testenv.WithWebhooks())
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	k8s = env.Client
	// The operator runs in-process for the controller tests, as it would in a cluster.
	ctx, stop := context.WithCancel(context.Background())
	if err := k8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: operatorNamespace}}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	managerDone := make(chan error, 1)
	go func() {
		managerDone <- manager.Run(ctx, env.Config, manager.Options{
			MetricsAddr: "0", ProbeAddr: "0", Namespace: operatorNamespace, LeaderElectionID: "logplane-test",
			FlowInterval:      time.Second,
			RolloutInterval:   5 * time.Second,
			RetentionAppliers: loopbackAppliers.build,
			// The API server calls the in-process webhook at the address envtest chose,
			// trusting the certificate envtest wrote.
			Webhook: manager.WebhookOptions{Port: env.WebhookInstallOptions.LocalServingPort,
				Host: env.WebhookInstallOptions.LocalServingHost, CertDir: env.WebhookInstallOptions.LocalServingCertDir,
				CertMode: manager.CertModeExternal},
		}, logr.Discard())
	}()
	code := m.Run()
	stop()
	if err := <-managerDone; err != nil {
		fmt.Fprintln(os.Stderr, "manager:", err)
	}
	if err := env.Stop(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, "failed to stop the control plane:", err)
	}
	os.Exit(code)
}
