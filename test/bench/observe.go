package main

import (
	"bytes"
	"context"
	"regexp"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/logplane/logplane/api/v1alpha1"
	agentobjects "github.com/logplane/logplane/internal/agent"
	"github.com/logplane/logplane/internal/alias"
)

// observer follows, by watches, the default agent's configuration Secrets and the
// bench pipelines' ConfigGenerated conditions, and timestamps what it sees as it
// arrives: polling would add its interval to every figure.
type observer struct {
	mu   sync.Mutex
	want map[string]bool // namespace/name of every bench pipeline
	// config holds the data of each configuration Secret by name.
	config    map[string]map[string][]byte
	inConfig  int
	generated map[string]bool
	// When the configuration first held every bench pipeline, and when every bench
	// pipeline first reported ConfigGenerated=True for its generation.
	configCompleteAt, generatedAt time.Time
	// markers waiting to appear in the configuration.
	markers map[string]chan time.Time
	changed chan struct{}
}

func newObserver(pipelines []string) *observer {
	o := &observer{want: map[string]bool{}, config: map[string]map[string][]byte{},
		generated: map[string]bool{}, markers: map[string]chan time.Time{}, changed: make(chan struct{}, 1)}
	for _, p := range pipelines {
		o.want[p] = true
	}
	return o
}

// configSecretPrefix names the default agent's configuration Secrets; a large
// configuration is sharded over several.
var configSecretPrefix = agentobjects.ResourceName(v1.DefaultAgentName) + "-config-"

// start watches until ctx ends.
func (o *observer) start(ctx context.Context, c client.WithWatch, namespace string) {
	go watchLoop(ctx, c, &corev1.SecretList{}, []client.ListOption{client.InNamespace(namespace),
		client.MatchingLabels{agentobjects.LabelAgent: v1.DefaultAgentName}}, o.onSecret)
	go watchLoop(ctx, c, &v1.LogPipelineList{}, nil, o.onPipeline)
}

// watchLoop lists, then watches from the list's resourceVersion, and starts over when
// the watch ends, as an informer would (without its cache).
func watchLoop(ctx context.Context, c client.WithWatch, list client.ObjectList, opts []client.ListOption, handle func(watch.EventType, runtime.Object)) {
	for ctx.Err() == nil {
		l := list.DeepCopyObject().(client.ObjectList)
		if err := c.List(ctx, l, opts...); err != nil {
			sleep(ctx, time.Second)
			continue
		}
		items, _ := meta.ExtractList(l)
		for _, it := range items {
			handle(watch.Added, it)
		}
		wopts := append([]client.ListOption{&client.ListOptions{Raw: &metav1.ListOptions{ResourceVersion: l.GetResourceVersion()}}}, opts...)
		w, err := c.Watch(ctx, list.DeepCopyObject().(client.ObjectList), wopts...)
		if err != nil {
			sleep(ctx, time.Second)
			continue
		}
		for ev := range w.ResultChan() {
			if ev.Type == watch.Error {
				break
			}
			handle(ev.Type, ev.Object)
		}
		w.Stop()
	}
}

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

func (o *observer) onSecret(t watch.EventType, obj runtime.Object) {
	now := time.Now()
	s, ok := obj.(*corev1.Secret)
	if !ok || !strings.HasPrefix(s.Name, configSecretPrefix) {
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if t == watch.Deleted {
		delete(o.config, s.Name)
	} else {
		o.config[s.Name] = s.Data
	}
	o.inConfig = pipelinesInConfig(o.config, o.want)
	if o.configCompleteAt.IsZero() && len(o.want) > 0 && o.inConfig == len(o.want) {
		o.configCompleteAt = now
	}
	for m, ch := range o.markers {
		if configContains(o.config, m) {
			ch <- now
			delete(o.markers, m)
		}
	}
	o.notify()
}

func (o *observer) onPipeline(t watch.EventType, obj runtime.Object) {
	now := time.Now()
	p, ok := obj.(*v1.LogPipeline)
	if !ok {
		return
	}
	key := p.Namespace + "/" + p.Name
	if !o.want[key] {
		return
	}
	c := meta.FindStatusCondition(p.Status.Conditions, "ConfigGenerated")
	o.mu.Lock()
	defer o.mu.Unlock()
	o.generated[key] = t != watch.Deleted && c != nil && c.Status == metav1.ConditionTrue && c.ObservedGeneration == p.Generation
	if o.generatedAt.IsZero() && o.countGenerated() == len(o.want) {
		o.generatedAt = now
	}
	o.notify()
}

func (o *observer) countGenerated() int {
	n := 0
	for _, ok := range o.generated {
		if ok {
			n++
		}
	}
	return n
}

func (o *observer) notify() {
	select {
	case o.changed <- struct{}{}:
	default:
	}
}

// converged waits until the configuration holds every pipeline and every pipeline
// reports ConfigGenerated=True, and returns when each happened.
func (o *observer) converged(ctx context.Context, timeout time.Duration) (configComplete, generated time.Time, err error) {
	deadline := time.After(timeout)
	for {
		o.mu.Lock()
		configComplete, generated = o.configCompleteAt, o.generatedAt
		o.mu.Unlock()
		if !configComplete.IsZero() && !generated.IsZero() {
			return configComplete, generated, nil
		}
		select {
		case <-ctx.Done():
			return configComplete, generated, ctx.Err()
		case <-deadline:
			return configComplete, generated, errTimeout
		case <-o.changed:
		}
	}
}

// state returns how many bench pipelines the configuration holds and how many report
// ConfigGenerated=True, and the configuration's Secrets and bytes.
func (o *observer) state() (inConfig, generated, secrets, size int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, data := range o.config {
		for _, v := range data {
			size += len(v)
		}
	}
	return o.inConfig, o.countGenerated(), len(o.config), size
}

// expect returns a channel that receives the time the marker first appears in the
// configuration. Register it before making the change.
func (o *observer) expect(marker string) <-chan time.Time {
	ch := make(chan time.Time, 1)
	o.mu.Lock()
	defer o.mu.Unlock()
	o.markers[marker] = ch
	return ch
}

func (o *observer) forget(marker string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	delete(o.markers, marker)
}

func configContains(config map[string]map[string][]byte, marker string) bool {
	m := []byte(marker)
	for _, data := range config {
		for _, v := range data {
			if bytes.Contains(v, m) {
				return true
			}
		}
	}
	return false
}

// aliasPattern finds the aliases of LogPipeline output sections; alias.Decode checks them.
var aliasPattern = regexp.MustCompile(`lp_lpl_[a-z0-9-]*_[a-z0-9.-]+_c?lout_[a-z0-9.-]+`)

// pipelinesInConfig counts the wanted pipelines that have at least one output section
// in the configuration.
func pipelinesInConfig(config map[string]map[string][]byte, want map[string]bool) int {
	seen := map[string]bool{}
	for _, data := range config {
		for _, v := range data {
			for _, a := range aliasPattern.FindAll(v, -1) {
				out, ok := alias.Decode(string(a))
				if !ok || out.PipelineKind != alias.LogPipeline {
					continue
				}
				if key := out.Namespace + "/" + out.Pipeline; want[key] {
					seen[key] = true
				}
			}
		}
	}
	return len(seen)
}
