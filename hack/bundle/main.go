// Command bundle writes the OLM bundle (bundle/, bundle.Dockerfile) from the kustomize
// install (config/default), the samples, the CSV base in config/manifests and the Go
// constants of the images. operator-sdk cannot be built here, so this is the small part
// of `operator-sdk generate bundle` that logplane needs. Run it with `make bundle`.
//
// The output is a function of its inputs and flags only: no clock, no map order.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
)

func main() {
	opts := Options{}
	flag.StringVar(&opts.Root, "root", ".", "repository root")
	flag.StringVar(&opts.Version, "version", "", "operator version without a leading v, e.g. 0.1.0 (required)")
	flag.StringVar(&opts.Image, "image", "", "operator image (default ghcr.io/logplane/logplane:v<version>)")
	flag.StringVar(&opts.Channels, "channels", "candidate", "comma-separated OLM channels")
	flag.StringVar(&opts.DefaultChannel, "default-channel", "candidate", "default OLM channel")
	flag.StringVar(&opts.CreatedAt, "created-at", "", "value of the CSV's createdAt annotation; empty keeps the base's (never the clock, so the output is reproducible)")
	flag.StringVar(&opts.InstallDir, "install", "config/default", "kustomization the CSV's deployment, permissions and webhooks come from, relative to -root")
	out := flag.String("out", ".", "directory to write bundle/ and bundle.Dockerfile into")
	flag.Parse()
	if opts.Image == "" && opts.Version != "" {
		opts.Image = "ghcr.io/logplane/logplane:v" + opts.Version
	}

	files, notes, err := Generate(opts)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bundle:", err)
		os.Exit(1)
	}
	for _, n := range notes {
		fmt.Fprintln(os.Stderr, "bundle: note:", n)
	}
	if err := Write(filepath.Clean(*out), files); err != nil {
		fmt.Fprintln(os.Stderr, "bundle:", err)
		os.Exit(1)
	}
}
