package render

import (
	"fmt"

	v1 "github.com/logplane/logplane/api/v1alpha1"
	"github.com/logplane/logplane/internal/fluentbit"
)

// renderSyslog writes the syslog plugin's keys. Empty enums take the API defaults
// (TCP, RFC5424, messageKey log), which differ from Fluent Bit's (mode udp, no
// message key), so that specs that never passed the API server render the same.
func renderSyslog(s *fluentbit.Section, spec *v1.OutputSpec, _ *outputEnv) error {
	y := spec.Syslog
	mode := cmpOr(string(y.Mode), "TCP")
	// Fluent Bit refuses to start with mode udp and tls on (DTLS is not in the API).
	// With TCP, the caller's `tls: on` makes it the same as mode tls.
	if mode == "UDP" && spec.TLS != nil {
		return fmt.Errorf("syslog mode UDP cannot use tls; use mode TLS")
	}
	setHostPort(s, y.Host, y.Port)
	s.Set("mode", lower(mode))
	s.Set("syslog_format", lower(cmpOr(string(y.Format), "RFC5424")))
	message := v1.TopLevelField(cmpOr(string(y.MessageKey), "log"))
	keys := []struct {
		option, field string
		path          *v1.TopLevelField
	}{
		{"syslog_message_key", "messageKey", &message},
		{"syslog_severity_key", "severityKey", y.SeverityKey},
		{"syslog_hostname_key", "hostnameKey", y.HostnameKey},
		{"syslog_appname_key", "appNameKey", y.AppNameKey},
	}
	for _, k := range keys {
		if k.path == nil {
			continue
		}
		v, err := topLevel(k.field, k.path)
		if err != nil {
			return err
		}
		s.Set(k.option, v)
	}
	return nil
}
