package render

import (
	"fmt"
	"strings"

	v1 "github.com/logplane/logplane/api/v1alpha1"
	"github.com/logplane/logplane/internal/fluentbit"
)

// renderDatadog writes the datadog plugin's keys. The plugin's port follows tls (443
// with it, 80 without), so no port is written.
func renderDatadog(s *fluentbit.Section, spec *v1.OutputSpec, env *outputEnv) error {
	d := spec.Datadog
	s.Set("host", fluentbit.String(cmpOr(string(d.Host), "http-intake.logs.datadoghq.com")))
	s.Set("apikey", env.secret(d.APIKey))
	s.Set("dd_service", str(d.Service))
	s.Set("dd_source", str(d.Source))
	tags := make([]string, len(d.Tags))
	for i, t := range d.Tags {
		// dd_tags is one comma-separated string: a comma would split the tag.
		if strings.Contains(string(t), ",") {
			return fmt.Errorf("datadog tag %q contains a comma", t)
		}
		tags[i] = string(t)
	}
	s.Set("dd_tags", fluentbit.String(strings.Join(tags, ",")))
	if d.MessageKey != nil {
		v, err := topLevel("messageKey", d.MessageKey)
		if err != nil {
			return err
		}
		s.Set("dd_message_key", v)
	}
	c := d.Compression
	if c == "" {
		c = v1.CompressionGzip // the API default
	}
	s.Set("compress", compression(c))
	// Fluent Bit's datadog plugin defaults to plaintext on port 80, and the API only
	// offers the HTTPS intake, so TLS is always on. With a tls block the caller writes
	// `tls: on` itself, and a key written twice is an error.
	if spec.TLS == nil {
		s.Set("tls", fluentbit.Bool(true))
	}
	return nil
}
