// Package rawparams decides which Fluent Bit keys a ClusterLogOutput's rawParameters
// may set: the keys Fluent Bit documents for the output plugin (documented, generated
// from the binary by hack/fluentbit-keys), less every key the deny-list refuses
// because it could reach beyond the output itself — other pipelines' records, files
// on the node, credentials, the agent's threads, or what logplane derives from the
// retention policy.
//
// The same decision is made twice: by the API server, through the CEL rules
// hack/fluentbit-keys writes into api/v1alpha1 from this package, and by the renderer,
// which leaves a ClusterLogOutput with a refused key out of the configuration (input
// that did not pass admission: logplane render on files, objects stored before the
// rules existed).
package rawparams

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// OutputPlugins maps each output type of the API (spec.type) to the Fluent Bit plugin
// that ships it. It repeats the renderer's table (render.OutputPlugins, which a test
// holds it to), so that hack/fluentbit-keys can write rules into the API package
// without compiling it.
var OutputPlugins = map[string]string{
	"cloudwatchLogs":  "cloudwatch_logs",
	"kinesisFirehose": "kinesis_firehose",
	"kinesisStreams":  "kinesis_streams",
	"s3":              "s3",
	"elasticsearch":   "es",
	"opensearch":      "opensearch",
	"loki":            "loki",
	"splunk":          "splunk",
	"http":            "http",
	"syslog":          "syslog",
	"forward":         "forward",
	"kafka":           "kafka",
	"datadog":         "datadog",
	"otlp":            "opentelemetry",
	"stdout":          "stdout",
}

// Rule refuses the keys that match Pattern, an RE2 expression matched against the whole
// key without regard to case (Fluent Bit reads keys without regard to case). Pattern
// has no backslashes and no quotes, so that it is written as it is into CEL.
type Rule struct {
	Pattern string
	// Why completes "rawParameters key <key> ...".
	Why string
}

// Deny is the deny-list, in the order its reasons are reported. Each rule is broader
// than the keys Fluent Bit documents today, so that a key a later version adds under a
// familiar name is refused until someone looks at it.
var Deny = []Rule{
	// Record selection is the isolation between pipelines: logplane derives match
	// (or match_regex) from the pipelines that use the output, and the alias ties the
	// section's metrics to them. A raw match_regex of ".*" delivered every namespace's
	// records to one output.
	{Pattern: `^(match|match_regex|alias)$`,
		Why: "selects records or names the section: logplane sets match, match_regex and alias so that an output gets only the records of the pipelines that use it"},
	// A path reads or writes on the node, where the agent holds every output's mounted
	// credentials, buffers and tail positions.
	{Pattern: `_(file|path|dir)$|^(store_dir|upstream|db|unix_path)$`,
		Why: "names a file, directory or socket on the node, where the agent keeps the credentials and buffers of every output"},
	// Credentials come from Secrets through typed fields, as environment variables,
	// mounted files or a profile logplane writes; a raw key could choose another
	// output's profile, or the agent's own cloud identity.
	{Pattern: `(^|[._])(aws_)?profile$|role_arn$|external_id$|sts_endpoint$|^aws_auth$|passw(or)?d|_key$|token|secret|apikey|user(name)?$|^cloud_auth$|^oauth2[.]|^authorization_`,
		Why: "carries or chooses credentials: set them with the typed fields, from Secrets"},
	// Threads are a shared resource of the one agent process.
	{Pattern: `^(workers|threaded)$`,
		Why: "sets threads of the agent every output shares: use spec.workers"},
	{Pattern: `^storage[.]|^retry_limit$|^store_dir_limit_size$`,
		Why: "is set by logplane from the retention policy of the output (buffering and retries)"},
	{Pattern: `^processors$`,
		Why: "adds processors: logplane sets the processors of an output from the filters of the pipelines that use it"},
	// librdkafka reads files (ssl.key.location) and runs commands (sasl.kerberos.kinit.cmd).
	{Pattern: `^rdkafka[.]`,
		Why: "passes settings to librdkafka, which reads files and runs commands named in them"},
}

var denyRE = func() []*regexp.Regexp {
	out := make([]*regexp.Regexp, len(Deny))
	for i, r := range Deny {
		out[i] = regexp.MustCompile("(?i)" + r.Pattern)
	}
	return out
}()

// DenyPattern is one RE2 expression matching every key the deny-list refuses, without
// regard to case.
func DenyPattern() string {
	parts := make([]string, len(Deny))
	for i, r := range Deny {
		parts[i] = "(" + r.Pattern + ")"
	}
	return "(?i)" + strings.Join(parts, "|")
}

// Check returns why rawParameters of a section of plugin may not set key, or "" when
// they may.
func Check(plugin, key string) string {
	if why := Denied(key); why != "" {
		return why
	}
	if !slices.Contains(documented[plugin], key) || isPrefix(key) {
		return NotDocumented(plugin)
	}
	return ""
}

// Denied returns why the deny-list refuses key whatever the plugin, or "".
func Denied(key string) string {
	for i, re := range denyRE {
		if re.MatchString(key) {
			return Deny[i].Why
		}
	}
	return ""
}

// Filter returns the keys of documented (keys of plugin as ParseHelp reads them) that
// rawParameters may set, in their order.
func Filter(documented []string) []string {
	var out []string
	for _, k := range documented {
		if Denied(k) == "" && !isPrefix(k) {
			out = append(out, k)
		}
	}
	return out
}

// NotDocumented is why a key that Fluent Bit does not document for plugin is refused.
func NotDocumented(plugin string) string {
	return fmt.Sprintf("is not a key Fluent Bit %s documents for the %s output plugin (fluent-bit -o %s -h; keys are lower case)",
		FluentBitVersion, plugin, plugin)
}

// Allowed lists the keys rawParameters may set on a section of plugin, sorted.
func Allowed(plugin string) []string { return Filter(documented[plugin]) }

// Documented lists the keys Fluent Bit documents for plugin, sorted.
func Documented(plugin string) []string { return slices.Clone(documented[plugin]) }

// Plugins lists the plugins whose keys are documented here, sorted.
func Plugins() []string {
	out := make([]string, 0, len(documented))
	for p := range documented {
		out = append(out, p)
	}
	slices.Sort(out)
	return out
}

// isPrefix reports a documented key that stands for a family of keys (rdkafka.),
// which cannot be listed and so is never allowed.
func isPrefix(key string) bool { return strings.HasSuffix(key, ".") }
