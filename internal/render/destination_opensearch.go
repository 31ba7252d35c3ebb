package render

import (
	"errors"

	v1 "github.com/logplane/logplane/api/v1alpha1"
	"github.com/logplane/logplane/internal/fluentbit"
)

func renderOpenSearch(s *fluentbit.Section, spec *v1.OutputSpec, env *outputEnv) error {
	o := spec.OpenSearch
	setHostPort(s, o.Host, o.Port)
	s.Set("path", str(o.Path))
	setSearchIndex(s, o.SearchIndex)
	s.Set("pipeline", str(o.Pipeline))
	setBasicAuth(s, o.BasicAuth, env)
	if err := setOpenSearchAWS(s, o.AWS, o.Serverless, env); err != nil {
		return err
	}
	// Amazon OpenSearch accepts HTTPS only; without a tls block the plugin would speak
	// plain HTTP to port 443. (With one, the caller writes tls itself.)
	if o.AWS != nil && spec.TLS == nil {
		s.Set("tls", fluentbit.Bool(true))
	}
	s.Set("compress", compression(o.Compression))
	return nil
}

// setOpenSearchAWS writes SigV4 signing. The plugin's keys carry an aws_ prefix, so
// setAWS does not fit; static keys still go through a credentials-file profile.
func setOpenSearchAWS(s *fluentbit.Section, a *v1.AWSAuth, serverless bool, env *outputEnv) error {
	if a == nil {
		return nil
	}
	if a.Endpoint != nil {
		// The plugin signs and sends to host; it has no separate service endpoint.
		return errors.New("opensearch has no separate AWS endpoint: put the endpoint's host name in host and leave aws.endpoint unset")
	}
	// Bool(true) renders "on", the only spelling that enables signing (the plugin
	// compares the first two letters; "true" silently leaves it off).
	s.Set("aws_auth", fluentbit.Bool(true))
	s.Set("aws_region", fluentbit.String(a.Region))
	s.Set("aws_role_arn", fluentbit.String(a.RoleArn))
	s.Set("aws_external_id", fluentbit.String(a.ExternalID))
	s.Set("aws_sts_endpoint", str(a.StsEndpoint))
	if serverless {
		s.Set("aws_service_name", fluentbit.String("aoss"))
	} else {
		s.Set("aws_service_name", fluentbit.String("es"))
	}
	if a.Credentials != nil {
		s.Set("aws_profile", fluentbit.String(env.creds.profile(env.salt, env.secretNamespace, a.Credentials)))
	}
	return nil
}
