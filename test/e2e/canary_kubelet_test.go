package e2e

import (
	"context"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	agentobjects "github.com/logplane/logplane/internal/agent"
	"github.com/logplane/logplane/test/localnode"
)

// canaryKubelet is the kubelet of the operator's canary pods: every canary pod the
// operator creates runs on node with the real Fluent Bit (localnode.RunPod) and ends
// when the operator deletes it. It counts the runs per agent.
type canaryKubelet struct {
	node *localnode.Node
	mu   sync.Mutex
	pods map[types.UID]*localnode.BarePod
	runs map[string]int
}

func (k *canaryKubelet) loop(ctx context.Context) {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			k.mu.Lock()
			for _, p := range k.pods {
				p.Stop()
			}
			k.mu.Unlock()
			return
		case <-tick.C:
		}
		var pods corev1.PodList
		if err := k.node.Client.List(ctx, &pods, client.InNamespace(operatorNamespace),
			client.MatchingLabels{agentobjects.LabelComponent: "canary"}); err != nil {
			continue
		}
		live := map[types.UID]bool{}
		for i := range pods.Items {
			pod := &pods.Items[i]
			if pod.DeletionTimestamp != nil {
				continue
			}
			live[pod.UID] = true
			k.mu.Lock()
			_, running := k.pods[pod.UID]
			k.mu.Unlock()
			if running {
				continue
			}
			p, err := k.node.RunPod(ctx, pod)
			if err != nil {
				continue // the operator deleted it meanwhile; a new one comes
			}
			k.mu.Lock()
			k.pods[pod.UID] = p
			k.runs[pod.Labels[agentobjects.LabelAgent]]++
			k.mu.Unlock()
		}
		k.mu.Lock()
		for uid, p := range k.pods {
			if !live[uid] {
				go p.Stop()
				delete(k.pods, uid)
			}
		}
		k.mu.Unlock()
	}
}

// Runs is how many canary pods of agent ran.
func (k *canaryKubelet) Runs(agent string) int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.runs[agent]
}
