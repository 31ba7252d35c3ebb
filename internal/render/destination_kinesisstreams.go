package render

import (
	"errors"

	v1 "github.com/logplane/logplane/api/v1alpha1"
	"github.com/logplane/logplane/internal/fluentbit"
)

// renderKinesisStreams writes no partition key: Fluent Bit 5.1 always picks a random one.
func renderKinesisStreams(s *fluentbit.Section, spec *v1.OutputSpec, env *outputEnv) error {
	k := spec.KinesisStreams
	if k == nil {
		return errors.New("type kinesisStreams needs the kinesisStreams block")
	}
	if err := setKinesisKeys(s, k.TimeKey, k.LogKey); err != nil {
		return err
	}
	env.setAWS(s, &k.AWS)
	s.Set("stream", fluentbit.String(k.Stream))
	return nil
}
