package render

import (
	v1 "github.com/logplane/logplane/api/v1alpha1"
	"github.com/logplane/logplane/internal/fluentbit"
)

func renderElasticsearch(s *fluentbit.Section, spec *v1.OutputSpec, env *outputEnv) error {
	es := spec.Elasticsearch
	if es.CloudID != nil {
		// cloud_id replaces host and port (443 unless the ID names one); a port written
		// next to it would be ignored, so leave the API's default 9200 out.
		s.Set("cloud_id", str(es.CloudID))
		// Elastic Cloud accepts HTTPS only, and cloud_id does not turn TLS on by itself.
		if spec.TLS == nil {
			s.Set("tls", fluentbit.Bool(true))
		}
	} else {
		setHostPort(s, es.Host, es.Port)
	}
	s.Set("path", str(es.Path))
	setSearchIndex(s, es.SearchIndex)
	s.Set("pipeline", str(es.Pipeline))
	setBasicAuth(s, es.BasicAuth, env)
	if es.APIKey != nil {
		s.Set("http_api_key", env.secret(*es.APIKey))
	}
	if es.CloudAuth != nil {
		s.Set("cloud_auth", env.secret(*es.CloudAuth))
	}
	s.Set("compress", compression(es.Compression))
	return nil
}

// setSearchIndex writes the index keys es and opensearch share. The daily form is
// logstash_format, whose default separator "-" and date format %Y.%m.%d give the
// prefix-YYYY.MM.DD the API promises. _type is always suppressed: Elasticsearch 8 and
// OpenSearch 2 reject bulk requests that carry it.
func setSearchIndex(s *fluentbit.Section, idx v1.SearchIndex) {
	s.Set("index", fluentbit.String(idx.Index))
	if idx.DailyIndexPrefix != "" {
		s.Set("logstash_format", fluentbit.Bool(true))
		s.Set("logstash_prefix", fluentbit.String(idx.DailyIndexPrefix))
	}
	s.Set("suppress_type_name", fluentbit.Bool(true))
}
