package render

import (
	"errors"

	v1 "github.com/logplane/logplane/api/v1alpha1"
	"github.com/logplane/logplane/internal/fluentbit"
)

// renderKinesisStreams refuses partitionKey instead of dropping it: Fluent Bit 5.1 has
// no such key and always picks a random partition key, so per-key ordering the user
// asked for would silently not hold.
func renderKinesisStreams(s *fluentbit.Section, spec *v1.OutputSpec, env *outputEnv) error {
	k := spec.KinesisStreams
	if k == nil {
		return errors.New("type kinesisStreams needs the kinesisStreams block")
	}
	if k.PartitionKey != nil {
		return errors.New("partitionKey is not supported by Fluent Bit 5.1: records are spread randomly")
	}
	if err := setKinesisKeys(s, k.TimeKey, k.LogKey); err != nil {
		return err
	}
	env.setAWS(s, &k.AWS)
	s.Set("stream", fluentbit.String(k.Stream))
	return nil
}
