package main

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/logplane/logplane/test/testenv"
)

// Labels the benchmark puts on what it creates.
const (
	namespacePrefix = "bench-"
	tenantLabel     = "bench.logplane.dev/tenant"
	resyncLabel     = "bench.logplane.dev/resync"
	editField       = "benchEdit"
)

// Shape is the size of one benchmark's workload.
type Shape struct {
	Pipelines int `json:"pipelines"`
	// PerNamespace pipelines share a namespace, as a team's do.
	PerNamespace int `json:"pipelinesPerNamespace"`
	// Outputs is the number of LogOutputs in each namespace.
	Outputs int `json:"logOutputsPerNamespace"`
	// ClusterOutputs is the number of ClusterLogOutputs every bench namespace may use.
	ClusterOutputs int `json:"clusterLogOutputs"`
}

// Namespaces is how many namespaces the pipelines are spread over.
func (s Shape) Namespaces() int {
	if s.PerNamespace <= 0 {
		return 1
	}
	return max(1, (s.Pipelines+s.PerNamespace-1)/s.PerNamespace)
}

// Workload is what one benchmark creates: a first wave that Argo CD would sync before
// the custom resources (namespaces, Secrets), and the custom resources themselves.
type Workload struct {
	Setup     []*unstructured.Unstructured
	Resources []*unstructured.Unstructured
	// Pipelines are namespace/name of every LogPipeline, in creation order.
	Pipelines []string
	// Filters counts the pipelines' filters by type.
	Filters map[string]int
}

// BuildWorkload builds a deterministic workload: the same shape gives the same objects.
func BuildWorkload(s Shape) (*Workload, error) {
	var docs []string
	nss := s.Namespaces()
	for n := range nss {
		ns := namespaceName(n)
		docs = append(docs, fmt.Sprintf(namespaceYAML, ns, tenantLabel), fmt.Sprintf(secretYAML, ns))
	}
	w := &Workload{Filters: map[string]int{}}
	setup, err := decode(docs)
	if err != nil {
		return nil, err
	}
	w.Setup = setup

	// Outputs come first, as Argo CD orders them: a pipeline created before its output
	// is reported OutputNotFound until the output arrives, which is correct but noisy.
	docs = []string{retentionPolicyYAML, agentYAML, fmt.Sprintf(grantYAML, tenantLabel)}
	for c := range s.ClusterOutputs {
		docs = append(docs, clusterOutputYAML(c))
	}
	for n := range nss {
		for o := range s.Outputs {
			docs = append(docs, outputYAML(namespaceName(n), o))
		}
	}
	for i := range s.Pipelines {
		ns := namespaceName(i % nss)
		name := fmt.Sprintf("app-%04d", i)
		y, kinds := pipelineYAML(ns, name, i, s)
		for _, k := range kinds {
			w.Filters[k]++
		}
		docs = append(docs, y)
		w.Pipelines = append(w.Pipelines, ns+"/"+name)
	}
	if w.Resources, err = decode(docs); err != nil {
		return nil, err
	}
	return w, nil
}

func namespaceName(n int) string { return fmt.Sprintf("%steam-%03d", namespacePrefix, n) }

func decode(docs []string) ([]*unstructured.Unstructured, error) {
	objs, err := testenv.DecodeYAML([]byte(strings.Join(docs, "\n---\n")))
	if err != nil {
		return nil, fmt.Errorf("bench workload: %w", err)
	}
	return objs, nil
}

const namespaceYAML = `apiVersion: v1
kind: Namespace
metadata:
  name: %s
  labels: {%s: "true"}`

const secretYAML = `apiVersion: v1
kind: Secret
metadata: {name: log-credentials, namespace: %s}
stringData: {password: not-a-real-password, token: not-a-real-token}`

const retentionPolicyYAML = `apiVersion: logging.logplane.dev/v1alpha1
kind: RetentionPolicy
metadata: {name: bench-audit}
spec:
  retention: 1y
  delivery: AtLeastOnce
  buffer: {maxSize: 1Gi}`

// agentYAML is the default agent with its budgets raised as far as the API allows, as a
// platform team running thousands of pipelines per node does (on nodes that give the
// agent enough open files): the benchmark measures the operator, not the budgets.
const agentYAML = `apiVersion: logging.logplane.dev/v1alpha1
kind: LogAgent
metadata: {name: default}
spec:
  budgets:
    perNamespace: {outputSections: 100000, workers: 100000, filterThreads: 100000, filesystemBuffer: 100Ti, pipelineConfigBytes: 16777216}
    perAgent: {outputSections: 100000, workers: 100000, filterThreads: 100000, filesystemBuffer: 100Ti}`

// grantYAML lets the tenants' cloudwatchLogs outputs (outputYAML), which have no keys
// of their own, write to their log group with the agent's identity: without it they
// are refused (IdentityNotGranted) and the bench would measure fewer outputs.
const grantYAML = `apiVersion: logging.logplane.dev/v1alpha1
kind: IdentityGrant
metadata: {name: bench-tenants}
spec:
  namespaceSelector: {matchLabels: {%s: "true"}}
  agentIdentity:
    destinations: [{type: cloudwatchLogs, name: /apps/logs}]`

// clusterOutputYAML is a platform destination open to every bench namespace.
func clusterOutputYAML(c int) string {
	head := fmt.Sprintf(`apiVersion: logging.logplane.dev/v1alpha1
kind: ClusterLogOutput
metadata: {name: platform-%d}
spec:
  allowedNamespaces: {matchLabels: {%s: "true"}}
`, c, tenantLabel)
	switch c % 3 {
	case 0:
		return head + `  type: s3
  retentionPolicy: bench-audit
  s3: {aws: {region: eu-central-1}, bucket: platform-logs, totalFileSize: 50M}`
	case 1:
		return head + `  type: opensearch
  tls: {}
  opensearch:
    host: search-platform.eu-central-1.es.amazonaws.com
    port: 443
    dailyIndexPrefix: apps
    aws: {region: eu-central-1, roleArn: "arn:aws:iam::123456789012:role/opensearch-writer"}`
	default:
		return head + `  type: kafka
  kafka: {brokers: ["kafka-0.kafka:9092", "kafka-1.kafka:9092"], topic: platform-logs}`
	}
}

// outputYAML is a tenant's own destination; most use the namespace's credentials.
func outputYAML(ns string, o int) string {
	head := fmt.Sprintf(`apiVersion: logging.logplane.dev/v1alpha1
kind: LogOutput
metadata: {name: out-%d, namespace: %s}
spec:
`, o, ns)
	switch o % 5 {
	case 0:
		return head + fmt.Sprintf(`  type: loki
  loki:
    host: loki-gateway.observability.svc
    port: 80
    tenantId: %s
    labels: [{key: team, value: %s}]
    basicAuth: {user: %s, password: {name: log-credentials, key: password}}`, ns, ns, ns)
	case 1:
		return head + `  type: elasticsearch
  elasticsearch:
    host: es.observability.svc
    index: apps
    basicAuth: {user: writer, password: {name: log-credentials, key: password}}`
	case 2:
		return head + `  type: cloudwatchLogs
  cloudwatchLogs: {aws: {region: eu-west-1}, logGroupName: /apps/logs, logStreamPrefix: pod-, autoCreateGroup: true}`
	case 3:
		return head + `  type: http
  http:
    host: logs.example.com
    port: 443
    path: /ingest
    basicAuth: {user: writer, password: {name: log-credentials, key: token}}
  tls: {}`
	default:
		return head + `  type: kafka
  kafka: {brokers: ["kafka-0.kafka:9092"], topic: tenant-logs}`
	}
}

// filterSets are the realistic mixes pipelines cycle through: drop health checks and
// tag, parse JSON and keep errors, join Java stack traces, cap a noisy app, parse
// logfmt and trim fields.
var filterSets = []struct {
	kinds []string
	yaml  string
}{
	{[]string{"grep", "addFields"}, `
  - type: grep
    grep: {exclude: [{field: log, regex: 'GET /(healthz|readyz|livez)'}]}
  - type: addFields
    addFields: {fields: [{key: cluster, value: bench-eu-1}, {key: team, value: {ns}}]}`},
	{[]string{"parse", "grep"}, `
  - type: parse
    parse: {format: JSON, keepOriginal: true}
  - type: grep
    grep: {include: [{field: level, regex: '^(?i)(error|fatal|warn)$'}]}`},
	{[]string{"multiline", "parse", "addFields"}, `
  - type: multiline
    multiline: {parser: java}
  - type: parse
    parse: {format: Regex, regex: '^(?<time>[^ ]+) (?<level>[A-Z]+) (?<msg>.*)$', timeKey: time, timeFormat: '%Y-%m-%dT%H:%M:%S.%L%z'}
  - type: addFields
    addFields: {fields: [{key: app, value: {app}}]}`},
	{[]string{"throttle", "removeFields"}, `
  - type: throttle
    throttle: {records: 500, interval: 1s, window: 5}
  - type: removeFields
    removeFields: {fields: [stream, _p]}`},
	{[]string{"parse", "removeFields", "grep"}, `
  - type: parse
    parse: {format: Logfmt}
  - type: removeFields
    removeFields: {fields: [ts]}
  - type: grep
    grep: {exclude: [{field: level, regex: '^debug$'}]}`},
}

// pipelineYAML is pipeline i: its namespace's pods of one app, one filter mix, one of
// the namespace's outputs and, for every third pipeline, a platform output too.
func pipelineYAML(ns, name string, i int, s Shape) (string, []string) {
	set := filterSets[i%len(filterSets)]
	y := fmt.Sprintf(`apiVersion: logging.logplane.dev/v1alpha1
kind: LogPipeline
metadata: {name: %s, namespace: %s}
spec:
  input:
    containers:
      podSelector: {matchLabels: {app.kubernetes.io/name: %s}}
      exclude: [istio-proxy]
  filters:`, name, ns, name) + strings.NewReplacer("{ns}", ns, "{app}", name).Replace(set.yaml)
	if s.Outputs > 0 {
		y += fmt.Sprintf("\n  outputRefs: [out-%d]", i%s.Outputs)
	}
	if s.ClusterOutputs > 0 && (i%3 == 0 || s.Outputs == 0) {
		y += fmt.Sprintf("\n  clusterOutputRefs: [platform-%d]", i%s.ClusterOutputs)
	}
	return y, set.kinds
}
