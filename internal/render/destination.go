package render

import (
	"fmt"
	"regexp"
	"strings"

	v1 "github.com/logplane/logplane/api/v1alpha1"
	"github.com/logplane/logplane/internal/fluentbit"
)

// tlsSupport says how a Fluent Bit plugin takes TLS settings.
type tlsSupport int

const (
	// tlsKeys: `tls on` plus tls.* keys.
	tlsKeys tlsSupport = iota
	// tlsAlways: the plugin always uses TLS and refuses `tls on`; only tls.* keys
	// (CA, client certificate) may be set. (cloudwatch_logs, kinesis_*.)
	tlsAlways
	// tlsOwn: the plugin runs its own TLS stack and the destination renderer maps
	// the settings itself (kafka: rdkafka.ssl.*).
	tlsOwn
	// tlsNever: the plugin has no network connection (stdout).
	tlsNever
)

// destination renders one output type. render sets the plugin's own keys; the caller
// sets name, match, alias and the keys every output shares (workers, retries, buffer,
// TLS unless tlsOwn).
type destination struct {
	plugin string
	tls    tlsSupport
	render func(s *fluentbit.Section, spec *v1.OutputSpec, env *outputEnv) error
}

var destinations = map[v1.OutputType]destination{
	v1.OutputCloudWatchLogs:  {"cloudwatch_logs", tlsAlways, renderCloudWatchLogs},
	v1.OutputKinesisFirehose: {"kinesis_firehose", tlsAlways, renderKinesisFirehose},
	v1.OutputKinesisStreams:  {"kinesis_streams", tlsAlways, renderKinesisStreams},
	v1.OutputS3:              {"s3", tlsKeys, renderS3},
	v1.OutputElasticsearch:   {"es", tlsKeys, renderElasticsearch},
	v1.OutputOpenSearch:      {"opensearch", tlsKeys, renderOpenSearch},
	v1.OutputLoki:            {"loki", tlsKeys, renderLoki},
	v1.OutputSplunk:          {"splunk", tlsKeys, renderSplunk},
	v1.OutputHTTP:            {"http", tlsKeys, renderHTTP},
	v1.OutputSyslog:          {"syslog", tlsKeys, renderSyslog},
	v1.OutputForward:         {"forward", tlsKeys, renderForward},
	v1.OutputKafka:           {"kafka", tlsOwn, renderKafka},
	v1.OutputDatadog:         {"datadog", tlsKeys, renderDatadog},
	v1.OutputOTLP:            {"opentelemetry", tlsKeys, renderOTLP},
	v1.OutputStdout:          {"stdout", tlsNever, renderStdout},
}

// OutputPlugins maps every output type to the Fluent Bit plugin that ships it.
func OutputPlugins() map[v1.OutputType]string {
	out := make(map[v1.OutputType]string, len(destinations))
	for t, d := range destinations {
		out[t] = d.plugin
	}
	return out
}

// outputEnv is what a destination renderer may use besides its spec: references to
// credentials, which never appear in the configuration as values.
type outputEnv struct {
	// secretNamespace holds the output's Secrets.
	secretNamespace string
	// salt keys the names of the output's credentials (secretID).
	salt  []byte
	creds *credentials
	// outputID is unique per output within one configuration file (for store_dir,
	// profile names and the like).
	outputID string
}

// secret returns the ${ENV} reference that carries a Secret key.
func (e *outputEnv) secret(r v1.SecretKeyRef) fluentbit.Value {
	return e.creds.envRef(e.salt, e.secretNamespace, r)
}

// file returns the path at which a Secret key is mounted (TLS material).
func (e *outputEnv) file(r v1.SecretKeyRef) fluentbit.Value {
	return fluentbit.String(e.creds.fileRef(e.salt, e.secretNamespace, r))
}

// setAWS writes the keys AWS plugins share. Static keys go through a profile of the
// shared credentials file; without them the default chain (IRSA, Pod Identity) applies.
func (e *outputEnv) setAWS(s *fluentbit.Section, a *v1.AWSAuth) {
	s.Set("region", fluentbit.String(a.Region))
	s.Set("role_arn", fluentbit.String(a.RoleArn))
	s.Set("external_id", fluentbit.String(a.ExternalID))
	s.Set("sts_endpoint", str(a.StsEndpoint))
	s.Set("endpoint", str(a.Endpoint))
	if a.Credentials != nil {
		s.Set("profile", fluentbit.String(e.creds.profile(e.salt, e.secretNamespace, a.Credentials)))
	}
}

// str converts optional API text to a value; nil becomes the empty value, which
// Section.Set skips.
func str[T ~string](p *T) fluentbit.Value {
	if p == nil {
		return fluentbit.String("")
	}
	return fluentbit.String(string(*p))
}

// lower is an API enum value as Fluent Bit spells it.
func lower[T ~string](v T) fluentbit.Value { return fluentbit.String(strings.ToLower(string(v))) }

// compression maps the API's None/Gzip to Fluent Bit's compress key (unset for None).
func compression(c v1.Compression) fluentbit.Value {
	if c == v1.CompressionGzip {
		return fluentbit.String("gzip")
	}
	return fluentbit.String("")
}

// setTLS writes the common tls.* keys.
func setTLS(s *fluentbit.Section, t *v1.TLS, mode tlsSupport, env *outputEnv) error {
	if t == nil {
		return nil
	}
	switch mode {
	case tlsNever:
		return fmt.Errorf("%s does not support TLS", s.Name)
	case tlsOwn:
		return nil
	case tlsKeys:
		s.Set("tls", fluentbit.Bool(true))
	}
	s.Set("tls.verify", fluentbit.Bool(!t.InsecureSkipVerify))
	s.Set("tls.vhost", str(t.ServerName))
	if t.CA != nil {
		s.Set("tls.ca_file", env.file(*t.CA))
	}
	if t.Cert != nil && t.Key != nil {
		s.Set("tls.crt_file", env.file(*t.Cert))
		s.Set("tls.key_file", env.file(*t.Key))
	}
	return nil
}

// topLevelFieldRE is the API's TopLevelField rule, checked again for input that did
// not pass the API server (logplane render on files).
var topLevelFieldRE = regexp.MustCompile(`^[A-Za-z0-9_][-A-Za-z0-9_.]*$`)

// topLevel passes a field to a plugin option that looks up top-level record keys by
// name (log_key, time_key, syslog_*_key, message_key_field, dd_message_key). A nested
// path would silently never match, so it is refused.
func topLevel(option string, f *v1.TopLevelField) (fluentbit.Value, error) {
	if f == nil {
		return fluentbit.String(""), nil
	}
	if !topLevelFieldRE.MatchString(string(*f)) {
		return fluentbit.Value{}, fmt.Errorf("%s %q must be a top-level field name", option, *f)
	}
	return fluentbit.String(string(*f)), nil
}

func setHostPort(s *fluentbit.Section, host v1.Host, port v1.Port) {
	s.Set("host", fluentbit.String(string(host)))
	if port != 0 {
		s.Set("port", fluentbit.Int(int64(port)))
	}
}

func setBasicAuth(s *fluentbit.Section, a *v1.BasicAuth, env *outputEnv) {
	if a == nil {
		return
	}
	s.Set("http_user", fluentbit.String(string(a.User)))
	s.Set("http_passwd", env.secret(a.Password))
}

// headers renders HTTP headers as Fluent Bit's repeated "Name value" entries.
func headers(hs []v1.Header, env *outputEnv) []fluentbit.Value {
	out := make([]fluentbit.Value, 0, len(hs))
	for _, h := range hs {
		if h.ValueFrom != nil {
			// Pieces, not h.Name+" ": the same text, without a string of its own.
			out = append(out, fluentbit.Concat(fluentbit.String(h.Name), fluentbit.String(" "), env.secret(*h.ValueFrom)))
		} else if h.Value != nil {
			out = append(out, fluentbit.String(h.Name+" "+string(*h.Value)))
		}
	}
	return out
}

func renderStdout(s *fluentbit.Section, spec *v1.OutputSpec, _ *outputEnv) error {
	if spec.Stdout.Format == "MsgPack" {
		s.Set("format", fluentbit.String("msgpack"))
	} else {
		s.Set("format", fluentbit.String("json_lines"))
	}
	return nil
}

func renderHTTP(s *fluentbit.Section, spec *v1.OutputSpec, env *outputEnv) error {
	h := spec.HTTP
	setHostPort(s, h.Host, h.Port)
	s.Set("uri", fluentbit.String(string(h.Path)))
	s.Set("http_method", fluentbit.String(h.Method))
	s.Set("format", fluentbit.String(httpFormats[h.Format]))
	s.Set("header", fluentbit.ValueList(headers(h.Headers, env)...))
	setBasicAuth(s, h.BasicAuth, env)
	s.Set("compress", compression(h.Compression))
	return nil
}

var httpFormats = map[v1.HTTPFormat]string{
	"JSON": "json", "JSONLines": "json_lines", "MsgPack": "msgpack", "GELF": "gelf", "": "json_lines",
}
