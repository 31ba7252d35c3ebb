package sidecar

import (
	"errors"
	"path"
	"strings"
	"testing"
	"time"

	"github.com/logplane/logplane/internal/render"
	"github.com/logplane/logplane/test/fbrun"
)

// A sidecar whose configuration Fluent Bit refuses keeps its container running, so the
// kubelet starts the app's containers after it, and still stops cleanly on SIGTERM.
// Run with the injected container's own arguments and main file.
func TestRefusedSidecarKeepsRunningSoTheAppStarts(t *testing.T) {
	bin := fbrun.Binary(t)
	out, res := Mutate(appPod(), "billing", []Pipeline{filesPipeline("audit", "", "/var/log/app/audit.log")}, native)
	if len(res.Injected) != 1 {
		t.Fatalf("not injected: %+v", res)
	}
	c := out.Spec.InitContainers[len(out.Spec.InitContainers)-1]
	// Refused at start: a tail database in a directory nobody creates.
	refused := `pipeline:
  inputs:
    - name: tail
      path: /var/log/app/audit.log
      db: /var/fluent-bit/missing/audit.db
  outputs:
    - name: "null"
      match: "*"
`
	p, err := fbrun.Pod{Binary: bin, Args: c.Args, User: int(*c.SecurityContext.RunAsUser), PrivateNetwork: true,
		Files: map[string][]byte{
			path.Join(configDir, render.MainFile):                        []byte(out.Annotations[AnnotationConfig]),
			path.Join(configDir, pipelinesDir, "audit", render.MainFile): []byte(refused),
		},
		Mounts: []fbrun.Mount{{Path: render.SidecarDataDir}, {Path: "/var/log/app", ReadOnly: true}},
	}.Start()
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(7 * time.Second)
	if done, err := p.Exited(); done {
		t.Fatalf("the sidecar's process exited (%v): a native sidecar that is not running holds the app back\n%s", err, p.Log())
	}
	if n := strings.Count(p.Log(), "cannot open database /var/fluent-bit/missing/audit.db"); n < 2 {
		t.Errorf("Fluent Bit was not restarted after it refused its configuration (%d attempts)\n%s", n, p.Log())
	}
	// The supervisor exits with its last child's status; only the timing matters here.
	if err := p.Stop(10 * time.Second); errors.Is(err, fbrun.ErrNotStopped) {
		t.Errorf("%v\n%s", err, p.Log())
	}
}
