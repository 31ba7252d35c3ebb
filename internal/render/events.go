package render

import (
	"regexp"
	"strings"

	v1 "github.com/logplane/logplane/api/v1alpha1"
	"github.com/logplane/logplane/internal/fluentbit"
)

// Kubernetes events are read from the API server, once for the whole cluster: a
// DaemonSet would ship each event once per node. The controller runs this
// configuration as a single-replica Deployment.
const (
	eventsAlias = "lp_in_events"
	eventsTag   = "events"
)

func renderEvents(pipelines []*pipeline) (*Config, []Problem) {
	return renderFitting("the events collector", pipelines, false, renderEventsOnce)
}

func renderEventsOnce(pipelines []*pipeline) (*Config, []Problem, error) {
	b := newBuilder(nil)
	main := fluentbit.Config{Service: serviceParams(v1.LogAgentSpec{}, false)}
	in := fluentbit.Section{Name: "kubernetes_events", Alias: eventsAlias}
	in.Set("tag", fluentbit.String(eventsTag))
	in.Set("db", fluentbit.String(positionsDB("events")))
	in.Set("kube_retention_time", fluentbit.String("1h"))
	in.Set("kube_request_limit", fluentbit.Int(500))
	in.Set("interval_sec", fluentbit.Int(1))
	main.Inputs = []fluentbit.Section{in}
	for _, p := range pipelines {
		if p.EventNamespaces.Only != nil && len(p.EventNamespaces.Only) == 0 {
			continue // a selector that matches no namespace yet
		}
		b.addOutputs(p, match{glob: eventsTag}, func(ps *parsers, keys *sectionKeys, out []fluentbit.Section) []fluentbit.Section {
			return appendFilterProcessors(append(out, eventNamespaceProcessors(p.EventNamespaces)...), p.Filters, ps, keys)
		}, false)
	}
	cfg, err := b.finish(main)
	if err != nil {
		return nil, nil, err
	}
	return cfg, b.problems, nil
}

// eventNamespaceProcessors select events by the namespace of the object they are about.
func eventNamespaceProcessors(ns namespaceSet) []fluentbit.Section {
	anyOf := func(names []string) v1.FieldMatch {
		q := make([]string, len(names))
		for i, n := range names {
			q[i] = regexp.QuoteMeta(n)
		}
		return v1.FieldMatch{Field: "$involvedObject['namespace']", Regex: v1.Regex("^(?:" + strings.Join(q, "|") + ")$")}
	}
	switch {
	case ns.Only != nil:
		return grepProcessors([]v1.FieldMatch{anyOf(ns.Only)}, nil)
	case len(ns.AllExcept) > 0:
		return grepProcessors(nil, []v1.FieldMatch{anyOf(ns.AllExcept)})
	}
	return nil
}
