package render

import (
	"fmt"
	"regexp"
	"strings"

	v1 "github.com/logplane/logplane/api/v1alpha1"
	"github.com/logplane/logplane/internal/fluentbit"
)

func renderLoki(s *fluentbit.Section, spec *v1.OutputSpec, env *outputEnv) error {
	l := spec.Loki
	setHostPort(s, l.Host, l.Port)
	s.Set("tenant_id", str(l.TenantID))
	labels, err := lokiLabels(l.Labels)
	if err != nil {
		return err
	}
	// labels, label_keys and remove_keys are comma lists in one string: written as
	// a YAML list, the key would count as set several times and Fluent Bit would not start.
	s.Set("labels", fluentbit.String(labels))
	keys := make([]string, len(l.LabelKeys))
	for i, k := range l.LabelKeys {
		keys[i] = accessor(k) // label_keys entries must start with "$"
	}
	s.Set("label_keys", fluentbit.String(strings.Join(keys, ",")))
	remove := make([]string, len(l.RemoveKeys))
	for i, k := range l.RemoveKeys {
		remove[i] = string(k) // a plain name or a record accessor, both accepted
	}
	s.Set("remove_keys", fluentbit.String(strings.Join(remove, ",")))
	switch l.LineFormat {
	case "", "JSON":
		s.Set("line_format", fluentbit.String("json"))
	case "KeyValue":
		s.Set("line_format", fluentbit.String("key_value"))
	default:
		return fmt.Errorf("unknown loki line format %q", l.LineFormat)
	}
	setBasicAuth(s, l.BasicAuth, env)
	if l.BearerToken != nil {
		s.Set("bearer_token", env.secret(*l.BearerToken))
	}
	return nil
}

// lokiLabelName is what Loki accepts as a label name; Fluent Bit sends fixed label
// names unchanged, and Loki answers 400 to a bad one, which Fluent Bit drops.
var lokiLabelName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// lokiLabels renders fixed labels as Fluent Bit's "k=v,k=v". A value Fluent Bit would
// misread is refused: a comma splits the entry, a leading "$" makes it a record
// lookup, and an empty value stops Fluent Bit at startup.
func lokiLabels(kvs []v1.KeyValue) (string, error) {
	out := make([]string, len(kvs))
	for i, kv := range kvs {
		v := strings.TrimSpace(string(kv.Value))
		switch {
		case !lokiLabelName.MatchString(kv.Key):
			return "", fmt.Errorf("loki label name %q must be letters, digits and _, not starting with a digit", kv.Key)
		case v == "" || strings.HasPrefix(v, "$") || strings.Contains(v, ","):
			return "", fmt.Errorf("loki label %s: the value must be non-empty, without ',' and not starting with '$'", kv.Key)
		}
		out[i] = kv.Key + "=" + string(kv.Value)
	}
	return strings.Join(out, ","), nil
}
