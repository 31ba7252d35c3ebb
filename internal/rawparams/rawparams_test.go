package rawparams_test

import (
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/logplane/logplane/internal/rawparams"
	"github.com/logplane/logplane/internal/render"
)

// The keys of issue 19 and their relatives: each is refused for the reason given,
// whatever its case, on every plugin.
func TestAttacksAreRefused(t *testing.T) {
	cases := []struct{ key, reason string }{
		{"match_regex", "selects records"}, // ".*" delivered every namespace's records to one output
		{"Match_Regex", "selects records"},
		{"MATCH", "selects records"},
		{"alias", "selects records"},
		{"profile", "credentials"}, // another output's AWS profile
		{"aws_profile", "credentials"},
		{"role_arn", "credentials"},
		{"aws_role_arn", "credentials"},
		{"aws_auth", "credentials"}, // SigV4 with the agent's own identity
		{"sts_endpoint", "credentials"},
		{"http_passwd", "credentials"},
		{"http_user", "credentials"},
		{"password", "credentials"},
		{"shared_key", "credentials"},
		{"http_api_key", "credentials"},
		{"bearer_token", "credentials"},
		{"splunk_token", "credentials"},
		{"apikey", "credentials"},
		{"cloud_auth", "credentials"},
		{"oauth2.client_secret", "credentials"},
		{"authorization_endpoint_url", "credentials"},
		{"tls.key_file", "file"}, // another tenant's mounted certificate
		{"tls.crt_file", "file"},
		{"tls.ca_file", "file"},
		{"tls.ca_path", "file"},
		{"tls.proxy.ca_file", "file"},
		{"oauth2.jwt_key_file", "file"},
		{"store_dir", "file"},
		{"blob_database_file", "file"},
		{"static_file_path", "file"},
		{"label_map_path", "file"},
		{"unix_path", "file"},
		{"upstream", "file"},
		{"db", "file"},
		{"workers", "threads"},
		{"threaded", "threads"},
		{"storage.total_limit_size", "retention policy"},
		{"retry_limit", "retention policy"},
		{"store_dir_limit_size", "retention policy"},
		{"processors", "processors"},
		{"rdkafka.sasl.kerberos.kinit.cmd", "librdkafka"},
		{"rdkafka.", "librdkafka"}, // as the help lists the family
	}
	for _, c := range cases {
		for _, p := range rawparams.Plugins() {
			if why := rawparams.Check(p, c.key); !strings.Contains(why, c.reason) {
				t.Errorf("%s %s: %q, want a refusal naming %q", p, c.key, why, c.reason)
			}
		}
	}
	for _, c := range []struct{ plugin, key string }{
		{"http", "no_such_option"},
		{"http", "Net.Keepalive"}, // Fluent Bit documents keys in lower case only
		{"stdout", "host"},        // documented for other plugins
	} {
		if why := rawparams.Check(c.plugin, c.key); !strings.Contains(why, "is not a key Fluent Bit") {
			t.Errorf("%s %s: %q, want not documented", c.plugin, c.key, why)
		}
	}
	for _, c := range []struct{ plugin, key string }{
		{"http", "net.keepalive"},
		{"es", "buffer_size"},
		{"loki", "structured_metadata"},
		{"cloudwatch_logs", "log_group_class"},
		{"s3", "canned_acl"},
		{"stdout", "json_date_format"},
	} {
		if why := rawparams.Check(c.plugin, c.key); why != "" {
			t.Errorf("%s %s refused: %s", c.plugin, c.key, why)
		}
	}
}

// A second opinion on the deny-list: no allowed key has a name that suggests files,
// credentials, selection, threads or buffering, unless it was looked at and is listed
// here with what it is. A key a new Fluent Bit adds under such a name fails this test
// until someone decides.
func TestAllowedKeysLookHarmless(t *testing.T) {
	suspicious := regexp.MustCompile(`file|path|dir|db|sock|passw|token|secret|key|cred|auth|user|profile|role|match|alias|worker|thread|storage|retry|processor|upstream|exec|cmd|command|script|plugin`)
	reviewed := map[string]string{
		"path":                         "es, opensearch: the URL path of the API",
		"file_delivery_attempt_limit":  "s3: a count",
		"total_file_size":              "s3: a size",
		"quarantine_dir_limit_size":    "s3: a size",
		"auto_retry_requests":          "AWS plugins: a flag",
		"retry_exhausted_action":       "s3: what to do with a chunk after the retries",
		"message_key_field":            "kafka: the record field used as message key (not a credential)",
		"logs_body_key_attributes":     "opentelemetry: a flag",
		"profiles_uri":                 "opentelemetry: the URI of the profiles signal",
		"grpc_profiles_uri":            "opentelemetry: the gRPC URI of the profiles signal",
		"tenant_id_key_error_handling": "loki: what to do when tenant_id_key is missing",
		"structured_metadata_map_keys": "loki: record accessors of maps to send as metadata",
		"label_keys":                   "loki: record accessors to send as labels",
		"remove_keys":                  "loki: record accessors to leave out",
		"extra_user_agent":             "cloudwatch_logs: text appended to the User-Agent",
		"net.max_worker_connections":   "connections per delivery thread, not threads",
		"time_key_format":              "a strftime format",
		"time_key_nanos":               "es, opensearch: a flag",
		"s3_key_format":                "s3: the object key template",
		"s3_key_format_tag_delimiters": "s3: characters that split the tag for s3_key_format",
		"storage_class":                "s3: the S3 storage class",
	}
	for _, p := range rawparams.Plugins() {
		for _, k := range rawparams.Allowed(p) {
			if suspicious.MatchString(k) && reviewed[k] == "" {
				t.Errorf("%s: allowed key %s has a suspicious name; deny it or add it to reviewed", p, k)
			}
		}
	}
}

// The plugins of the output types are the renderer's, and each has its keys listed.
func TestEveryRenderedPluginIsDocumented(t *testing.T) {
	rendered := render.OutputPlugins()
	if len(rendered) != len(rawparams.OutputPlugins) {
		t.Errorf("%d output types here, %d rendered", len(rawparams.OutputPlugins), len(rendered))
	}
	for typ, p := range rendered {
		if rawparams.OutputPlugins[string(typ)] != p {
			t.Errorf("type %s: plugin %q here, %q rendered", typ, rawparams.OutputPlugins[string(typ)], p)
		}
		if len(rawparams.Documented(p)) == 0 {
			t.Errorf("type %s: no documented keys for plugin %s; run make fluentbit-keys", typ, p)
		}
	}
}

// The checked-in keys are what the Fluent Bit binary logplane runs documents.
func TestDocumentedKeysMatchTheBinary(t *testing.T) {
	bin := os.Getenv("FLUENT_BIT_BIN")
	if bin == "" {
		t.Skip("FLUENT_BIT_BIN is not set")
	}
	out, err := exec.Command(bin, "--version").Output()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), "Fluent Bit v"+rawparams.FluentBitVersion+"\n") {
		t.Fatalf("keys were read from Fluent Bit %s, the binary is %q; run make fluentbit-keys", rawparams.FluentBitVersion, out)
	}
	for _, p := range rawparams.Plugins() {
		help, err := exec.Command(bin, "-o", p, "-h").Output()
		if err != nil {
			t.Fatal(err)
		}
		keys, err := rawparams.ParseHelp(string(help))
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(keys, rawparams.Documented(p)) {
			t.Errorf("%s: documented keys differ from the binary's help; run make fluentbit-keys", p)
		}
	}
}

func TestParseHelp(t *testing.T) {
	help := "\x1b[1mHELP\x1b[0m\nkafka output plugin\n\x1b[1m\nDESCRIPTION\n\x1b[0mKafka\n\x1b[1m\nGLOBAL_OPTIONS\n" +
		"\x1b[0mmatch                             Set a tag pattern\n                                  > default: default, type: string\n\n" +
		"\x1b[1m\nOPTIONS\n\x1b[0mrdkafka.                          Set the kafka group_id.\n" +
		"                                  > default: default, type: prefixed string\n\n" +
		"topics                            Set the kafka topics\n\n"
	keys, err := rawparams.ParseHelp(help)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"match", "rdkafka.", "topics"}; !slices.Equal(keys, want) {
		t.Errorf("keys %v, want %v", keys, want)
	}
	if _, err := rawparams.ParseHelp("\x1b[1mHELP\x1b[0m\nnothing\n"); err == nil {
		t.Error("help without properties parsed")
	}
}
