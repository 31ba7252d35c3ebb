package render

import (
	"errors"

	v1 "github.com/logplane/logplane/api/v1alpha1"
	"github.com/logplane/logplane/internal/fluentbit"
)

// renderCloudWatchLogs checks again what the API's CEL rules enforce, because input
// that skipped the API server would otherwise fail Fluent Bit at startup, taking every
// other output of the file down with it. log_retention_days is written even though
// Fluent Bit applies it only with auto_create_group.
func renderCloudWatchLogs(s *fluentbit.Section, spec *v1.OutputSpec, env *outputEnv) error {
	c := spec.CloudWatchLogs
	if c == nil {
		return errors.New("type cloudwatchLogs needs the cloudwatchLogs block")
	}
	if (c.LogStreamName == nil) == (c.LogStreamPrefix == nil) {
		return errors.New("set exactly one of logStreamName and logStreamPrefix")
	}
	logKey, err := topLevel("logKey", c.LogKey)
	if err != nil {
		return err
	}
	env.setAWS(s, &c.AWS)
	s.Set("log_group_name", fluentbit.String(c.LogGroupName))
	s.Set("log_group_template", str(c.LogGroupTemplate))
	s.Set("log_stream_name", str(c.LogStreamName))
	s.Set("log_stream_prefix", str(c.LogStreamPrefix))
	s.Set("log_key", logKey)
	if c.AutoCreateGroup {
		s.Set("auto_create_group", fluentbit.Bool(true))
	}
	if c.LogRetentionDays != nil {
		s.Set("log_retention_days", fluentbit.Int(int64(*c.LogRetentionDays)))
	}
	return nil
}
