// Package crd carries the CustomResourceDefinitions that `make manifests` writes to
// bases/, so that the binary holds the very schemas the API server serves: `logplane
// render` defaults and prunes objects with them as the API server does. It lives next
// to the files because go:embed cannot reach a parent directory.
package crd

import "embed"

// Bases holds bases/*.yaml, one CustomResourceDefinition per file.
//
//go:embed bases/*.yaml
var Bases embed.FS
