package render

import (
	"errors"

	v1 "github.com/logplane/logplane/api/v1alpha1"
	"github.com/logplane/logplane/internal/fluentbit"
)

// TODO(render): not rendered yet; the pipeline reports the output as invalid.
func renderOpenSearch(_ *fluentbit.Section, _ *v1.OutputSpec, _ *outputEnv) error {
	return errors.New("opensearch output is not implemented yet")
}
