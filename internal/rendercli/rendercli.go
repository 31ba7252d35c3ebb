// Package rendercli is `logplane render`: render manifests offline, as the operator
// would, so that GitOps users can preview and gate a change in CI before it reaches a
// cluster. It reads files only; Secrets in the input count for which keys exist and
// what their values are fit for, and the operator's salt Secret, when given, salts the
// names of credentials as the operator does (snapshot.SaltSecretName).
package rendercli

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/logplane/logplane/internal/render"
	"github.com/logplane/logplane/internal/snapshot"
)

type fileList []string

func (f *fileList) String() string     { return strings.Join(*f, ",") }
func (f *fileList) Set(v string) error { *f = append(*f, v); return nil }

// Run executes the command and returns its exit code: 0 when everything rendered,
// 1 when any resource has a problem, 2 for bad usage or unreadable input.
func Run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("render", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var files fileList
	fs.Var(&files, "f", "manifest file or directory (repeatable, like kubectl -f)")
	out := fs.String("out", "", "write every generated file under this directory")
	agent := fs.String("agent", "default", "LogAgent whose configuration to print")
	operatorNS := fs.String("operator-namespace", "logplane-system", "namespace holding the Secrets of cluster-scoped outputs")
	defaultNS := fs.String("namespace", "default", "namespace for namespaced objects that name none")
	fs.Usage = func() {
		fmt.Fprint(stderr, "usage: logplane render -f FILE|DIR [-f ...] [--out DIR] [--agent NAME]\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if len(files) == 0 {
		fs.Usage()
		return 2
	}
	snap, err := snapshot.LoadFiles(files, *operatorNS, *defaultNS)
	if err != nil {
		fmt.Fprintln(stderr, "logplane render:", err)
		return 2
	}
	res := render.Render(snap)

	if *out != "" {
		if err := writeAll(*out, res); err != nil {
			fmt.Fprintln(stderr, "logplane render:", err)
			return 2
		}
	} else if err := printAgent(stdout, res, *agent); err != nil {
		fmt.Fprintln(stderr, "logplane render:", err)
		return 2
	}
	for _, p := range res.Problems {
		fmt.Fprintln(stderr, p)
	}
	if len(res.Problems) > 0 {
		return 1
	}
	return 0
}

func printAgent(w io.Writer, res *render.Result, name string) error {
	for _, a := range res.Agents {
		if a.Agent != name {
			continue
		}
		for i, f := range a.Files {
			if len(a.Files) > 1 {
				if i > 0 {
					fmt.Fprintln(w, "---")
				}
				fmt.Fprintf(w, "# %s\n", f.Name)
			}
			if _, err := w.Write(f.Content); err != nil {
				return err
			}
		}
		return nil
	}
	return fmt.Errorf("no LogAgent %q in the input", name)
}

// writeAll writes exactly the files that would be mounted:
// DIR/agents/<agent>/, DIR/events/, DIR/sidecars/<namespace>/<pipeline>/.
func writeAll(dir string, res *render.Result) error {
	write := func(sub string, c render.Config) error {
		d := filepath.Join(dir, sub)
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
		for _, f := range c.Files {
			if err := os.WriteFile(filepath.Join(d, f.Name), f.Content, 0o644); err != nil {
				return err
			}
		}
		return nil
	}
	for _, a := range res.Agents {
		if err := write(filepath.Join("agents", a.Agent), a.Config); err != nil {
			return err
		}
	}
	if res.Events != nil {
		if err := write("events", *res.Events); err != nil {
			return err
		}
	}
	for _, s := range res.Sidecars {
		if err := write(filepath.Join("sidecars", s.Pipeline.Namespace, s.Pipeline.Name), s.Config); err != nil {
			return err
		}
	}
	return nil
}
