package manager

import (
	"fmt"

	"k8s.io/apimachinery/pkg/labels"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"

	"github.com/logplane/logplane/internal/sidecar"
)

// injectedPods caches, in every namespace, the pods the webhook gave the sidecar, so
// that the flow monitor can read their sidecars' metrics. A cache of its own: the
// manager's caches pods of the operator namespace only, and the counting cache holds
// metadata of every pod (caches are configured by kind, so neither can also hold
// these). Only labelled pods are listed and watched, and each is trimmed to what the
// scraper reads and checks (sidecar.TrimPod) before it is stored.
func injectedPods(mgr ctrl.Manager) (cache.Cache, error) {
	c, err := cache.New(mgr.GetConfig(), cache.Options{Scheme: mgr.GetScheme(), Mapper: mgr.GetRESTMapper(), HTTPClient: mgr.GetHTTPClient(),
		DefaultLabelSelector: labels.SelectorFromSet(labels.Set{sidecar.LabelInjected: sidecar.Injected}),
		DefaultTransform:     sidecar.TrimPod})
	if err != nil {
		return nil, fmt.Errorf("failed to create the injected pod cache: %w", err)
	}
	if err := mgr.Add(c); err != nil {
		return nil, err
	}
	return c, nil
}
