// Command logplane is the operator binary. Its subcommands share one image:
//
//	logplane manager   run the controllers (the Deployment's entry point)
//	logplane render    render manifests to Fluent Bit configuration, offline
//	logplane reloader  hot-reload Fluent Bit when its configuration changes (agent pods)
//	logplane version   print the build version
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"time"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/logplane/logplane/internal/manager"
	"github.com/logplane/logplane/internal/reloader"
	"github.com/logplane/logplane/internal/rendercli"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	switch args[0] {
	case "manager":
		return runManager(args[1:], stderr)
	case "render":
		return rendercli.Run(args[1:], stdout, stderr)
	case "reloader":
		return runReloader(args[1:], stderr)
	case "version":
		fmt.Fprintln(stdout, version)
		return 0
	case "-h", "--help", "help":
		usage(stdout)
		return 0
	default:
		fmt.Fprintf(stderr, "logplane: unknown command %q\n", args[0])
		usage(stderr)
		return 2
	}
}

func usage(w io.Writer) {
	fmt.Fprint(w, `usage: logplane <command> [flags]

commands:
  manager   run the operator's controllers
  render    render manifests (-f FILE|DIR) to Fluent Bit configuration, offline
  reloader  hot-reload Fluent Bit when its mounted configuration changes
  version   print the version
`)
}

func runManager(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("manager", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var opts manager.Options
	opts.BindFlags(fs)
	zapOpts := zap.Options{}
	zapOpts.BindFlags(fs)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	log := zap.New(zap.UseFlagOptions(&zapOpts))
	ctrl.SetLogger(log)

	cfg, err := ctrl.GetConfig()
	if err != nil {
		log.Error(err, "failed to load kubeconfig")
		return 1
	}
	if err := manager.Run(ctrl.SetupSignalHandler(), cfg, opts, log.WithValues("version", version)); err != nil {
		log.Error(err, "manager stopped")
		return 1
	}
	return 0
}

func runReloader(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("reloader", flag.ContinueOnError)
	fs.SetOutput(stderr)
	opts := reloader.Options{}
	fs.StringVar(&opts.SourceDir, "config-dir", "/fluent-bit/etc", "mounted configuration Secret directory")
	fs.StringVar(&opts.RunDir, "run-dir", "/fluent-bit/run", "writable directory Fluent Bit reads its configuration from (its etc/ subdirectory)")
	url := fs.String("fluent-bit-url", "http://127.0.0.1:2020", "Fluent Bit's HTTP server")
	mainFile := fs.String("main-file", "fluent-bit.yaml", "the configuration file Fluent Bit is started with, in the run directory's etc/")
	fs.DurationVar(&opts.Debounce, "debounce", 5*time.Second, "quiet time after the last change before reloading")
	fs.DurationVar(&opts.Timeout, "timeout", 90*time.Second, "longest a reload, or a start of Fluent Bit, may take")
	fs.DurationVar(&opts.Settle, "settle", 3*time.Second, "how long Fluent Bit must keep running a new configuration before it counts as applied")
	fs.StringVar(&opts.StateDir, "state-dir", "", "directory of the node (hostPath) where a refusal and the configuration that ran instead outlive the pod; empty keeps none")
	process := fs.String("process", "fluent-bit", "name of the Fluent Bit process")
	statusAddr := fs.String("status-address", ":2021", "address of the status endpoint the operator and the probes read")
	zapOpts := zap.Options{}
	zapOpts.BindFlags(fs)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	log := zap.New(zap.UseFlagOptions(&zapOpts))
	fb := reloader.Process{URL: *url, Name: *process, Config: filepath.Join(reloader.ConfigDir(opts.RunDir), *mainFile), Proc: "/proc",
		Client: &http.Client{Timeout: 2 * time.Second}}
	r := reloader.New(opts, fb, log)
	srv := &http.Server{Addr: *statusAddr, Handler: r.Handler(), ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error(err, "status endpoint stopped")
		}
	}()
	defer srv.Close()
	if err := r.Run(ctrl.SetupSignalHandler()); err != nil {
		log.Error(err, "reloader stopped")
		return 1
	}
	return 0
}
