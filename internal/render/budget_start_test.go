package render

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/logplane/logplane/api/v1alpha1"
	"github.com/logplane/logplane/internal/alias"
	"github.com/logplane/logplane/internal/conditions"
	"github.com/logplane/logplane/internal/snapshot"
	"github.com/logplane/logplane/test/fbrun"
	"github.com/logplane/logplane/test/testcerts"
)

// containerdOpenFiles is the soft RLIMIT_NOFILE a container gets from containerd 2.x
// (its service no longer sets LimitNOFILE, so systemd's 1024:524288 applies), which
// Fluent Bit never raises: the limit the default budgets are made for, so that they
// hold also where the hard limit is 1024 and fbexec has nothing to raise.
const containerdOpenFiles = 1024

// openFiles is the RLIMIT_NOFILE an agent runs under and how it starts.
type openFiles struct {
	soft, hard int
	// fbexec starts Fluent Bit as the agent pod does, through fbexec, which raises
	// the soft limit to the hard one.
	fbexec bool
}

// bare is a container runtime's soft and hard limit of 1024, Fluent Bit started
// directly.
var bare = openFiles{soft: containerdOpenFiles, hard: containerdOpenFiles}

// asPod is containerd 2.x's 1024 soft and 524288 hard (or this machine's hard limit,
// when lower: raising it needs CAP_SYS_RESOURCE) with Fluent Bit started as the
// agent pod starts it.
func asPod(t *testing.T) openFiles {
	t.Helper()
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		t.Fatal(err)
	}
	return openFiles{soft: containerdOpenFiles, hard: int(min(l.Max, 524288)), fbexec: true}
}

// tenants adds to s one namespace per tenant, each with a LogPipeline of outputs
// http LogOutputs with workers threads each (or, with workers 0, loki LogOutputs, whose
// plugin delivers from the engine's thread), created at created.
func tenants(s *snapshot.Snapshot, prefix string, n, outputs int, workers int32, created time.Time) {
	for i := range n {
		ns := fmt.Sprintf("%s-%02d", prefix, i)
		s.Namespaces = append(s.Namespaces, snapshot.Namespace{Name: ns})
		var refs []v1.ResourceName
		for o := range outputs {
			name := fmt.Sprintf("out-%02d", o)
			refs = append(refs, v1.ResourceName(name))
			spec := v1.OutputSpec{Type: v1.OutputHTTP, Workers: ptr(workers),
				HTTP: &v1.HTTPOutput{Host: v1.Host("sink." + ns + ".svc"), Port: 8080, Path: "/logs", Format: "JSONLines"}}
			if workers == 0 {
				spec = v1.OutputSpec{Type: v1.OutputLoki, Loki: &v1.LokiOutput{Host: v1.Host("loki." + ns + ".svc")}}
			}
			s.Outputs = append(s.Outputs, v1.LogOutput{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, ResourceVersion: "1"}, Spec: spec})
		}
		s.Pipelines = append(s.Pipelines, v1.LogPipeline{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "logs", ResourceVersion: "1", CreationTimestamp: metav1.NewTime(created)},
			Spec:       v1.LogPipelineSpec{Agent: v1.DefaultAgentName, Input: v1.LogPipelineInput{Containers: &v1.ContainerSelection{}}, OutputRefs: refs}})
	}
}

// issueInput is issue #18's measurement, 20 tenants each with a pipeline of 16
// outputs with workers: 16, created after three ordinary tenants (4 outputs with one
// worker each) whose pipelines already run.
func issueInput(agent *v1.LogAgent) *snapshot.Snapshot {
	s := &snapshot.Snapshot{OperatorNamespace: "logplane-system"}
	if agent != nil {
		s.Agents = []v1.LogAgent{*agent}
	}
	day := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	tenants(s, "incumbent", 3, 4, 1, day)
	tenants(s, "heavy", 20, 16, 16, day.Add(24*time.Hour))
	return s
}

// agentRun is a started agent configuration, measured and stopped.
type agentRun struct {
	errors    []string
	log       string
	openFiles int  // entries of /proc/<pid>/fd after startRun; 0 when it had exited
	threads   int  // entries of /proc/<pid>/task then
	exited    bool // before startRun was over
	rssKiB    int  // VmRSS then
	softLimit int  // Fluent Bit's soft RLIMIT_NOFILE then
}

// runAgent starts an agent configuration as its pod would, under limits, with
// logFiles empty container log files for tail to follow, and stops it after startRun.
func runAgent(t *testing.T, cfg *AgentConfig, limits openFiles, logFiles int) agentRun {
	t.Helper()
	bin := fbrun.Binary(t)
	certs, err := testcerts.New("localhost")
	if err != nil {
		t.Fatal(err)
	}
	gp := goldenPod{name: "agent", files: map[string][]byte{}, api: true}
	for _, f := range cfg.Files {
		gp.files[fbrun.ConfigDir+"/"+f.Name] = f.Content
		gp.creds += string(f.Content)
	}
	pod := gp.pod(t, bin, certs)
	pod.OpenFiles, pod.OpenFilesHard = limits.soft, limits.hard
	if limits.fbexec {
		pod.Binaries = map[string]string{"/fbexec": fbrun.FBExec(t)}
		pod.Command = []string{"/fbexec", "--", fbrun.BinaryPath}
		pod.Args = []string{"-c", fbrun.MainConfig}
	}
	for _, m := range pod.Mounts {
		if m.Path != "/var/log" {
			continue
		}
		for i := range logFiles {
			name := fmt.Sprintf("app-%d-x_team_app-%064x.log", i, i)
			if err := os.WriteFile(filepath.Join(m.HostDir, "containers", name), nil, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	proc, err := pod.Start()
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(startRun)
	var run agentRun
	if exited, _ := proc.Exited(); exited {
		run.exited = true
	} else if fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", proc.Pid())); err == nil {
		run.openFiles = len(fds)
		if tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", proc.Pid())); err == nil {
			run.threads = len(tasks)
		}
		status, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", proc.Pid()))
		if m := regexp.MustCompile(`(?m)^VmRSS:\s+(\d+) kB`).FindSubmatch(status); m != nil {
			run.rssKiB, _ = strconv.Atoi(string(m[1]))
		}
		limits, _ := os.ReadFile(fmt.Sprintf("/proc/%d/limits", proc.Pid()))
		if m := regexp.MustCompile(`(?m)^Max open files\s+(\d+)`).FindSubmatch(limits); m != nil {
			run.softLimit, _ = strconv.Atoi(string(m[1]))
		}
	}
	stopErr := proc.Stop(startGrace)
	run.log = proc.Log()
	run.errors = slices.DeleteFunc(proc.Errors(), unreachable)
	if !run.exited && stopErr != nil {
		run.errors = append(run.errors, stopErr.Error())
	}
	return run
}

// The issue's input, rendered with the default budgets, starts under the open-file
// limits a containerd 2.x node gives the agent (started as its pod starts it, and
// started directly under 1024), the incumbents flow and each heavy pipeline carries
// OverBudget; the same input with the budgets raised out of the way stops Fluent Bit
// at start with "Too many open files" under 1024.
func TestIssueInputStartsWithinDefaultBudgets(t *testing.T) {
	fbrun.Binary(t)
	res := Render(issueInput(nil))
	cfg := res.Agents[0]
	for i := range 3 {
		ref := Ref{Kind: alias.LogPipeline, Namespace: fmt.Sprintf("incumbent-%02d", i), Name: "logs"}
		if !slices.Contains(cfg.Pipelines, ref) {
			t.Errorf("%s is not rendered", ref)
		}
	}
	over := map[Ref]string{}
	for _, p := range res.Problems {
		if p.Reason == conditions.ReasonOverBudget {
			over[p.Ref] = p.Message
		}
	}
	for i := range 20 {
		ref := Ref{Kind: alias.LogPipeline, Namespace: fmt.Sprintf("heavy-%02d", i), Name: "logs"}
		msg, ok := over[ref]
		if !ok {
			t.Errorf("%s has no OverBudget problem", ref)
			continue
		}
		if !strings.Contains(msg, fmt.Sprintf("its 256 output workers would bring namespace %s's total to 256, over the budget of %d", ref.Namespace, defaultNamespaceWorkers)) ||
			!strings.Contains(msg, "spec.budgets.perNamespace.workers") {
			t.Errorf("%s: %s", ref, msg)
		}
	}
	if len(res.Problems) != 20 {
		t.Errorf("want 20 problems, got %v", res.Problems)
	}
	for _, limits := range []openFiles{asPod(t), bare} {
		run := runAgent(t, &cfg, limits, 0)
		if run.exited || len(run.errors) > 0 {
			t.Fatalf("the budgeted configuration did not run under %+v (exited %v):\n%s", limits, run.exited, run.log)
		}
		t.Logf("within the default budgets, %+v: %d pipelines, %d open files", limits, len(cfg.Pipelines), run.openFiles)
	}

	raised := raisedBudgets(v1.DefaultAgentName)
	unbudgeted := Render(issueInput(&raised))
	if len(unbudgeted.Problems) > 0 || len(unbudgeted.Agents[0].Pipelines) != 23 {
		t.Fatalf("with raised budgets: %d pipelines, problems %v", len(unbudgeted.Agents[0].Pipelines), unbudgeted.Problems)
	}
	run := runAgent(t, &unbudgeted.Agents[0], bare, 0)
	if !strings.Contains(run.log, "Too many open files") {
		t.Fatalf("without budgets the configuration did not run out of open files (exited %v, %d open):\n%s",
			run.exited, run.openFiles, tail(run.log, 20))
	}
	t.Logf("without budgets: exited %v; %s", run.exited, firstLine(run.log, "Too many open files"))
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

func firstLine(s, substr string) string {
	for line := range strings.SplitSeq(s, "\n") {
		if strings.Contains(line, substr) {
			return line
		}
	}
	return ""
}

// The figures the default budgets rest on (see budget.go), measured: an output section
// costs about 3 open files and each worker thread about 9 on Fluent Bit 5.1.1, and the
// most the default budgets admit (48 sections, 32 workers) starts under containerd's
// soft limit of 1024 with 300 container log files to follow, with room for a
// connection per section. If a Fluent Bit release costs more, this fails and the
// defaults must come down.
func TestOpenFilesPerOutputAndWorker(t *testing.T) {
	fbrun.Binary(t)
	raised := raisedBudgets(v1.DefaultAgentName)
	measure := func(namespaces, outputs int, workers int32, logFiles int, more ...func(*snapshot.Snapshot)) agentRun {
		t.Helper()
		s := &snapshot.Snapshot{OperatorNamespace: "logplane-system", Agents: []v1.LogAgent{raised}}
		tenants(s, "team", namespaces, outputs, workers, time.Time{})
		for _, f := range more {
			f(s)
		}
		res := Render(s)
		if len(res.Problems) > 0 {
			t.Fatal(res.Problems)
		}
		run := runAgent(t, &res.Agents[0], bare, logFiles)
		if run.exited || len(run.errors) > 0 || run.openFiles == 0 {
			t.Fatalf("%d×%d outputs with %d workers did not run (exited %v):\n%s", namespaces, outputs, workers, run.exited, tail(run.log, 20))
		}
		t.Logf("%d×%d outputs with %d workers each, %d log files: %d open files, %d threads", namespaces, outputs, workers, logFiles, run.openFiles, run.threads)
		return run
	}
	one := measure(1, 1, 1, 0).openFiles
	eightRun := measure(1, 8, 1, 0)
	eight := eightRun.openFiles
	eightBy4 := measure(1, 8, 4, 0).openFiles
	perWorker := float64(eightBy4-eight) / (8 * 3)
	perSectionWithWorker := float64(eight-one) / 7
	t.Logf("per worker %.1f open files, per section with one worker %.1f, the rest %d", perWorker, perSectionWithWorker, one-int(perSectionWithWorker+0.5))
	if perWorker > 10 || perSectionWithWorker > 13 {
		t.Errorf("an output worker costs %.1f open files and a section with one worker %.1f: more than the 10 and 13 the default budgets assume",
			perWorker, perSectionWithWorker)
	}
	// A throttle filter (one per pipeline at most) on the pipeline of eight outputs:
	// 8 threads, no open file.
	throttled := measure(1, 8, 1, 0, func(s *snapshot.Snapshot) {
		s.Pipelines[0].Spec.Filters = append(s.Pipelines[0].Spec.Filters,
			v1.Filter{Type: v1.FilterThrottle, Throttle: &v1.ThrottleFilter{Records: 100, Interval: "1s"}})
	})
	if got := throttled.threads - eightRun.threads; got != 8 || throttled.openFiles != eightRun.openFiles {
		t.Errorf("a throttle filter × 8 outputs: %d more threads (want 8), %d more open files (want 0)",
			got, throttled.openFiles-eightRun.openFiles)
	}
	// 32 sections with a worker each and 16 without: 48 sections, 32 workers.
	most := measure(4, 8, 1, 300, func(s *snapshot.Snapshot) { tenants(s, "loki", 2, 8, 0, time.Time{}) })
	if headroom := containerdOpenFiles - most.openFiles; headroom < 2*defaultAgentSections {
		t.Errorf("the most the default budgets admit leaves %d of %d open files for connections and more log files", headroom, containerdOpenFiles)
	}
}

// Three times the default agent budgets (144 sections, 96 workers) need more than
// 1024 open files; started as the agent pod starts it (fbexec raises the soft limit
// to the hard one) under containerd 2.x's limits, Fluent Bit runs them. The figures
// are logged for docs/limits.md.
func TestThreeTimesTheDefaultBudgetsStartThroughFBExec(t *testing.T) {
	fbrun.Binary(t)
	s := &snapshot.Snapshot{OperatorNamespace: "logplane-system", Agents: []v1.LogAgent{raisedBudgets(v1.DefaultAgentName)}}
	// 96 sections with a worker each and 48 without.
	tenants(s, "team", 12, 8, 1, time.Time{})
	tenants(s, "loki", 6, 8, 0, time.Time{})
	res := Render(s)
	if len(res.Problems) > 0 {
		t.Fatal(res.Problems)
	}
	limits := asPod(t)
	run := runAgent(t, &res.Agents[0], limits, 300)
	if run.exited || len(run.errors) > 0 || run.openFiles == 0 {
		t.Fatalf("did not run under %+v (exited %v):\n%s", limits, run.exited, tail(run.log, 20))
	}
	t.Logf("144 sections, 96 workers, 300 log files, %+v: %d open files, %d threads, %d MiB resident, soft limit %d",
		limits, run.openFiles, run.threads, run.rssKiB>>10, run.softLimit)
	if run.softLimit != limits.hard {
		t.Errorf("Fluent Bit's soft limit is %d, want the hard %d", run.softLimit, limits.hard)
	}
	if run.openFiles <= containerdOpenFiles {
		t.Errorf("%d open files: no more than containerd's soft limit, so this proves nothing about fbexec", run.openFiles)
	}
	if bare := runAgent(t, &res.Agents[0], bare, 300); !bare.exited && !strings.Contains(bare.log, "Too many open files") {
		t.Errorf("under 1024 started directly it ran (%d open files): the input must need more", bare.openFiles)
	}
}
