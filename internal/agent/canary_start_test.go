package agent_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	v1 "github.com/logplane/logplane/api/v1alpha1"
	"github.com/logplane/logplane/internal/agent"
	"github.com/logplane/logplane/internal/canary"
	"github.com/logplane/logplane/internal/render"
	"github.com/logplane/logplane/internal/snapshot"
	"github.com/logplane/logplane/test/fbrun"
	"github.com/logplane/logplane/test/localnode"
	"github.com/logplane/logplane/test/testcerts"
)

// The canary pod, run as a kubelet would run it with the real Fluent Bit (empty
// volumes, no service account token, a network of its own), becomes ready on the
// sample configuration and is judged Passed; with a ClusterLogOutput whose
// rawParameters the checks admit but Fluent Bit refuses at plugin initialisation
// (http proxy "bogus", which is no URL), it ends, and the verdict carries Fluent Bit's
// own error line naming the output's alias. The node gives containers
// containerd 2.x's open-files limits (1024 soft, 524288 hard, or this machine's
// lower hard limit), and the pod's init container and fbexec start Fluent Bit with
// the soft limit raised to the hard one.
func TestCanaryRunsTheRealFluentBit(t *testing.T) {
	bin := fbrun.Binary(t)
	if err := fbrun.CanIsolate(); err != nil {
		t.Fatal(err)
	}
	soft, hard := localnode.ContainerdOpenFiles()
	certs, err := testcerts.New("collector")
	if err != nil {
		t.Fatal(err)
	}
	bad := func(s *snapshot.Snapshot) {
		s.ClusterOutputs = append(s.ClusterOutputs, v1.ClusterLogOutput{ObjectMeta: metav1.ObjectMeta{Name: "bad-http"},
			Spec: v1.ClusterLogOutputSpec{OutputSpec: v1.OutputSpec{Type: v1.OutputHTTP, HTTP: &v1.HTTPOutput{Host: "collector", Port: 80}},
				RawParameters: []v1.RawParameter{{Key: "proxy", Value: "bogus"}}}})
		cp := *s.ClusterPipelines[0].DeepCopy()
		cp.Name = "uses-bad-http"
		cp.Spec.ClusterOutputRefs = []v1.ResourceName{"bad-http"}
		s.ClusterPipelines = append(s.ClusterPipelines, cp)
	}
	for _, tc := range []struct {
		name string
		edit func(*snapshot.Snapshot)
		want canary.Outcome
		// message must contain these.
		message []string
	}{
		{name: "sample configuration", want: canary.Passed},
		// What a Secret holds is loaded at start too: the sample's TLS CA without a
		// real certificate in it.
		{name: "a CA file that holds no certificate", want: canary.Refused, message: []string{"error initializing TLS context"}},
		{name: "rawParameters Fluent Bit refuses", edit: bad, want: canary.Refused,
			message: []string{"[output:http:lp_", "could not parse proxy parameter: 'bogus'", "failed to initialize 'http' plugin"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := agent.SampleInputWith(t, tc.edit)
			if tc.name != "a CA file that holds no certificate" {
				for _, f := range in.Config.SecretFiles {
					in.SecretValues[f.Source] = certs.CA
				}
			}
			objs := agent.BuildCanary(in)
			scheme := runtime.NewScheme()
			if err := clientgoscheme.AddToScheme(scheme); err != nil {
				t.Fatal(err)
			}
			var init []client.Object
			for _, s := range append(objs.ConfigSecrets, objs.CredentialsSecrets...) {
				init = append(init, s)
			}
			pod := objs.Pod.DeepCopy()
			pod.CreationTimestamp = metav1.NewTime(time.Now())
			init = append(init, pod)
			c := fake.NewClientBuilder().WithScheme(scheme).WithObjects(init...).WithStatusSubresource(&corev1.Pod{}).Build()
			node, err := localnode.New("canary-test", localnode.Kubelet{Client: c, Binary: bin, Root: t.TempDir(),
				OpenFiles: soft, OpenFilesHard: hard}, "127.0.0.1")
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			start := time.Now()
			run, err := node.RunPod(ctx, pod)
			if err != nil {
				t.Fatal(err)
			}
			defer run.Stop()
			timing := canary.Timing{Settle: 2 * time.Second, Ready: 20 * time.Second, Start: 20 * time.Second}
			var v canary.Verdict
			for v.Outcome == canary.Pending {
				time.Sleep(100 * time.Millisecond)
				var cur corev1.Pod
				if err := c.Get(ctx, client.ObjectKeyFromObject(pod), &cur); err != nil {
					t.Fatal(err)
				}
				v = canary.Judge(&cur, render.AgentContainerName, time.Now(), timing)
				if ctx.Err() != nil {
					t.Fatal("no verdict within a minute")
				}
			}
			t.Logf("verdict %v after %s (%d readiness probes, %s of CPU): %s", v.Outcome, time.Since(start).Round(time.Millisecond), run.Probes,
				cpuTime(run.Proc.Pid()), v.Message)
			if v.Outcome != tc.want {
				t.Fatalf("verdict = %v %q, want %v; log:\n%s", v.Outcome, v.Message, tc.want, run.Proc.Log())
			}
			if v.Outcome == canary.Passed {
				limits, err := os.ReadFile(fmt.Sprintf("/proc/%d/limits", run.Proc.Pid()))
				if err != nil {
					t.Fatal(err)
				}
				want := regexp.MustCompile(fmt.Sprintf(`(?m)^Max open files\s+%d\s+%d\s`, hard, hard))
				if !want.Match(limits) || !strings.Contains(run.Proc.Log(), fmt.Sprintf("fbexec: open files limit %d", hard)) {
					t.Errorf("Fluent Bit does not run with %d open files:\n%s\nlog:\n%s", hard, limits, run.Proc.Log())
				}
			}
			for _, m := range tc.message {
				if !strings.Contains(v.Message, m) {
					t.Errorf("message %q lacks %q", v.Message, m)
				}
			}
		})
	}
}

// cpuTime is the CPU a process has used so far (user and system), for the canary's
// cost in the test log; "unknown" once it has exited. /proc counts it in USER_HZ
// ticks, 100 per second on Linux whatever the kernel's own tick rate.
func cpuTime(pid int) string {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return "unknown"
	}
	// Fields after the command name, which is in parentheses and may hold spaces:
	// utime and stime are the 12th and 13th.
	fields := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
	if len(fields) < 13 {
		return "unknown"
	}
	utime, _ := strconv.Atoi(fields[11])
	stime, _ := strconv.Atoi(fields[12])
	return (time.Duration(utime+stime) * 10 * time.Millisecond).String()
}
