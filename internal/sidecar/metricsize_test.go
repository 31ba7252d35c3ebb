package sidecar

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"path"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/logplane/logplane/api/v1alpha1"
	"github.com/logplane/logplane/internal/flow"
	"github.com/logplane/logplane/internal/render"
	"github.com/logplane/logplane/internal/snapshot"
	"github.com/logplane/logplane/test/fbrun"
)

// The scraper cuts a sidecar's metrics at flow.SidecarMaxExposition. The largest
// sidecar configuration one pipeline renders to (names at the API's limits, 16
// outputs and 16 cluster outputs), run by the real Fluent Bit, exposes a fraction of
// it: the limit holds several such pipelines in one pod (211 KB each, measured: five),
// while a tenant's oversized answer is cut.
func TestLargestSidecarMetricsFitTheScrapeLimit(t *testing.T) {
	bin := fbrun.Binary(t)
	long := func(prefix string, n int) string { return prefix + strings.Repeat("x", n-len(prefix)) }
	ns := long("team-", 63)
	s := &snapshot.Snapshot{OperatorNamespace: "logplane-system", Namespaces: []snapshot.Namespace{{Name: ns, Labels: map[string]string{"logs": "yes"}}}}
	p := v1.LogPipeline{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: long("files-", 240)}, Spec: v1.LogPipelineSpec{
		Input: v1.LogPipelineInput{Files: &v1.FileInput{Paths: []v1.LogFilePath{"/var/log/app/app.log"}}}}}
	stdout := v1.OutputSpec{Type: v1.OutputStdout, Stdout: &v1.StdoutOutput{}}
	for i := range 16 {
		name := long(fmt.Sprintf("out-%02d-", i), 253)
		s.Outputs = append(s.Outputs, v1.LogOutput{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Spec: stdout})
		p.Spec.OutputRefs = append(p.Spec.OutputRefs, v1.ResourceName(name))
		cname := long(fmt.Sprintf("cluster-%02d-", i), 253)
		s.ClusterOutputs = append(s.ClusterOutputs, v1.ClusterLogOutput{ObjectMeta: metav1.ObjectMeta{Name: cname},
			Spec: v1.ClusterLogOutputSpec{OutputSpec: stdout, AllowedNamespaces: &metav1.LabelSelector{MatchLabels: map[string]string{"logs": "yes"}}}})
		p.Spec.ClusterOutputRefs = append(p.Spec.ClusterOutputRefs, v1.ResourceName(cname))
	}
	s.Pipelines = []v1.LogPipeline{p}
	res := render.Render(s)
	if len(res.Problems) > 0 || len(res.Sidecars) != 1 {
		t.Fatalf("problems %v, %d sidecars", res.Problems, len(res.Sidecars))
	}

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	_ = l.Close()
	main, err := render.SidecarMain([]string{path.Join(pipelinesDir, "p", res.Sidecars[0].Files[0].Name)})
	if err != nil {
		t.Fatal(err)
	}
	// Its own port: tests run side by side on one machine.
	main = []byte(strings.Replace(string(main), fmt.Sprint(render.SidecarMetricsPort), fmt.Sprint(port), 1))
	proc, err := fbrun.Pod{Binary: bin, Files: map[string][]byte{
		fbrun.MainConfig: main,
		path.Join(configDir, pipelinesDir, "p", res.Sidecars[0].Files[0].Name): res.Sidecars[0].Files[0].Content,
	}, Mounts: []fbrun.Mount{{Path: render.SidecarDataDir}, {Path: "/var/log/app", ReadOnly: true}}}.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = proc.Stop(5 * time.Second) })

	var size int
	deadline := time.Now().Add(15 * time.Second)
	for ; time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d%s", port, flow.MetricsPath))
		if err != nil {
			continue
		}
		body, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode == http.StatusOK && strings.Contains(string(body), "fluentbit_output_proc_records_total") {
			size = len(body)
			break
		}
	}
	if size == 0 {
		t.Fatalf("no metrics from the sidecar\n%s", proc.Log())
	}
	t.Logf("one pipeline at the API's limits (32 outputs, 253-character names) exposes %d bytes; the limit is %d (%.1f×)",
		size, flow.SidecarMaxExposition, float64(flow.SidecarMaxExposition)/float64(size))
	if size*4 > flow.SidecarMaxExposition {
		t.Errorf("%d bytes: the limit holds fewer than four such pipelines", size)
	}
}
