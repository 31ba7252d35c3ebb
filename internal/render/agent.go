package render

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	v1 "github.com/logplane/logplane/api/v1alpha1"
	"github.com/logplane/logplane/internal/fluentbit"
)

// Paths inside the agent container. The controller mounts the node's /var/log
// read-only, and the LogAgent's hostPath at AgentDataDir, so tail positions and the
// filesystem buffer outlive the pod (see paths.go).
const (
	ContainerLogGlob = "/var/log/containers/*.log"
	JournalPath      = "/var/log/journal"
	AgentDataDir     = "/var/fluent-bit"
	// AgentContainerName is excluded from collection so the agent never ships its own
	// log (which would loop when an output fails and logs about it).
	AgentContainerName = "fluent-bit"
	defaultMetricsPort = 2020
)

// Input buffer sizing, measured on Fluent Bit 5.1.1 (2 cores, 183-byte CRI lines, real
// pod metadata): mem_buf_limit caps an input at about limit ÷ (in-memory record size ×
// flush interval), and a record enriched with pod metadata takes ~770 bytes in memory.
// 5 MB held an agent to 1.2 MB/s, 50 MB to 12 MB/s, 200 MB to 18 MB/s, where one input's
// thread was the limit. Each container shard gets half of 200 MB so that the agent's
// buffers stay within its 512Mi memory limit (see docs/limits.md).
const (
	tailMemBufLimit        = "200MB"
	containerShardBufLimit = "100MB"
	flushSeconds           = 1
)

// Aliases of the agent's shared inputs; they are not pipeline-specific.
const (
	containersAlias = "lp_in_containers"
	systemdAlias    = "lp_in_systemd"
	hostFilesAlias  = "lp_in_hostfiles"
	kubeTagParser   = "lp-kube-tag"
)

// renderAgent renders the configuration of one LogAgent with its pipelines, leaving
// out those over its budgets and those it has no room for.
func renderAgent(name string, spec v1.LogAgentSpec, operatorNamespace string, pipelines []*pipeline, memo *Renderer) (*Config, v1.BudgetUsage, []Problem) {
	lim := budgetsOf(name, spec.Budgets)
	pipelines, over := withinBudgets(pipelines, lim)
	cfg, probs := renderFitting("agent "+name, pipelines, true, func(pipelines []*pipeline) (*Config, []Problem, error) {
		return renderAgentOnce(spec, operatorNamespace, pipelines, memo, lim)
	})
	return cfg, usageOf(pipelines, cfg.Pipelines), append(probs, over...)
}

// renderAgentOnce renders the configuration of one LogAgent with its pipelines; a
// *tooLargeError when they do not fit.
func renderAgentOnce(spec v1.LogAgentSpec, operatorNamespace string, pipelines []*pipeline, memo *Renderer, lim budgetLimits) (*Config, []Problem, error) {
	b := newBuilder(memo)
	b.budget = &lim
	filesystem := needsFilesystem(pipelines)
	main := fluentbit.Config{Service: serviceParams(spec, filesystem)}

	var units []string
	var files []string
	var containers bool
	for _, p := range pipelines {
		containers = containers || p.Containers != nil
		if p.Node != nil {
			for _, u := range p.Node.SystemdUnits {
				units = append(units, string(u))
			}
			for _, f := range p.Node.Files {
				files = append(files, string(f))
			}
		}
	}
	if containers {
		main.Parsers = append(main.Parsers, kubeTagParserSection())
		main.Inputs = append(main.Inputs, containersInputs(operatorNamespace, filesystem, multilineProcessors(pipelines))...)
	}
	if len(units) > 0 {
		main.Inputs = append(main.Inputs, systemdInput(units, filesystem))
	}
	if len(files) > 0 {
		main.Inputs = append(main.Inputs, hostFilesInput(files, filesystem))
	}
	// Each pipeline's match is quoting and joining of its own: thousands are worked out
	// on every processor.
	matches := make([]match, len(pipelines))
	parallel(len(pipelines), 256, func(i int) { matches[i] = pipelineMatch(pipelines[i]) })
	for i, p := range pipelines {
		if matches[i] == (match{}) {
			continue // a selector that matches no namespace yet
		}
		b.addOutputs(p, matches[i], func(ps *parsers, keys *sectionKeys, out []fluentbit.Section) []fluentbit.Section {
			return appendFilterProcessors(appendLabelProcessors(out, p.Containers, keys), p.Filters, ps, keys)
		}, filesystem)
	}
	cfg, err := b.finish(main)
	if err != nil {
		return nil, nil, err
	}
	cfg.ReadsJournal = len(units) > 0
	return cfg, b.problems, nil
}

// pipelineMatch is the tag match of the records an agent reads for p; zero when
// there are none (a selector that matches no namespace yet).
func pipelineMatch(p *pipeline) match {
	var families []tagFamily
	if p.Containers != nil && (p.Namespaces.Only == nil || len(p.Namespaces.Only) > 0) {
		families = append(families, containerFamily(namespaceFamily(p.Namespaces), p.Containers))
	}
	if p.Node != nil {
		families = append(families, nodeFamilies(p.Node)...)
	}
	return tagMatch(families)
}

func needsFilesystem(pipelines []*pipeline) bool {
	return slices.ContainsFunc(pipelines, pipelineNeedsFilesystem)
}

// pipelineNeedsFilesystem says some output of p asks for AtLeastOnce delivery.
func pipelineNeedsFilesystem(p *pipeline) bool {
	return slices.ContainsFunc(p.Outputs, func(o *output) bool { return deliveryOf(o.Policy).atLeastOnce })
}

func serviceParams(spec v1.LogAgentSpec, filesystem bool) []fluentbit.Param {
	port := int64(spec.MetricsPort)
	if port == 0 {
		port = defaultMetricsPort
	}
	ps := []fluentbit.Param{
		{Key: "flush", Value: fluentbit.Int(flushSeconds)},
		{Key: "log_level", Value: fluentbit.String(string(cmpOr(string(spec.LogLevel), "warn")))},
		{Key: "http_server", Value: fluentbit.Bool(true)},
		{Key: "http_listen", Value: fluentbit.String("0.0.0.0")},
		{Key: "http_port", Value: fluentbit.Int(port)},
		{Key: "health_check", Value: fluentbit.Bool(true)},
		{Key: "hot_reload", Value: fluentbit.Bool(spec.ConfigReload == v1.ConfigReloadHotReload)},
		{Key: "storage.metrics", Value: fluentbit.Bool(true)},
		{Key: "scheduler.base", Value: fluentbit.Int(schedulerBase)},
		{Key: "scheduler.cap", Value: fluentbit.Int(schedulerCap)},
	}
	if filesystem {
		ps = append(ps,
			fluentbit.Param{Key: "storage.path", Value: fluentbit.String(BufferDir)},
			fluentbit.Param{Key: "storage.sync", Value: fluentbit.String("normal")},
			fluentbit.Param{Key: "storage.backlog.mem_limit", Value: fluentbit.String("50M")},
			fluentbit.Param{Key: "storage.max_chunks_up", Value: fluentbit.Int(128)},
		)
	}
	return ps
}

// kubeTagParserSection reads namespace, pod and container back from the tag for the
// kubernetes filter. Pod names may hold dots; namespaces and containers never do.
func kubeTagParserSection() fluentbit.Section {
	s := fluentbit.Section{Name: kubeTagParser}
	s.Set("format", fluentbit.String("regex"))
	s.Set("regex", fluentbit.String(`^(?<namespace_name>[^.]+)\.(?<pod_name>.+)\.(?<container_name>[^.]+)$`))
	return s
}

// containerShards split the container log files between threaded tail inputs by the
// last hex digit of the container ID in the file name. A threaded input runs its
// processors (the kubernetes enrichment, the CPU-heavy part) in its own thread, so two
// shards use both cores of a node; one input is held to one core (~18 MB/s measured).
// Every shard renders the same tag, so outputs' match globs see one stream.
var containerShards = []string{"[0-7]", "[89a-f]"}

// containersInputs read every container log file once and enrich every record once,
// with the kubernetes filter running as a processor of the input, before routing.
func containersInputs(operatorNamespace string, filesystem bool, multiline []fluentbit.Section) []fluentbit.Section {
	inputs := make([]fluentbit.Section, len(containerShards))
	for i, digits := range containerShards {
		inputs[i] = containersInput(i, digits, operatorNamespace, filesystem, multiline)
	}
	return inputs
}

// containersInput is one shard: the files whose container ID ends in one of digits,
// with its own positions database.
func containersInput(shard int, digits, operatorNamespace string, filesystem bool, multiline []fluentbit.Section) fluentbit.Section {
	s := fluentbit.Section{Name: "tail", Alias: fmt.Sprintf("%s_%d", containersAlias, shard)}
	s.Set("path", fluentbit.String(strings.TrimSuffix(ContainerLogGlob, ".log")+digits+".log"))
	s.Set("exclude_path", fluentbit.String("/var/log/containers/*_"+operatorNamespace+"_"+AgentContainerName+"-*.log"))
	s.Set("tag", fluentbit.String(containerTagPrefix+"<namespace_name>.<pod_name>.<container_name>"))
	s.Set("tag_regex", fluentbit.String(`(?<pod_name>[a-z0-9](?:[-a-z0-9]*[a-z0-9])?(?:\.[a-z0-9](?:[-a-z0-9]*[a-z0-9])?)*)_(?<namespace_name>[^_]+)_(?<container_name>.+)-(?<docker_id>[a-z0-9]{64})\.log$`))
	s.Set("threaded", fluentbit.Bool(true))
	s.Set("multiline.parser", fluentbit.String("cri"))
	s.Set("db", fluentbit.String(positionsDB(fmt.Sprintf("containers-%d", shard))))
	s.Set("db.locking", fluentbit.Bool(true))
	s.Set("skip_long_lines", fluentbit.Bool(true))
	s.Set("refresh_interval", fluentbit.Int(10))
	s.Set("rotate_wait", fluentbit.Int(30))
	s.Set("mem_buf_limit", fluentbit.String(containerShardBufLimit))
	setInputStorage(&s, filesystem)
	k := fluentbit.Section{Name: "kubernetes"}
	k.Set("kube_tag_prefix", fluentbit.String(containerTagPrefix))
	k.Set("regex_parser", fluentbit.String(kubeTagParser))
	k.Set("labels", fluentbit.Bool(true))
	k.Set("annotations", fluentbit.Bool(false))
	k.Set("merge_log", fluentbit.Bool(false))
	k.Set("buffer_size", fluentbit.String("0"))
	k.Set("kube_meta_cache_ttl", fluentbit.String("300s"))
	s.Processors = append([]fluentbit.Section{k}, withEmitters(multiline, fmt.Sprintf("lp_ml_%d_", shard), filesystem)...)
	return s
}

// withEmitters names the emitter of each multiline processor (prefix + index) and
// buffers it like the input. Fluent Bit re-emits joined records through an emitter
// input named emitter_for_<processor>, and every processor instance is called
// multiline.0: two inputs with a multiline processor each abort the agent at start
// ("emitter_name ... already exists") unless the names differ.
func withEmitters(multiline []fluentbit.Section, prefix string, filesystem bool) []fluentbit.Section {
	out := make([]fluentbit.Section, len(multiline))
	for i, m := range multiline {
		m.Params = slices.Clone(m.Params)
		m.Set("emitter_name", fluentbit.String(fmt.Sprintf("%s%d", prefix, i)))
		if filesystem {
			m.Set("emitter_storage.type", fluentbit.String("filesystem"))
		}
		out[i] = m
	}
	return out
}

// setInputStorage buffers on the node's disk when any output asks for AtLeastOnce,
// pausing the input (not dropping) when the buffer is full.
func setInputStorage(s *fluentbit.Section, filesystem bool) {
	if filesystem {
		s.Set("storage.type", fluentbit.String("filesystem"))
		s.Set("storage.pause_on_chunks_overlimit", fluentbit.Bool(true))
	} else {
		s.Set("storage.type", fluentbit.String("memory"))
	}
}

func systemdInput(units []string, filesystem bool) fluentbit.Section {
	slices.Sort(units)
	units = slices.Compact(units)
	filters := make([]string, len(units))
	for i, u := range units {
		filters[i] = "_SYSTEMD_UNIT=" + u
	}
	s := fluentbit.Section{Name: "systemd", Alias: systemdAlias}
	s.Set("path", fluentbit.String(JournalPath))
	s.Set("tag", fluentbit.String(systemdTagPrefix+"*"))
	s.Set("systemd_filter", fluentbit.List(filters...))
	s.Set("db", fluentbit.String(positionsDB("systemd")))
	s.Set("read_from_tail", fluentbit.Bool(true))
	setInputStorage(&s, filesystem)
	return s
}

func hostFilesInput(paths []string, filesystem bool) fluentbit.Section {
	slices.Sort(paths)
	paths = slices.Compact(paths)
	s := fluentbit.Section{Name: "tail", Alias: hostFilesAlias}
	s.Set("path", fluentbit.String(strings.Join(paths, ",")))
	s.Set("tag", fluentbit.String(hostFileTagPrefix+"*"))
	s.Set("db", fluentbit.String(positionsDB("hostfiles")))
	s.Set("db.locking", fluentbit.Bool(true))
	// As for container logs: a file that appears (or rotates in) is found within 10 s.
	s.Set("refresh_interval", fluentbit.Int(10))
	s.Set("skip_long_lines", fluentbit.Bool(true))
	s.Set("mem_buf_limit", fluentbit.String(tailMemBufLimit))
	setInputStorage(&s, filesystem)
	return s
}

// nodeFamilies are the tags of a pipeline's node logs. systemd tags carry the unit name;
// tail turns a file's path into its tag by replacing '/' with '.'.
func nodeFamilies(n *v1.NodeInput) []tagFamily {
	var fams []tagFamily
	if len(n.SystemdUnits) > 0 {
		q := make([]string, len(n.SystemdUnits))
		for i, u := range n.SystemdUnits {
			q[i] = regexp.QuoteMeta(string(u))
		}
		fams = append(fams, tagFamily{regex: regexp.QuoteMeta(systemdTagPrefix) + "(?:" + strings.Join(q, "|") + ")$"})
	}
	if len(n.Files) > 0 {
		q := make([]string, len(n.Files))
		for i, f := range n.Files {
			tag := strings.ReplaceAll(strings.TrimPrefix(string(f), "/"), "/", ".")
			q[i] = strings.ReplaceAll(regexp.QuoteMeta(tag), `\*`, ".*")
		}
		fams = append(fams, tagFamily{regex: regexp.QuoteMeta(hostFileTagPrefix) + "(?:" + strings.Join(q, "|") + ")$"})
	}
	return fams
}

// containerFamily narrows a namespace family to container names, the tag's last segment.
func containerFamily(ns tagFamily, sel *v1.ContainerSelection) tagFamily {
	if len(sel.Include) == 0 && len(sel.Exclude) == 0 {
		return ns
	}
	names := func(cs []v1.ContainerName) string {
		q := make([]string, len(cs))
		for i, c := range cs {
			q[i] = regexp.QuoteMeta(string(c))
		}
		return "(?:" + strings.Join(q, "|") + ")"
	}
	last := `[^.]+`
	if len(sel.Include) > 0 {
		last = names(sel.Include)
	}
	if len(sel.Exclude) > 0 {
		last = "(?!" + names(sel.Exclude) + "$)" + last
	}
	return tagFamily{regex: ns.regex + `.+\.` + last + "$"}
}
