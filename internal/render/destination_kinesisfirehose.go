package render

import (
	"errors"

	v1 "github.com/logplane/logplane/api/v1alpha1"
	"github.com/logplane/logplane/internal/fluentbit"
)

// renderKinesisFirehose maps only None and Gzip compression: the plugin accepts
// gzip|zstd|snappy and has no "none", so None must leave the key out.
func renderKinesisFirehose(s *fluentbit.Section, spec *v1.OutputSpec, env *outputEnv) error {
	k := spec.KinesisFirehose
	if k == nil {
		return errors.New("type kinesisFirehose needs the kinesisFirehose block")
	}
	if err := setKinesisKeys(s, k.TimeKey, k.LogKey); err != nil {
		return err
	}
	env.setAWS(s, &k.AWS)
	s.Set("delivery_stream", fluentbit.String(k.DeliveryStream))
	s.Set("compression", compression(k.Compression))
	return nil
}

// setKinesisKeys writes time_key and log_key, which both kinesis plugins refuse
// together at startup.
func setKinesisKeys(s *fluentbit.Section, timeKey, logKey *v1.TopLevelField) error {
	if timeKey != nil && logKey != nil {
		return errors.New("timeKey cannot be combined with logKey: Fluent Bit refuses both")
	}
	t, err := topLevel("timeKey", timeKey)
	if err != nil {
		return err
	}
	l, err := topLevel("logKey", logKey)
	if err != nil {
		return err
	}
	s.Set("time_key", t)
	s.Set("log_key", l)
	return nil
}
