package render

import (
	"regexp"
	"slices"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/logplane/logplane/api/v1alpha1"
	"github.com/logplane/logplane/internal/fluentbit"
)

// appendLabelProcessors appends processors that select a pipeline's records by pod
// label. Labels are not in the tag, so this is a grep over the records the output's
// tag match already narrowed to the pipeline's namespaces — its cost stays within
// those namespaces, never the cluster.
func appendLabelProcessors(out []fluentbit.Section, sel *v1.ContainerSelection, room *sectionKeys) []fluentbit.Section {
	if sel == nil || sel.PodSelector == nil {
		return out
	}
	var include, exclude []string
	rule := func(key, re string) string {
		return "$kubernetes['labels']['" + key + "'] " + re
	}
	keys := make([]string, 0, len(sel.PodSelector.MatchLabels))
	for k := range sel.PodSelector.MatchLabels {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		include = append(include, rule(k, "^"+regexp.QuoteMeta(sel.PodSelector.MatchLabels[k])+"$"))
	}
	for _, e := range sel.PodSelector.MatchExpressions {
		values := make([]string, len(e.Values))
		for i, v := range e.Values {
			values[i] = regexp.QuoteMeta(v)
		}
		anyOf := "^(?:" + strings.Join(values, "|") + ")$"
		switch e.Operator {
		case metav1.LabelSelectorOpIn:
			include = append(include, rule(e.Key, anyOf))
		case metav1.LabelSelectorOpNotIn:
			// A pod without the label matches NotIn; grep skips records without the field.
			exclude = append(exclude, rule(e.Key, anyOf))
		case metav1.LabelSelectorOpExists:
			include = append(include, rule(e.Key, ".*"))
		case metav1.LabelSelectorOpDoesNotExist:
			exclude = append(exclude, rule(e.Key, ".*"))
		}
	}
	return appendGrepRules(out, include, exclude, room)
}

// multilineProcessors join multi-line messages on the container input. Fluent Bit 5.1
// runs the multiline filter only as an input processor, so each parser runs once for
// all pipelines that ask for it, limited by a condition to those pipelines' namespaces.
func multilineProcessors(pipelines []*pipeline) []fluentbit.Section {
	type key struct{ parser, field string }
	namespaces := map[key][]string{}
	everywhere := map[key]bool{}
	for _, p := range pipelines {
		if p.Containers == nil || p.Namespaces.Only != nil && len(p.Namespaces.Only) == 0 {
			continue
		}
		for _, f := range p.Filters {
			if f.Multiline == nil {
				continue
			}
			k := key{string(f.Multiline.Parser), cmpOr(string(f.Multiline.Field), "log")}
			if p.Namespaces.Only == nil {
				everywhere[k] = true
			}
			namespaces[k] = append(namespaces[k], p.Namespaces.Only...)
		}
	}
	keys := make([]key, 0, len(namespaces))
	for k := range namespaces {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b key) int { return strings.Compare(a.parser+"\x00"+a.field, b.parser+"\x00"+b.field) })
	var out []fluentbit.Section
	for _, k := range keys {
		s := fluentbit.Section{Name: "multiline"}
		s.Set("multiline.parser", fluentbit.String(k.parser))
		s.Set("multiline.key_content", fluentbit.String(strings.TrimPrefix(k.field, "$")))
		if !everywhere[k] {
			ns := namespaces[k]
			slices.Sort(ns)
			s.Condition = &fluentbit.Condition{Op: "and", Rules: []fluentbit.Rule{
				{Field: "$kubernetes['namespace_name']", Op: fluentbit.OpIn, Values: slices.Compact(ns)},
			}}
		}
		out = append(out, s)
	}
	return out
}
