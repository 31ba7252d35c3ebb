package render

import (
	"slices"
	"strings"

	v1 "github.com/logplane/logplane/api/v1alpha1"
	"github.com/logplane/logplane/internal/conditions"
	"github.com/logplane/logplane/internal/fluentbit"
	"github.com/logplane/logplane/internal/snapshot"
)

// The sidecar tails files the application writes into a volume shared with it. Its
// configuration holds one pipeline and lives in the pipeline's namespace, so it may
// only carry that namespace's credentials.
const (
	SidecarDataDir     = "/var/fluent-bit"
	SidecarMetricsPort = 2021
	sidecarTagPrefix   = "file."
	sidecarInputAlias  = "lp_in_files"
)

// Downward-API variables the webhook sets on the sidecar, so records say where they
// come from as the kubernetes filter would on a node.
var sidecarMetadata = []struct{ key, env string }{
	{"namespace_name", "LP_POD_NAMESPACE"},
	{"pod_name", "LP_POD_NAME"},
	{"host", "LP_NODE_NAME"},
}

func renderSidecar(p *pipeline) (*Config, []Problem) {
	b := newBuilder(nil)
	filesystem := needsFilesystem([]*pipeline{p})
	svc := serviceParams(v1.LogAgentSpec{MetricsPort: SidecarMetricsPort}, false)
	if filesystem {
		svc = append(svc,
			fluentbit.Param{Key: "storage.path", Value: fluentbit.String(SidecarDataDir + "/buffer")},
			fluentbit.Param{Key: "storage.sync", Value: fluentbit.String("normal")})
	}
	main := fluentbit.Config{Service: svc}

	paths := make([]string, len(p.Files.Paths))
	for i, f := range p.Files.Paths {
		paths[i] = string(f)
	}
	slices.Sort(paths)
	tag := sidecarTagPrefix + p.Ref.Name
	in := fluentbit.Section{Name: "tail", Alias: sidecarInputAlias}
	in.Set("path", fluentbit.String(strings.Join(paths, ",")))
	in.Set("tag", fluentbit.String(tag))
	in.Set("path_key", fluentbit.String("file"))
	in.Set("db", fluentbit.String(SidecarDataDir+"/state/"+p.Ref.Name+".db"))
	in.Set("skip_long_lines", fluentbit.Bool(true))
	in.Set("mem_buf_limit", fluentbit.String(tailMemBufLimit))
	setInputStorage(&in, filesystem)
	for _, m := range sidecarMetadata {
		s := fluentbit.Section{Name: "content_modifier"}
		s.Set("action", fluentbit.String("insert"))
		s.Set("key", fluentbit.String("kubernetes_"+m.key))
		s.Set("value", fluentbit.Env(m.env))
		in.Processors = append(in.Processors, s)
	}
	for _, f := range p.Filters {
		if f.Multiline != nil {
			s := fluentbit.Section{Name: "multiline"}
			s.Set("multiline.parser", fluentbit.String(string(f.Multiline.Parser)))
			s.Set("multiline.key_content", fluentbit.String(strings.TrimPrefix(cmpOr(string(f.Multiline.Field), "log"), "$")))
			in.Processors = append(in.Processors, s)
		}
	}
	main.Inputs = []fluentbit.Section{in}

	// Platform credentials must not be copied into a tenant namespace.
	var probs []Problem
	kept := *p
	kept.Outputs = nil
	for _, o := range p.Outputs {
		if isClusterOutput(o) && o.SecretNamespace != p.Ref.Namespace && hasSecrets(o) {
			probs = append(probs, problem(p.Ref, conditions.ReasonCrossNamespaceReference,
				"A file input sending to "+o.Ref.String()+" (which has credentials)", p.Ref.Namespace))
			continue
		}
		kept.Outputs = append(kept.Outputs, o)
	}
	b.addOutputs(&kept, match{glob: tag}, func(ps *parsers) []fluentbit.Section { return filterProcessors(p.Filters, ps) }, filesystem)
	probs = append(probs, b.problems...)
	if len(b.outputs) == 0 {
		return nil, probs
	}
	cfg, err := b.finish(main)
	if err != nil {
		panic("render: sidecar configuration does not marshal: " + err.Error())
	}
	return cfg, probs
}

func hasSecrets(o *output) bool { return len(snapshot.SecretRefs(o.Spec)) > 0 }
