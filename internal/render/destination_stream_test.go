package render

import (
	"strings"
	"testing"

	v1 "github.com/logplane/logplane/api/v1alpha1"
	"github.com/logplane/logplane/internal/alias"
)

func TestStreamAndSaaSDestinations(t *testing.T) {
	fullTLS := func() *v1.TLS {
		return &v1.TLS{ServerName: ptr(v1.Host("logs.internal")),
			CA:   &v1.SecretKeyRef{Name: "tls", Key: "ca.crt"},
			Cert: &v1.SecretKeyRef{Name: "tls", Key: "tls.crt"}, Key: &v1.SecretKeyRef{Name: "tls", Key: "tls.key"}}
	}
	runDestinationGoldens(t, []destinationCase{
		{name: "syslog-minimal", spec: v1.OutputSpec{Type: v1.OutputSyslog,
			Syslog: &v1.SyslogOutput{Host: "syslog.example.com"}}},
		{name: "syslog-full", spec: v1.OutputSpec{Type: v1.OutputSyslog,
			Syslog: &v1.SyslogOutput{Host: "syslog.example.com", Port: 6514, Mode: "TLS", Format: "RFC3164",
				MessageKey: "message", SeverityKey: ptr(v1.TopLevelField("level")),
				HostnameKey: ptr(v1.TopLevelField("host")), AppNameKey: ptr(v1.TopLevelField("app"))},
			TLS: fullTLS(), Workers: ptr(int32(2))}},
		{name: "syslog-udp", spec: v1.OutputSpec{Type: v1.OutputSyslog,
			Syslog: &v1.SyslogOutput{Host: "10.0.0.5", Port: 514, Mode: "UDP", Format: "RFC5424", MessageKey: "log"}}},

		{name: "forward-minimal", spec: v1.OutputSpec{Type: v1.OutputForward,
			Forward: &v1.ForwardOutput{Host: "fluentd.logging"}}},
		{name: "forward-full", spec: v1.OutputSpec{Type: v1.OutputForward,
			Forward: &v1.ForwardOutput{Host: "fluentd.logging", Port: 24225,
				SharedKey:    &v1.SecretKeyRef{Name: "forward", Key: "shared-key"},
				SelfHostname: ptr(v1.Host("agent.example.com")), RequireAck: true, Compression: v1.CompressionGzip},
			TLS: fullTLS(), Workers: ptr(int32(2))}},

		{name: "kafka-minimal", spec: v1.OutputSpec{Type: v1.OutputKafka,
			Kafka: &v1.KafkaOutput{Brokers: []v1.KafkaBroker{"kafka-0.kafka:9092"}, Topic: "logs"}}},
		{name: "kafka-full", spec: v1.OutputSpec{Type: v1.OutputKafka,
			Kafka: &v1.KafkaOutput{Brokers: []v1.KafkaBroker{"kafka-0.kafka:9093", "kafka-1.kafka:9093"}, Topic: "team-a.logs",
				MessageKey: ptr(v1.TopLevelField("request_id")), Format: "MsgPack",
				SASL: &v1.KafkaSASL{Mechanism: "SCRAM-SHA-512", Username: "shipper",
					Password: v1.SecretKeyRef{Name: "kafka", Key: "password"}}},
			TLS: &v1.TLS{InsecureSkipVerify: true, CA: &v1.SecretKeyRef{Name: "tls", Key: "ca.crt"},
				Cert: &v1.SecretKeyRef{Name: "tls", Key: "tls.crt"}, Key: &v1.SecretKeyRef{Name: "tls", Key: "tls.key"}},
			Workers: ptr(int32(2))}},
		{name: "kafka-sasl-plaintext", spec: v1.OutputSpec{Type: v1.OutputKafka,
			Kafka: &v1.KafkaOutput{Brokers: []v1.KafkaBroker{"kafka-0.kafka:9092"}, Topic: "logs", Format: "GELF",
				SASL: &v1.KafkaSASL{Mechanism: "PLAIN", Username: "shipper",
					Password: v1.SecretKeyRef{Name: "kafka", Key: "password"}}}}},
		{name: "kafka-tls", spec: v1.OutputSpec{Type: v1.OutputKafka,
			Kafka: &v1.KafkaOutput{Brokers: []v1.KafkaBroker{"kafka-0.kafka:9093"}, Topic: "logs", Format: "JSON"},
			TLS:   &v1.TLS{CA: &v1.SecretKeyRef{Name: "tls", Key: "ca.crt"}}}},

		{name: "datadog-minimal", spec: v1.OutputSpec{Type: v1.OutputDatadog,
			Datadog: &v1.DatadogOutput{APIKey: v1.SecretKeyRef{Name: "datadog", Key: "api-key"}}}},
		{name: "datadog-full", spec: v1.OutputSpec{Type: v1.OutputDatadog,
			Datadog: &v1.DatadogOutput{Host: "http-intake.logs.datadoghq.eu",
				APIKey:  v1.SecretKeyRef{Name: "datadog", Key: "api-key"},
				Service: ptr(v1.ConfigString("web")), Source: ptr(v1.ConfigString("nginx")),
				Tags:       []v1.ConfigString{"env:prod", "team:a"},
				MessageKey: ptr(v1.TopLevelField("msg")), Compression: v1.CompressionGzip},
			TLS: fullTLS(), Workers: ptr(int32(2))}},
		{name: "datadog-uncompressed", spec: v1.OutputSpec{Type: v1.OutputDatadog,
			Datadog: &v1.DatadogOutput{APIKey: v1.SecretKeyRef{Name: "datadog", Key: "api-key"}, Compression: v1.CompressionNone}}},

		{name: "otlp-minimal", spec: v1.OutputSpec{Type: v1.OutputOTLP,
			OTLP: &v1.OTLPOutput{Host: "otel-collector.observability"}}},
		{name: "otlp-full", spec: v1.OutputSpec{Type: v1.OutputOTLP,
			OTLP: &v1.OTLPOutput{Host: "otel-collector.observability", Port: 4318, Protocol: "HTTP", LogsPath: "/otlp/v1/logs",
				Headers: []v1.Header{
					{Name: "X-Team", Value: ptr(v1.ConfigString("team-a"))},
					{Name: "Authorization", ValueFrom: &v1.SecretKeyRef{Name: "otlp", Key: "token"}},
				},
				Compression: v1.CompressionGzip},
			TLS: fullTLS(), Workers: ptr(int32(2))}},
		{name: "otlp-grpc", spec: v1.OutputSpec{Type: v1.OutputOTLP,
			OTLP: &v1.OTLPOutput{Host: "otel-collector.observability", Port: 4317, Protocol: "GRPC", LogsPath: "/v1/logs"}}},
	})

	for _, c := range []struct {
		name, want string
		spec       v1.OutputSpec
	}{
		{"syslog-nested-key", "must be a top-level field name", v1.OutputSpec{Type: v1.OutputSyslog,
			Syslog: &v1.SyslogOutput{Host: "syslog.example.com", SeverityKey: ptr(v1.TopLevelField("$kubernetes['labels']['level']"))}}},
		{"syslog-nested-message-key", "must be a top-level field name", v1.OutputSpec{Type: v1.OutputSyslog,
			Syslog: &v1.SyslogOutput{Host: "syslog.example.com", MessageKey: "$log"}}},
		{"syslog-udp-tls", "mode UDP cannot use tls", v1.OutputSpec{Type: v1.OutputSyslog,
			Syslog: &v1.SyslogOutput{Host: "syslog.example.com", Mode: "UDP"}, TLS: &v1.TLS{}}},
		{"kafka-server-name", "tls.serverName is not supported", v1.OutputSpec{Type: v1.OutputKafka,
			Kafka: &v1.KafkaOutput{Brokers: []v1.KafkaBroker{"kafka-0.kafka:9093"}, Topic: "logs"},
			TLS:   &v1.TLS{ServerName: ptr(v1.Host("kafka.internal"))}}},
		{"kafka-nested-key", "must be a top-level field name", v1.OutputSpec{Type: v1.OutputKafka,
			Kafka: &v1.KafkaOutput{Brokers: []v1.KafkaBroker{"kafka-0.kafka:9092"}, Topic: "logs",
				MessageKey: ptr(v1.TopLevelField("$kubernetes['pod_name']"))}}},
		{"datadog-nested-key", "must be a top-level field name", v1.OutputSpec{Type: v1.OutputDatadog,
			Datadog: &v1.DatadogOutput{APIKey: v1.SecretKeyRef{Name: "datadog", Key: "api-key"},
				MessageKey: ptr(v1.TopLevelField("$body['msg']"))}}},
		{"datadog-comma-tag", "contains a comma", v1.OutputSpec{Type: v1.OutputDatadog,
			Datadog: &v1.DatadogOutput{APIKey: v1.SecretKeyRef{Name: "datadog", Key: "api-key"},
				Tags: []v1.ConfigString{"env:prod,team:a"}}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			pl := &pipeline{Ref: Ref{Kind: alias.LogPipeline, Namespace: "team-a", Name: "web"}}
			o := &output{Ref: Ref{Kind: alias.LogOutput, Namespace: "team-a", Name: c.name}, SecretNamespace: "team-a", Spec: &c.spec}
			_, err := outputSection(pl, o, match{glob: "kube.team-a.*"}, nil, newCredentials(), false, nil)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got error %v, want one containing %q", err, c.want)
			}
		})
	}
}
