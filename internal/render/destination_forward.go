package render

import (
	v1 "github.com/logplane/logplane/api/v1alpha1"
	"github.com/logplane/logplane/internal/fluentbit"
)

// renderForward writes the forward plugin's keys. With sharedKey, the secure-forward
// handshake runs on each new connection; the tls block (required by the API) encrypts it.
func renderForward(s *fluentbit.Section, spec *v1.OutputSpec, env *outputEnv) error {
	f := spec.Forward
	setHostPort(s, f.Host, f.Port)
	if f.SharedKey != nil {
		s.Set("shared_key", env.secret(*f.SharedKey))
	}
	s.Set("self_hostname", str(f.SelfHostname))
	s.Set("require_ack_response", fluentbit.Bool(f.RequireAck))
	s.Set("compress", compression(f.Compression))
	// Since Fluent Bit 5.0.5 this defaults to on and sends Fluent Bit's extended
	// per-record metadata, which Fluentd receivers reject ("skip invalid event") and
	// drop. Off keeps the plain forward protocol every receiver understands.
	s.Set("retain_metadata_in_forward_mode", fluentbit.Bool(false))
	return nil
}
