package render

import (
	"fmt"
	"strings"

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
	message := v1.FieldPath(cmpOr(string(y.MessageKey), "log"))
	keys := []struct {
		option, field string
		path          *v1.FieldPath
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
		v, err := topLevelField("syslog", k.field, *k.path)
		if err != nil {
			return err
		}
		s.Set(k.option, v)
	}
	return nil
}

// topLevelField passes a field to a plugin option that compares top-level record keys
// by name (syslog_*_key, kafka message_key_field, datadog dd_message_key). Such options
// take no record accessor, so a nested path would silently never match: refuse it.
func topLevelField(plugin, field string, f v1.FieldPath) (fluentbit.Value, error) {
	if strings.HasPrefix(string(f), "$") {
		return fluentbit.Value{}, fmt.Errorf("%s.%s %q: %s keys must be top-level field names, not nested paths",
			plugin, field, f, plugin)
	}
	return fluentbit.String(string(f)), nil
}
