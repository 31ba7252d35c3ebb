package rawparams

import (
	"fmt"
	"slices"
	"strings"
)

// valueRules are the keys whose values Fluent Bit 5.1.1 checks when the plugin
// initialises, with every value it accepts (compared without regard to case, as its
// strcasecmp does): any other value stops the plugin's initialisation, and with it the
// whole agent, on every node. Each list is read from Fluent Bit's source (the file is
// named) and proven by starting the real binary with every value, in upper case too,
// and with a wrong one (TestValueRulesAgainstFluentBit). "*" applies to every plugin.
var valueRules = map[string]map[string]valueRule{
	// src/flb_log.c flb_log_get_level_str, through src/flb_output.c.
	"*": {"log_level": anyCase("off", "error", "warn", "warning", "info", "debug", "trace")},
	// plugins/out_http/http_conf.c.
	"http": {"compress": anyCase("gzip", "snappy", "zstd"), "http_method": anyCase("post", "put")},
	// plugins/out_loki/loki.c (its drop_single_key, refused there too, is denied as a
	// key: it ends in _key).
	"loki": {
		"line_format":                  anyCase("json", "key_value"),
		"tenant_id_key_error_handling": anyCase("partial_success", "partial_error"),
	},
	// plugins/out_opentelemetry/opentelemetry_conf.c.
	"opentelemetry": {"compress": anyCase("gzip", "zstd")},
	// plugins/out_forward/forward.c.
	"forward": {"compress": anyCase("text", "gzip")},
	// plugins/out_syslog/syslog_conf.c.
	"syslog": {"syslog_format": anyCase("rfc3164", "rfc5424")},
	// plugins/out_s3/s3.c with src/aws/flb_aws_compress.c (strcmp: exact case) and
	// src/flb_pack.c. s3 writes only some of the formats flb_pack names (json_stream,
	// otlp_json_pretty and msgpack are refused), and arrow and parquet need libraries
	// the release image is built without.
	"s3": {
		"compression":      exactCase("gzip", "zstd", "snappy"),
		"format":           anyCase("json", "json_lines", "otlp_json"),
		"json_date_format": anyCase("double", "java_sql_timestamp", "iso8601", "epoch", "epoch_ms", "epoch_millis", "epoch_milliseconds"),
	},
	"kinesis_firehose": {"compression": exactCase("gzip", "zstd", "snappy")},
	"kinesis_streams":  {"compression": exactCase("gzip", "zstd", "snappy")},
}

// valueRule is what one key accepts.
type valueRule struct {
	values []string
	// exact: Fluent Bit compares with strcmp, so case counts; otherwise values are
	// lower case and compared without regard to case.
	exact bool
}

func anyCase(values ...string) valueRule   { return valueRule{values: values} }
func exactCase(values ...string) valueRule { return valueRule{values: values, exact: true} }

func (r valueRule) accepts(v string) bool {
	if !r.exact {
		v = strings.ToLower(v)
	}
	return slices.Contains(r.values, v)
}

func ruleOf(plugin, key string) (valueRule, bool) {
	if r, ok := valueRules[plugin][key]; ok {
		return r, true
	}
	r, ok := valueRules["*"][key]
	return r, ok
}

// Values lists the values Fluent Bit accepts for key on plugin, or nil when it does
// not check them at start.
func Values(plugin, key string) []string {
	r, _ := ruleOf(plugin, key)
	return slices.Clone(r.values)
}

// CheckValue returns why rawParameters of a section of plugin may not set key to
// value, or "" when they may: Fluent Bit refuses the value when the plugin starts.
func CheckValue(plugin, key, value string) string {
	r, ok := ruleOf(plugin, key)
	if !ok || r.accepts(value) {
		return ""
	}
	cased := ""
	if r.exact {
		cased = " (lower case)"
	}
	return fmt.Sprintf("has a value that Fluent Bit %s refuses for the %s output plugin when it starts, which would stop the agent on every node: write one of %s%s",
		FluentBitVersion, plugin, strings.Join(r.values, ", "), cased)
}

// valueRulePlugins lists the plugins with value rules, "*" excluded, sorted.
func valueRulePlugins() []string {
	var out []string
	for p := range valueRules {
		if p != "*" {
			out = append(out, p)
		}
	}
	slices.Sort(out)
	return out
}
