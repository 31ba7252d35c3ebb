package render

import (
	v1 "github.com/logplane/logplane/api/v1alpha1"
	"github.com/logplane/logplane/internal/fluentbit"
)

func renderSplunk(s *fluentbit.Section, spec *v1.OutputSpec, env *outputEnv) error {
	sp := spec.Splunk
	setHostPort(s, sp.Host, sp.Port)
	s.Set("splunk_token", env.secret(sp.Token))
	s.Set("event_index", str(sp.Index))
	s.Set("event_source", str(sp.Source))
	s.Set("event_sourcetype", str(sp.SourceType))
	if sp.EventKey != nil {
		// event_key must be a record accessor; the plugin refuses a plain name.
		s.Set("event_key", fluentbit.String(accessor(*sp.EventKey)))
	}
	s.Set("compress", compression(sp.Compression))
	return nil
}
