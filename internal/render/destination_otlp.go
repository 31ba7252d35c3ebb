package render

import (
	v1 "github.com/logplane/logplane/api/v1alpha1"
	"github.com/logplane/logplane/internal/fluentbit"
)

// renderOTLP writes the opentelemetry plugin's keys, for logs only (no metrics_uri or
// traces_uri: pipelines carry logs).
func renderOTLP(s *fluentbit.Section, spec *v1.OutputSpec, env *outputEnv) error {
	o := spec.OTLP
	// Fluent Bit's default port is 80; unset means OTLP's standard port instead.
	port := o.Port
	if port == 0 {
		port = 4318
		if o.Protocol == "GRPC" {
			port = 4317
		}
	}
	setHostPort(s, o.Host, port)
	if o.Protocol == "GRPC" {
		// gRPC uses its own method path (grpc_logs_uri default); logsPath is for HTTP.
		s.Set("grpc", fluentbit.Bool(true))
	} else {
		s.Set("logs_uri", fluentbit.String(string(o.LogsPath)))
	}
	s.Set("header", fluentbit.ValueList(headers(o.Headers, env)...))
	s.Set("compress", compression(o.Compression))
	return nil
}
