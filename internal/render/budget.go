package render

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/api/resource"

	v1 "github.com/logplane/logplane/api/v1alpha1"
	"github.com/logplane/logplane/internal/conditions"
)

// Budgets bound what pipelines claim of an agent pod, because one Fluent Bit process
// serves every tenant on a node: a tenant that claims too much must be refused alone,
// not crash the agent for everyone. Measured on Fluent Bit 5.1.1 with the rendered agent
// configuration (TestOpenFilesPerOutputAndWorker): an output section costs 3-4 open
// files and each of its worker threads 9 (its event loop, timers and channels), plus a
// connection while it delivers; the engine, the two tail inputs, the kubernetes
// processors and the HTTP server 86; tail one per log file it follows (a node at 110
// pods has a few hundred). Fluent Bit never raises its soft RLIMIT_NOFILE, and
// containerd 2.x (and Docker 29) give containers a soft limit of 1024, under which 20
// pipelines × 16 outputs × 16 workers (5,120 threads) stop the agent at start
// ("timerfd: Too many open files"). The most the default agent budget admits, 48
// sections and 32 workers, measured 834 open files with 300 log files to follow:
// 190 of 1024 are left for a connection per section and more log files. The agent
// pod starts Fluent Bit through fbexec, which raises the soft limit to the hard one
// (524288 under containerd 2.x), yet the defaults stay sized for 1024: some runtimes
// set the hard limit to 1024 too, and a default must hold on every node
// (docs/limits.md). A namespace
// gets a third of the sections and workers by default, so no single tenant fills an
// agent. The disk defaults keep logplane's buffers to a fifth of a 100 GiB node disk,
// well before the kubelet's default eviction at 10% free.
const (
	defaultNamespaceSections  = 16
	defaultNamespaceWorkers   = 12
	defaultPipelineConfigSize = 128 << 10
	defaultAgentSections      = 48
	defaultAgentWorkers       = 32
)

// A throttle filter starts a thread per instance (filter_throttle's ticker), and
// logplane writes a pipeline's filters into each of its output sections, so a pipeline
// with 16 outputs and 32 throttle filters starts 512 threads (measured on Fluent Bit
// 5.1.1: one thread and no open file each). Threads count against the pod's process
// limit, which kubelet's podPidsLimit or CRI-O's pids_limit (1024 or 4096 where set)
// may hold low; 128 leaves most of the lower one to the engine and the workers.
const (
	defaultNamespaceFilterThreads = 32
	defaultAgentFilterThreads     = 128
)

// DefaultBudgets are the budgets of a LogAgent that sets none, and of the built-in
// default agent; the CRD schema's defaults are the same (a test keeps them in step).
func DefaultBudgets() v1.AgentBudgets {
	nsDisk, agentDisk := resource.MustParse("5Gi"), resource.MustParse("20Gi")
	return v1.AgentBudgets{
		PerNamespace: v1.NamespaceBudget{OutputSections: defaultNamespaceSections, Workers: defaultNamespaceWorkers,
			FilterThreads: defaultNamespaceFilterThreads, FilesystemBuffer: &nsDisk, PipelineConfigBytes: defaultPipelineConfigSize},
		PerAgent: v1.AgentBudget{OutputSections: defaultAgentSections, Workers: defaultAgentWorkers,
			FilterThreads: defaultAgentFilterThreads, FilesystemBuffer: &agentDisk},
	}
}

// pluginWorkers is each plugin's default number of worker threads in Fluent Bit 5.1.1,
// used when an output does not set workers (plugins not listed default to none: they
// deliver from the engine's thread).
var pluginWorkers = map[v1.OutputType]int64{
	v1.OutputCloudWatchLogs: 1, v1.OutputKinesisFirehose: 1, v1.OutputKinesisStreams: 1, v1.OutputS3: 1,
	v1.OutputElasticsearch: 2, v1.OutputSplunk: 2, v1.OutputHTTP: 2, v1.OutputForward: 2, v1.OutputStdout: 1,
}

// budgetLimits are an agent's budgets with the defaults filled in.
type budgetLimits struct {
	agent                                                string
	nsSections, nsWorkers, nsThreads, nsDisk             int64
	agentSections, agentWorkers, agentThreads, agentDisk int64
	// pipelineBytes bounds one LogPipeline's output sections (see builder.fits).
	pipelineBytes int
}

// budgetsOf fills what b leaves unset (an object the API server did not default: the
// built-in agent, or one read from a file by logplane render) from DefaultBudgets.
func budgetsOf(agent string, b v1.AgentBudgets) budgetLimits {
	def := DefaultBudgets()
	quantity := func(q, def *resource.Quantity) int64 {
		if q == nil {
			return def.Value()
		}
		return q.Value()
	}
	orDefault := func(v, def int32) int64 {
		if v <= 0 {
			return int64(def)
		}
		return int64(v)
	}
	return budgetLimits{
		agent:         agent,
		nsSections:    orDefault(b.PerNamespace.OutputSections, def.PerNamespace.OutputSections),
		nsWorkers:     orDefault(b.PerNamespace.Workers, def.PerNamespace.Workers),
		nsThreads:     orDefault(b.PerNamespace.FilterThreads, def.PerNamespace.FilterThreads),
		nsDisk:        quantity(b.PerNamespace.FilesystemBuffer, def.PerNamespace.FilesystemBuffer),
		pipelineBytes: int(orDefault(b.PerNamespace.PipelineConfigBytes, def.PerNamespace.PipelineConfigBytes)),
		agentSections: orDefault(b.PerAgent.OutputSections, def.PerAgent.OutputSections),
		agentWorkers:  orDefault(b.PerAgent.Workers, def.PerAgent.Workers),
		agentThreads:  orDefault(b.PerAgent.FilterThreads, def.PerAgent.FilterThreads),
		agentDisk:     quantity(b.PerAgent.FilesystemBuffer, def.PerAgent.FilesystemBuffer),
	}
}

// claim is what pipelines take of an agent pod.
type claim struct {
	sections, workers int64
	// threads are the threads its filters start (throttle, once per section).
	threads int64
	// disk is the buffer bytes on the node's disk that its sections may fill whatever
	// the agent does (s3 keeps its own store); diskIfFilesystem is what the others may
	// fill once the agent buffers on the filesystem (storage.total_limit_size).
	disk, diskIfFilesystem int64
}

// diskWith is the disk the claim takes when the agent buffers on the filesystem or not.
func (c claim) diskWith(filesystem bool) int64 {
	if filesystem {
		return c.disk + c.diskIfFilesystem
	}
	return c.disk
}

func (c claim) plus(d claim) claim {
	return claim{c.sections + d.sections, c.workers + d.workers, c.threads + d.threads, c.disk + d.disk, c.diskIfFilesystem + d.diskIfFilesystem}
}

// defaultBufferBytes is defaultBuffer, worked out once: most outputs have no policy.
var defaultBufferBytes = defaultBuffer.Value()

// claimOf is what p takes: an output section per output, its workers (or its plugin's
// default), and the disk buffer setDelivery bounds it to.
func claimOf(p *pipeline) claim {
	var c claim
	throttles := int64(0)
	for _, f := range p.Filters {
		if f.Type == v1.FilterThrottle {
			throttles++
		}
	}
	c.threads = throttles * int64(len(p.Outputs))
	for _, o := range p.Outputs {
		c.sections++
		if o.Spec.Workers != nil {
			c.workers += int64(*o.Spec.Workers)
		} else {
			c.workers += pluginWorkers[o.Spec.Type]
		}
		buffer := defaultBufferBytes
		if o.Policy != nil {
			d := deliveryOf(o.Policy)
			buffer = d.buffer.Value()
		}
		if _, own := ownDiskBuffer[o.Spec.Type]; own {
			c.disk += buffer
		} else {
			c.diskIfFilesystem += buffer
		}
	}
	return c
}

// withinBudgets admits pipelines oldest first (creationTimestamp, then kind, namespace
// and name), each only if every budget still holds with it, and reports the rest. A
// pipeline's claim never depends on a newer one's, so a newcomer cannot push out one
// that already runs: it is refused instead. The one exception is the agent's switch to
// filesystem buffering (needsFilesystem), which makes every section claim disk; the
// pipeline that turns it on is admitted only if every namespace's disk budget still
// holds after the switch. A ClusterLogPipeline counts against the agent's budget only.
// Pipelines whose selector matches no namespace yet count too, so that a namespace
// appearing later cannot make an older pipeline push out a newer one.
func withinBudgets(pipelines []*pipeline, lim budgetLimits) ([]*pipeline, []Problem) {
	order := slices.Clone(pipelines)
	slices.SortStableFunc(order, func(a, b *pipeline) int {
		return cmp.Or(a.Created.Compare(b.Created.Time), compareRefs(a.Ref, b.Ref))
	})
	var agent claim
	namespaces := map[string]claim{}
	filesystem := false
	refused := map[*pipeline]bool{}
	var probs []Problem
	for _, p := range order {
		c := claimOf(p)
		fs := filesystem || pipelineNeedsFilesystem(p)
		why := overBudget(p, c, agent, namespaces, fs, fs != filesystem, lim)
		if why != nil {
			refused[p] = true
			probs = append(probs, *why)
			continue
		}
		agent, filesystem = agent.plus(c), fs
		if p.Ref.Namespace != "" {
			namespaces[p.Ref.Namespace] = namespaces[p.Ref.Namespace].plus(c)
		}
	}
	if len(refused) == 0 {
		return pipelines, nil
	}
	kept := make([]*pipeline, 0, len(pipelines)-len(refused))
	for _, p := range pipelines {
		if !refused[p] {
			kept = append(kept, p)
		}
	}
	return kept, probs
}

// overBudget is the first budget p's claim c would break, checked namespace first (the
// tenant's own share names what the tenant can change), then the agent's; nil when all
// hold. switched says admitting p turns on filesystem buffering for every section.
func overBudget(p *pipeline, c claim, agent claim, namespaces map[string]claim, fs, switched bool, lim budgetLimits) *Problem {
	over := func(what string, need, used, limit int64, field string, bytes bool) *Problem {
		if used+need <= limit {
			return nil
		}
		f := func(n int64) string { return fmt.Sprint(n) }
		if bytes {
			f = func(n int64) string { return resource.NewQuantity(n, resource.BinarySI).String() }
		}
		pr := problem(p.Ref, conditions.ReasonOverBudget, lim.agent,
			fmt.Sprintf("its %s %s would bring %s to %s", f(need), what, scopeOf(field, p), f(used+need)),
			f(limit), lim.agent, field)
		return &pr
	}
	if ns := p.Ref.Namespace; ns != "" {
		u := namespaces[ns]
		if pr := cmp.Or(
			over("output sections", c.sections, u.sections, lim.nsSections, "perNamespace.outputSections", false),
			over("output workers", c.workers, u.workers, lim.nsWorkers, "perNamespace.workers", false),
			over("filter threads", c.threads, u.threads, lim.nsThreads, "perNamespace.filterThreads", false),
			over("of filesystem buffer", c.diskWith(fs), u.diskWith(fs), lim.nsDisk, "perNamespace.filesystemBuffer", true),
		); pr != nil {
			return pr
		}
	}
	if pr := cmp.Or(
		over("output sections", c.sections, agent.sections, lim.agentSections, "perAgent.outputSections", false),
		over("output workers", c.workers, agent.workers, lim.agentWorkers, "perAgent.workers", false),
		over("filter threads", c.threads, agent.threads, lim.agentThreads, "perAgent.filterThreads", false),
		over("of filesystem buffer", c.diskWith(fs), agent.diskWith(fs), lim.agentDisk, "perAgent.filesystemBuffer", true),
	); pr != nil || !switched {
		return pr
	}
	// Every other namespace's sections start claiming disk with the switch.
	names := make([]string, 0, len(namespaces))
	for ns := range namespaces {
		names = append(names, ns)
	}
	slices.Sort(names)
	for _, ns := range names {
		if u := namespaces[ns]; ns != p.Ref.Namespace && u.diskWith(true) > lim.nsDisk {
			pr := problem(p.Ref, conditions.ReasonOverBudget, lim.agent, fmt.Sprintf(
				"its AtLeastOnce output turns on filesystem buffering for every output of the agent, which would bring namespace %s's filesystem buffer to %s",
				ns, resource.NewQuantity(u.diskWith(true), resource.BinarySI)),
				resource.NewQuantity(lim.nsDisk, resource.BinarySI).String(), lim.agent, "perNamespace.filesystemBuffer")
			return &pr
		}
	}
	return nil
}

// scopeOf names whose usage a budget field bounds.
func scopeOf(field string, p *pipeline) string {
	if p.Ref.Namespace != "" && strings.HasPrefix(field, "perNamespace") {
		return "namespace " + p.Ref.Namespace + "'s total"
	}
	return "the agent's total"
}

// usageOf is what the pipelines a configuration carries (those of pipelines whose
// Ref is in carried: within budget and fitting) claim together.
func usageOf(pipelines []*pipeline, carried []Ref) v1.BudgetUsage {
	in := make(map[Ref]bool, len(carried))
	for _, r := range carried {
		in[r] = true
	}
	var total claim
	var kept []*pipeline
	for _, p := range pipelines {
		if in[p.Ref] {
			total = total.plus(claimOf(p))
			kept = append(kept, p)
		}
	}
	return v1.BudgetUsage{
		OutputSections:   clampInt32(total.sections),
		Workers:          clampInt32(total.workers),
		FilterThreads:    clampInt32(total.threads),
		FilesystemBuffer: *resource.NewQuantity(total.diskWith(needsFilesystem(kept)), resource.BinarySI),
	}
}

func clampInt32(v int64) int32 { return int32(min(v, math.MaxInt32)) }
