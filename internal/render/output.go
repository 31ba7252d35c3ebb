package render

import (
	"fmt"
	"slices"
	"strings"

	v1 "github.com/logplane/logplane/api/v1alpha1"
	"github.com/logplane/logplane/internal/alias"
	"github.com/logplane/logplane/internal/fluentbit"
	"github.com/logplane/logplane/internal/rawparams"
)

// outputSection renders one (pipeline, output) pair: the destination's own keys, the
// keys every output shares, and the processors that select and shape the pipeline's
// records. The alias ties the section's metrics back to the pair. The section's keys
// are appended to params, scratch space the caller may reuse once it is encoded.
func outputSection(pl *pipeline, o *output, m match, procs *fluentbit.EncodedProcessors, creds *credentials, filesystem bool, params []fluentbit.Param) (fluentbit.Section, error) {
	var s fluentbit.Section
	var env outputEnv
	err := fillOutputSection(&s, &env, pl, o, m, procs, creds, filesystem, params)
	return s, err
}

// fillOutputSection is outputSection writing into s, with env as scratch space: the
// destination renderers are called through a function value, so a section and an
// environment of their own would be moved to the heap for every section.
func fillOutputSection(s *fluentbit.Section, env *outputEnv, pl *pipeline, o *output, m match, procs *fluentbit.EncodedProcessors, creds *credentials, filesystem bool, params []fluentbit.Param) error {
	dest, ok := destinations[o.Spec.Type]
	if !ok {
		*s = fluentbit.Section{}
		return fmt.Errorf("unknown output type %q", o.Spec.Type)
	}
	a := alias.Output{PipelineKind: pl.Ref.Kind, Namespace: pl.Ref.Namespace, Pipeline: pl.Ref.Name,
		OutputKind: o.Ref.Kind, Output: o.Ref.Name}.Encode()
	if a == "" {
		*s = fluentbit.Section{}
		return fmt.Errorf("cannot name the section for %s → %s", pl.Ref, o.Ref)
	}
	*s = fluentbit.Section{Name: dest.plugin, Match: m.glob, Alias: a, SharedProcessors: procs, Params: params}
	s.Set("match_regex", fluentbit.String(m.regex))
	*env = outputEnv{secretNamespace: o.SecretNamespace, salt: o.Salt, creds: creds, outputID: a}
	if err := dest.render(s, o.Spec, env); err != nil {
		return err
	}
	if err := setTLS(s, o.Spec.TLS, dest.tls, env); err != nil {
		return err
	}
	if o.Spec.Workers != nil {
		s.Set("workers", fluentbit.Int(int64(*o.Spec.Workers)))
	}
	setDelivery(s, deliveryOf(o.Policy), filesystem, o.Spec.Type)
	return setRaw(s, dest.plugin, o.Raw)
}

// setRaw adds a ClusterLogOutput's rawParameters to its section. resolveOutput left out
// an output with a refused key or value already; checking again here keeps one from ever
// reaching a file by another path. A key logplane set from the typed fields is refused
// too, rather than written twice (which Fluent Bit would resolve one way or the other).
func setRaw(s *fluentbit.Section, plugin string, raw []v1.RawParameter) error {
	for _, kv := range raw {
		why := rawparams.Check(plugin, kv.Key)
		if why == "" {
			why = rawparams.CheckValue(plugin, kv.Key, string(kv.Value))
		}
		if why != "" {
			return fmt.Errorf("rawParameters key %s %s", kv.Key, why)
		}
		if slices.ContainsFunc(s.Params, func(p fluentbit.Param) bool { return strings.EqualFold(p.Key, kv.Key) }) {
			return fmt.Errorf("rawParameters key %s is set by logplane from the typed fields of the output; set it there", kv.Key)
		}
		s.Set(kv.Key, fluentbit.String(string(kv.Value)))
	}
	return nil
}
