package render

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	v1 "github.com/logplane/logplane/api/v1alpha1"
	"github.com/logplane/logplane/internal/conditions"
	"github.com/logplane/logplane/internal/fluentbit"
	"github.com/logplane/logplane/internal/snapshot"
)

// The sidecar tails files the application writes into a volume shared with it. Each
// pipeline's configuration is a fragment (inputs, outputs, parsers; no service
// section) that lives in the pipeline's namespace, so it may only carry that
// namespace's credentials. One sidecar runs every pipeline that selects its pod: its
// main file (SidecarMain) holds the one service section Fluent Bit allows and includes
// each pipeline's fragment. Tags, input aliases and tail databases are named after the
// pipeline, so fragments of one namespace never collide.
const (
	SidecarDataDir     = AgentDataDir
	SidecarMetricsPort = 2021
	sidecarTagPrefix   = "file."
	sidecarInputAlias  = "lp_in_files_"
	// One pod's files, not a node's: a sidecar buffers far less than an agent, and
	// its memory limit (set by the webhook per pipeline) must stay above this.
	sidecarMemBufLimit = "32MB"
)

// SidecarMain is the sidecar's main configuration: the service section and the
// fragments of the given files, relative to the main file, in the order given.
func SidecarMain(fragments []string) ([]byte, error) {
	svc := serviceParams(v1.LogAgentSpec{MetricsPort: SidecarMetricsPort}, false)
	// Always set: a fragment that buffers on the filesystem needs it, and it costs
	// nothing to the others.
	svc = append(svc,
		fluentbit.Param{Key: "storage.path", Value: fluentbit.String(BufferDir)},
		fluentbit.Param{Key: "storage.sync", Value: fluentbit.String("normal")})
	return fluentbit.Config{Service: svc, Includes: fragments}.Marshal()
}

// Downward-API variables the webhook sets on the sidecar, so records say where they
// come from as the kubernetes filter would on a node.
const (
	SidecarEnvPodNamespace = "LP_POD_NAMESPACE"
	SidecarEnvPodName      = "LP_POD_NAME"
	SidecarEnvNodeName     = "LP_NODE_NAME"
)

var sidecarMetadata = []struct{ key, env string }{
	{"namespace_name", SidecarEnvPodNamespace},
	{"pod_name", SidecarEnvPodName},
	{"host", SidecarEnvNodeName},
}

func renderSidecar(p *pipeline) (*Config, []Problem) {
	b := newBuilder(nil)
	filesystem := needsFilesystem([]*pipeline{p})
	main := fluentbit.Config{}

	paths := make([]string, len(p.Files.Paths))
	for i, f := range p.Files.Paths {
		paths[i] = string(f)
	}
	slices.Sort(paths)
	tag := sidecarTagPrefix + p.Ref.Name
	in := fluentbit.Section{Name: "tail", Alias: sidecarInputAlias + p.Ref.Name}
	in.Set("path", fluentbit.String(strings.Join(paths, ",")))
	in.Set("tag", fluentbit.String(tag))
	in.Set("path_key", fluentbit.String("file"))
	in.Set("db", fluentbit.String(positionsDB("files-"+p.Ref.Name)))
	in.Set("skip_long_lines", fluentbit.Bool(true))
	// The app creates its files after the sidecar starts: look for them every few
	// seconds, not Fluent Bit's default minute (measured: first lines a minute late).
	in.Set("refresh_interval", fluentbit.Int(5))
	in.Set("mem_buf_limit", fluentbit.String(sidecarMemBufLimit))
	setInputStorage(&in, filesystem)
	for _, m := range sidecarMetadata {
		s := fluentbit.Section{Name: "content_modifier"}
		s.Set("action", fluentbit.String("insert"))
		s.Set("key", fluentbit.String("kubernetes_"+m.key))
		s.Set("value", fluentbit.Env(m.env))
		in.Processors = append(in.Processors, s)
	}
	var multiline []fluentbit.Section
	for _, f := range p.Filters {
		if f.Multiline != nil {
			s := fluentbit.Section{Name: "multiline"}
			s.Set("multiline.parser", fluentbit.String(string(f.Multiline.Parser)))
			s.Set("multiline.key_content", fluentbit.String(strings.TrimPrefix(cmpOr(string(f.Multiline.Field), "log"), "$")))
			multiline = append(multiline, s)
		}
	}
	// One sidecar runs the fragments of several pipelines: emitters carry the pipeline's name.
	in.Processors = append(in.Processors, withEmitters(multiline, "lp_ml_"+p.Ref.Name+"_", filesystem)...)
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
	b.parsers.prefix = "lp-" + p.Ref.Name + "-"
	b.addOutputs(&kept, match{glob: tag}, func(ps *parsers, keys *sectionKeys, out []fluentbit.Section) []fluentbit.Section {
		return appendFilterProcessors(out, p.Filters, ps, keys)
	}, filesystem)
	b.flush()
	probs = append(probs, b.problems...)
	if len(b.outputs) == 0 {
		return nil, probs
	}
	cfg, err := b.finish(main)
	var tl *tooLargeError
	if err == nil && len(cfg.Files) > 1 || errors.As(err, &tl) {
		// The sidecar's files and credentials share one Secret in the tenant's
		// namespace, so its configuration is never sharded.
		size := 0
		for _, o := range b.outputs {
			size += o.size()
		}
		return nil, append(probs, problem(p.Ref, conditions.ReasonConfigTooLarge, "The pipeline", fmt.Sprintf(
			"its sidecar configuration takes more than the %d bytes of the one file (a Secret) a sidecar reads; its output sections alone take %d bytes",
			maxFileBytes, size)))
	}
	if err != nil {
		// Only a bug in the renderer gets here: every value was checked on the way in.
		panic("render: sidecar configuration does not marshal: " + err.Error())
	}
	return cfg, probs
}

func hasSecrets(o *output) bool { return len(snapshot.SecretRefs(o.Spec)) > 0 }
