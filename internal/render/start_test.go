package render

import (
	"maps"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/logplane/logplane/test/testcerts"

	v1 "github.com/logplane/logplane/api/v1alpha1"
	"github.com/logplane/logplane/internal/alias"
	"github.com/logplane/logplane/test/fbrun"
)

// How long a started configuration must run without an [error] line, and how long
// Fluent Bit may take to stop on SIGTERM (its grace is 5 s; nothing is pending here).
const (
	startRun   = 3 * time.Second
	startGrace = 10 * time.Second
)

// Every golden configuration is started by the real Fluent Bit as a pod would run it
// (the same paths, an empty data directory, a read-only root, the credentials it names
// mounted and set), runs for a few seconds without logging an [error], and stops
// cleanly on SIGTERM. --dry-run never initialises a plugin (databases, regexes,
// record accessors, emitters, TLS files), so only starting proves a configuration.
// Each pod has a network of its own: nothing it tries to reach answers.
//
// Configurations that read the API server (the kubernetes filter, the events input)
// ask it at start, and can only fail to reach it here; test/e2e starts the same files
// against a real one (TestGoldensReadingTheAPIServerStart).
func TestGoldensStart(t *testing.T) {
	bin := fbrun.Binary(t)
	pods := goldenPods(t)
	if len(pods) < 40 {
		t.Fatalf("found only %d golden configurations", len(pods))
	}
	startAll(t, bin, pods)
}

// goldenPod is a golden configuration with what its pod would carry.
type goldenPod struct {
	name  string
	files map[string][]byte // pod path → content: configuration files
	creds string            // the credential lines that describe its env vars and files
	// api says the configuration talks to the API server.
	api bool
	// sidecar pods run as nobody, with the directories of the files they tail shared.
	sidecar bool
}

// goldenPods finds every golden configuration: destinations, filters, the samples'
// agent, events collector and sidecar, and the sidecar's main file with two
// pipelines' fragments.
func goldenPods(t *testing.T) []goldenPod {
	t.Helper()
	var pods []goldenPod
	add := func(name, file, creds string) {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		pods = append(pods, goldenPod{name: name, files: map[string][]byte{fbrun.MainConfig: data}, creds: creds + string(data),
			api: fbrun.ReadsAPIServer(data)})
	}
	for _, pattern := range []string{"testdata/destinations/*.yaml", "testdata/filters/*.yaml"} {
		files, err := filepath.Glob(pattern)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			add(strings.TrimSuffix(f, ".yaml"), f, "")
		}
	}
	dirs, err := filepath.Glob("testdata/samples/*")
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]bool{}
	for _, d := range dirs {
		if info, err := os.Stat(d); err != nil || !info.IsDir() {
			continue
		}
		kinds[strings.SplitN(filepath.Base(d), "-", 2)[0]] = true
		creds, err := os.ReadFile(filepath.Join(d, "credentials.txt"))
		if err != nil {
			t.Fatal(err)
		}
		switch base := filepath.Base(d); {
		case strings.HasPrefix(base, "agent-"), base == "events":
			add(d, filepath.Join(d, MainFile), string(creds))
		case strings.HasPrefix(base, "sidecar-"):
			frag, err := os.ReadFile(filepath.Join(d, MainFile))
			if err != nil {
				t.Fatal(err)
			}
			main, err := SidecarMain([]string{"pipelines/p/" + MainFile})
			if err != nil {
				t.Fatal(err)
			}
			pods = append(pods, goldenPod{name: d, sidecar: true, creds: string(creds) + string(frag), files: map[string][]byte{
				fbrun.MainConfig: main, fbrun.ConfigDir + "/pipelines/p/" + MainFile: frag}})
		}
	}
	if !kinds["agent"] || !kinds["events"] || !kinds["sidecar"] {
		t.Fatalf("the samples' goldens lack an agent, events or sidecar configuration: %v", kinds)
	}
	pods = append(pods, sidecarMainPod(t))
	return pods
}

// sidecarMainPod is testdata/sidecar-main.yaml with the fragments of two pipelines of
// one namespace, both joining Java stack traces: one sidecar process runs both.
func sidecarMainPod(t *testing.T) goldenPod {
	t.Helper()
	main, err := os.ReadFile("testdata/sidecar-main.yaml")
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{fbrun.MainConfig: main}
	for _, name := range []string{"a", "b"} {
		p := &pipeline{Ref: Ref{Kind: alias.LogPipeline, Namespace: "team-a", Name: name},
			Files:   &v1.FileInput{Paths: []v1.LogFilePath{v1.LogFilePath("/var/log/" + name + "/*.log")}},
			Filters: []v1.Filter{{Type: v1.FilterMultiline, Multiline: &v1.MultilineFilter{Parser: "java", Field: "log"}}},
			Outputs: []*output{{Ref: Ref{Kind: alias.LogOutput, Namespace: "team-a", Name: "out"}, SecretNamespace: "team-a",
				Spec: &v1.OutputSpec{Type: v1.OutputStdout, Stdout: &v1.StdoutOutput{Format: "JSONLines"}}}},
		}
		cfg, probs := renderSidecar(p)
		if len(probs) > 0 || cfg == nil {
			t.Fatalf("sidecar %s: %v", name, probs)
		}
		for _, f := range cfg.Files {
			files[path.Join(fbrun.ConfigDir, "pipelines", name, f.Name)] = f.Content
		}
	}
	return goldenPod{name: "testdata/sidecar-main", files: files, sidecar: true}
}

// startAll starts every pod at once (they wait on timers, not CPU), lets them run,
// then checks each as a subtest.
func startAll(t *testing.T, bin string, pods []goldenPod) {
	t.Helper()
	certs, err := testcerts.New("localhost")
	if err != nil {
		t.Fatal(err)
	}
	type started struct {
		proc *fbrun.Process
		err  error
	}
	procs := make([]started, len(pods))
	for i, gp := range pods {
		procs[i].proc, procs[i].err = gp.pod(t, bin, certs).Start()
	}
	time.Sleep(startRun)
	stopped := make([]error, len(pods))
	var wg sync.WaitGroup
	for i := range procs {
		if procs[i].err == nil {
			wg.Go(func() { stopped[i] = procs[i].proc.Stop(startGrace) })
		}
	}
	wg.Wait()
	for i, gp := range pods {
		t.Run(gp.name, func(t *testing.T) {
			p := procs[i]
			if p.err != nil {
				t.Fatal(p.err)
			}
			errs := slices.DeleteFunc(p.proc.Errors(), unreachable)
			if why, ok := cannotStartHere(errs); ok {
				t.Logf("starting is impossible with this binary (%s); --dry-run instead", why)
				dryRun(t, bin, gp)
				return
			}
			if len(errs) > 0 {
				t.Errorf("Fluent Bit logged errors:\n%s", strings.Join(errs, "\n"))
			}
			if stopped[i] != nil {
				t.Errorf("%v\n%s", stopped[i], p.proc.Log())
			}
		})
	}
}

// unreachable is an error that only says a service outside the pod cannot be reached,
// which is all any can be here. Three things connect at start (the outputs connect
// when a record is due): Kafka's client; AWS outputs without their own keys, whose
// credential chain ends at the node's instance metadata service; and the kubernetes
// filter and events input, which ask the API server (test/e2e starts those same
// configurations against a real one: TestGoldensReadingTheAPIServerStart).
func unreachable(line string) bool {
	kafka := strings.Contains(line, "[output:kafka:") &&
		(strings.Contains(line, "brokers are down") || strings.Contains(line, "Connection refused") || strings.Contains(line, "Failed to resolve"))
	imds := strings.Contains(line, "[net] connection") && strings.HasSuffix(line, " to: 169.254.169.254:80")
	api := strings.HasSuffix(line, "[filter:kubernetes:kubernetes.0] kube api upstream connection error") ||
		strings.HasSuffix(line, "[input:kubernetes_events:lp_in_events] upstream connection initialization error")
	return kafka || imds || api
}

// cannotStartHere recognises a configuration the Fluent Bit under test cannot start
// because of how it was built, not because of the configuration: the workplace's
// binary was built without libsasl2, so its librdkafka lacks SCRAM, which the official
// 5.1.1 packages and images have (fluent-bit#6744).
func cannotStartHere(errs []string) (string, bool) {
	for _, e := range errs {
		if strings.Contains(e, "No provider for SASL mechanism SCRAM") && strings.Contains(e, "Current build options: PLAIN") {
			return "librdkafka built without SASL SCRAM", true
		}
	}
	return "", false
}

// dryRun checks gp's main file's keys and plugins only.
func dryRun(t *testing.T, bin string, gp goldenPod) {
	t.Helper()
	dir := t.TempDir()
	for name, data := range gp.files {
		dst := filepath.Join(dir, strings.TrimPrefix(name, fbrun.ConfigDir))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if out, err := exec.Command(bin, "--dry-run", "-c", filepath.Join(dir, MainFile)).CombinedOutput(); err != nil {
		t.Errorf("fluent-bit --dry-run: %v\n%s", err, out)
	}
}

// tailPath finds the paths a sidecar fragment tails.
var tailPath = regexp.MustCompile(`(?m)^      path: "([^"]+)"$`)

// pod mounts what the agent's pod would: the configuration, every Secret file the
// configuration names (valid certificates where Fluent Bit loads one), the AWS
// credentials file, a value for every variable, an empty data directory and an empty
// node log directory. A configuration that reads the API server gets the service
// account files and a name for it; nothing listens there, and nothing is asked while
// no record arrives.
func (gp goldenPod) pod(t *testing.T, bin string, certs testcerts.Certs) fbrun.Pod {
	logs := t.TempDir()
	for _, d := range []string{"containers", "pods", "journal"} {
		if err := os.Mkdir(filepath.Join(logs, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	p := fbrun.Pod{Binary: bin, Files: maps.Clone(gp.files), PrivateNetwork: true,
		Mounts: []fbrun.Mount{{Path: AgentDataDir}, {Path: "/var/log", HostDir: logs, ReadOnly: true}}}
	if gp.sidecar {
		// As the webhook injects it: nobody, an emptyDir for state, and the app's
		// log directories shared (emptyDirs, empty at start).
		p.User = 65534
		p.Mounts = []fbrun.Mount{{Path: SidecarDataDir}}
		seen := map[string]bool{}
		for _, f := range gp.files {
			for _, m := range tailPath.FindAllStringSubmatch(string(f), -1) {
				for _, file := range strings.Split(m[1], ",") {
					if dir := path.Dir(file); !seen[dir] {
						seen[dir] = true
						p.Mounts = append(p.Mounts, fbrun.Mount{Path: dir, ReadOnly: true})
					}
				}
			}
		}
	}
	p.StandInCredentials(gp.creds, AWSCredentialsFile, certs)
	if gp.api {
		const sa = "/var/run/secrets/kubernetes.io/serviceaccount/"
		p.Files[sa+"ca.crt"] = certs.CA
		p.Files[sa+"token"] = []byte("token")
		p.Files[sa+"namespace"] = []byte("logplane-system")
		p.Hosts = map[string]string{"kubernetes.default.svc": "127.0.0.1"}
	}
	return p
}
