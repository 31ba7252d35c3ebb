package render

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/logplane/logplane/internal/fluentbit"
	"github.com/logplane/logplane/test/fbrun"
)

// Fluent Bit 5.1.1's throttle filter starts a thread of its own per instance (a
// ticker, pthread_create in plugins/filter_throttle/throttle.c), wherever it runs:
// a tenant's throttle costs the agent of every tenant on the node a thread. This
// measures it with the processors the renderer writes (one throttle per output),
// and holds the finding: one thread per throttle, and no file descriptor.
func TestThrottleCostsAThreadEach(t *testing.T) {
	bin := fbrun.Binary(t)
	base := threadsAndFDs(t, bin, 0)
	for _, n := range []int{1, 100, 400} {
		got := threadsAndFDs(t, bin, n)
		t.Logf("%d throttles: %d threads (%+d), %d fds (%+d)", n, got[0], got[0]-base[0], got[1], got[1]-base[1])
		if got[0]-base[0] != n {
			t.Errorf("%d throttles add %d threads, want one each", n, got[0]-base[0])
		}
		if got[1] != base[1] {
			t.Errorf("%d throttles change the fds from %d to %d", n, base[1], got[1])
		}
	}
}

// threadsAndFDs starts Fluent Bit with n null outputs, each with a throttle processor,
// and counts its threads and open files once it runs.
func threadsAndFDs(t *testing.T, bin string, n int) [2]int {
	t.Helper()
	cfg := fluentbit.Config{
		Service: []fluentbit.Param{{Key: "log_level", Value: fluentbit.String("info")}},
		Inputs:  []fluentbit.Section{{Name: "dummy", Params: []fluentbit.Param{{Key: "rate", Value: fluentbit.Int(1)}}}},
	}
	// Outputs without throttles too, so that every run has the same outputs.
	for i := range max(n, 400) {
		out := fluentbit.Section{Name: "null", Match: "*"}
		if i < n {
			out.Processors = []fluentbit.Section{{Name: "throttle", Params: []fluentbit.Param{
				{Key: "rate", Value: fluentbit.Int(10)}, {Key: "window", Value: fluentbit.Int(5)}, {Key: "interval", Value: fluentbit.String("1s")}}}}
		}
		cfg.Outputs = append(cfg.Outputs, out)
	}
	main, err := cfg.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	p, err := fbrun.Pod{Binary: bin, Files: map[string][]byte{fbrun.MainConfig: main}, PrivateNetwork: true}.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := p.Stop(10 * time.Second); err != nil {
			t.Errorf("%v\n%s", err, p.Log())
		}
	}()
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(p.Log(), "[sp] stream processor started") {
		if done, _ := p.Exited(); done || time.Now().After(deadline) {
			t.Fatalf("Fluent Bit did not start:\n%s", p.Log())
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(time.Second) // workers and tickers start after the engine
	proc := fmt.Sprintf("/proc/%d", p.Pid())
	if comm, _ := os.ReadFile(proc + "/comm"); !strings.HasPrefix(string(comm), "fluent-bit") {
		t.Fatalf("process %d is %q, not Fluent Bit", p.Pid(), comm)
	}
	tasks, _ := filepath.Glob(proc + "/task/*")
	fds, _ := filepath.Glob(proc + "/fd/*")
	return [2]int{len(tasks), len(fds)}
}
