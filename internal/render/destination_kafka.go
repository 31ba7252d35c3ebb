package render

import (
	"errors"
	"strings"

	v1 "github.com/logplane/logplane/api/v1alpha1"
	"github.com/logplane/logplane/internal/fluentbit"
)

// renderKafka writes the kafka plugin's keys. librdkafka runs its own sockets and TLS,
// so Fluent Bit's tls.* keys would not reach the brokers: the output's tls block is
// mapped here to rdkafka.* properties (the caller writes no tls keys for kafka).
func renderKafka(s *fluentbit.Section, spec *v1.OutputSpec, env *outputEnv) error {
	k, t := spec.Kafka, spec.TLS
	if t != nil && t.ServerName != nil {
		return errors.New("kafka: tls.serverName is not supported; librdkafka verifies each broker's own host name")
	}
	brokers := make([]string, len(k.Brokers))
	for i, b := range k.Brokers {
		brokers[i] = string(b)
	}
	s.Set("brokers", fluentbit.String(strings.Join(brokers, ",")))
	s.Set("topics", fluentbit.String(k.Topic))
	if k.MessageKey != nil {
		v, err := topLevel("messageKey", k.MessageKey)
		if err != nil {
			return err
		}
		// message_key_field reads the key from a record field; message_key would be a
		// fixed string.
		s.Set("message_key_field", v)
	}
	s.Set("format", lower(k.Format)) // json, msgpack, gelf; unset is json, the API default
	s.Set("rdkafka.security.protocol", fluentbit.String(kafkaProtocol(k.SASL != nil, t != nil)))
	if a := k.SASL; a != nil {
		s.Set("rdkafka.sasl.mechanism", fluentbit.String(string(a.Mechanism)))
		s.Set("rdkafka.sasl.username", fluentbit.String(string(a.Username)))
		s.Set("rdkafka.sasl.password", env.secret(a.Password))
	}
	if t != nil {
		if t.CA != nil {
			s.Set("rdkafka.ssl.ca.location", env.file(*t.CA))
		}
		if t.Cert != nil && t.Key != nil {
			s.Set("rdkafka.ssl.certificate.location", env.file(*t.Cert))
			s.Set("rdkafka.ssl.key.location", env.file(*t.Key))
		}
		if t.InsecureSkipVerify {
			// librdkafka booleans are true/false only; Fluent Bit's on/off would be
			// logged as invalid and ignored, leaving verification on.
			s.Set("rdkafka.enable.ssl.certificate.verification", fluentbit.String("false"))
		}
	}
	return nil
}

// kafkaProtocol is librdkafka's security.protocol; "" (librdkafka's default
// plaintext) without SASL or TLS.
func kafkaProtocol(sasl, tls bool) string {
	switch {
	case sasl && tls:
		return "sasl_ssl"
	case sasl:
		return "sasl_plaintext"
	case tls:
		return "ssl"
	}
	return ""
}
