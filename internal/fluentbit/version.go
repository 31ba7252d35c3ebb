// Package fluentbit builds Fluent Bit configuration files in the YAML format from typed
// sections. It knows Fluent Bit's syntax, not logplane's API: the renderer decides what
// goes in, this package decides how it is written so that no value can change the
// structure of the file.
package fluentbit

// Version is the Fluent Bit release that logplane renders for, tests against and
// deploys by default. Change it here only.
const Version = "5.1.1"

// Image is the default agent and sidecar image.
const Image = "cr.fluentbit.io/fluent/fluent-bit:" + Version
