// Package alias names Fluent Bit sections so that their metrics can be traced back to
// the pipeline and output they serve. Fluent Bit reports every counter under the
// section's alias (its `name` label); the renderer writes aliases with Encode and the
// metrics scraper reads them with Decode, so neither depends on the other.
//
// Format: lp_<pipelineKind>_<namespace>_<pipeline>_<outputKind>_<output>, with short
// kind codes. Kubernetes names and namespaces never contain '_', which makes the
// format unambiguous; cluster-scoped pipelines have an empty namespace field.
package alias

import "strings"

const (
	prefix = "lp"
	sep    = "_"
)

// Kinds of the objects an alias refers to.
const (
	LogPipeline        = "LogPipeline"
	ClusterLogPipeline = "ClusterLogPipeline"
	LogOutput          = "LogOutput"
	ClusterLogOutput   = "ClusterLogOutput"
)

var kindCodes = map[string]string{
	LogPipeline:        "lpl",
	ClusterLogPipeline: "clpl",
	LogOutput:          "lout",
	ClusterLogOutput:   "clout",
}

var codeKinds = func() map[string]string {
	m := make(map[string]string, len(kindCodes))
	for k, c := range kindCodes {
		m[c] = k
	}
	return m
}()

// Output identifies one output section: the pipeline it belongs to and the output it
// delivers to. A LogOutput lives in the pipeline's namespace.
type Output struct {
	PipelineKind string
	Namespace    string
	Pipeline     string
	OutputKind   string
	Output       string
}

// Encode renders the alias. It returns "" when a field cannot be encoded (an unknown
// kind, or a name holding the separator), which the renderer treats as a bug.
func (o Output) Encode() string {
	pk, ok1 := kindCodes[o.PipelineKind]
	ok, ok2 := kindCodes[o.OutputKind]
	if !ok1 || !ok2 || o.Pipeline == "" || o.Output == "" {
		return ""
	}
	for _, s := range []string{o.Namespace, o.Pipeline, o.Output} {
		if strings.Contains(s, sep) {
			return ""
		}
	}
	return strings.Join([]string{prefix, pk, o.Namespace, o.Pipeline, ok, o.Output}, sep)
}

// Decode parses an alias written by Encode; ok is false for any other string, such as
// the aliases of the agent's shared inputs or Fluent Bit's own default names.
func Decode(s string) (o Output, ok bool) {
	parts := strings.Split(s, sep)
	if len(parts) != 6 || parts[0] != prefix {
		return Output{}, false
	}
	pk, ok1 := codeKinds[parts[1]]
	outk, ok2 := codeKinds[parts[4]]
	if !ok1 || !ok2 || parts[3] == "" || parts[5] == "" {
		return Output{}, false
	}
	if pk != LogPipeline && pk != ClusterLogPipeline || outk != LogOutput && outk != ClusterLogOutput {
		return Output{}, false
	}
	// Cluster pipelines have no namespace, tenant pipelines always one.
	if (pk == ClusterLogPipeline) != (parts[2] == "") {
		return Output{}, false
	}
	return Output{PipelineKind: pk, Namespace: parts[2], Pipeline: parts[3], OutputKind: outk, Output: parts[5]}, true
}
