package render

import (
	"errors"
	"fmt"
	"math"
	"strings"

	v1 "github.com/logplane/logplane/api/v1alpha1"
	"github.com/logplane/logplane/internal/fluentbit"
)

// s3Compressions maps the API enum; None writes nothing, leaving Fluent Bit's default
// (uncompressed).
var s3Compressions = map[v1.S3Compression]string{"": "", "None": "", "Gzip": "gzip", "Zstd": "zstd"}

// renderS3 writes sizes as plain bytes because Fluent Bit's suffixes are decimal, and
// the timeout as whole seconds (rounded up, so no value becomes 0). The buffer goes to
// a directory of its own per output: Fluent Bit keeps upload state there, and two
// outputs sharing it would mix their files. The port comes only from endpoint, which
// S3 parses; it ignores `port`.
func renderS3(s *fluentbit.Section, spec *v1.OutputSpec, env *outputEnv) error {
	o := spec.S3
	if o == nil {
		return errors.New("type s3 needs the s3 block")
	}
	if o.KeyFormat != "" && !strings.HasPrefix(string(o.KeyFormat), "/") {
		return fmt.Errorf("keyFormat %q must start with '/'", o.KeyFormat)
	}
	comp, ok := s3Compressions[o.Compression]
	if !ok {
		return fmt.Errorf("unknown s3 compression %q", o.Compression)
	}
	env.setAWS(s, &o.AWS)
	s.Set("bucket", fluentbit.String(o.Bucket))
	s.Set("s3_key_format", fluentbit.String(string(o.KeyFormat)))
	if q := o.TotalFileSize; q != nil {
		if q.Value() < 1e6 || q.Value() > 50e9 {
			return fmt.Errorf("totalFileSize %s must be between 1M and 50G", q)
		}
		s.Set("total_file_size", fluentbit.String(sizeForFluentBit(*q)))
	}
	if d := o.UploadTimeout; d != nil {
		secs := max(1, int64(math.Ceil(d.Seconds())))
		s.Set("upload_timeout", fluentbit.String(fmt.Sprintf("%ds", secs)))
	}
	s.Set("compression", fluentbit.String(comp))
	s.Set("storage_class", fluentbit.String(string(o.StorageClass)))
	s.Set("store_dir", fluentbit.String(s3StoreDir+"/"+dataName(env.outputID)))
	return nil
}
