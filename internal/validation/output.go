package validation

import (
	"encoding/base64"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation/field"

	v1 "github.com/logplane/logplane/api/v1alpha1"
)

// OutputSpec checks what CEL cannot express in an output: an Elastic Cloud ID, whose
// host is base64-encoded inside it. The admission webhook and the renderer both run it.
func OutputSpec(spec *v1.OutputSpec) field.ErrorList {
	var errs field.ErrorList
	if es := spec.Elasticsearch; es != nil && es.CloudID != nil {
		if err := ElasticCloudID(string(*es.CloudID)); err != nil {
			errs = append(errs, field.Invalid(field.NewPath("spec", "elasticsearch", "cloudId"), string(*es.CloudID), err.Error()))
		}
	}
	return errs
}

// maxCloudIDDecoded is the most Fluent Bit decodes of a Cloud ID: out_es decodes into
// a zeroed buffer of 256 bytes (extract_cloud_host in plugins/out_es/es_conf.c), and
// reads it as a C string, so the last byte must stay zero.
const maxCloudIDDecoded = 255

// cloudHostPart is one '$'-separated part of a decoded Cloud ID: a DNS name, with a
// port optionally.
var cloudHostPart = regexp.MustCompile(`^[A-Za-z0-9]([-A-Za-z0-9.]*[A-Za-z0-9])?(:[0-9]{1,5})?$`)

// ElasticCloudID checks an Elastic Cloud ID as Fluent Bit's es output reads it when it
// starts, where a refusal ("cannot extract cloud_host") stops the agent of every
// tenant: name:base64(domain$elasticsearch-id$kibana-id). Fluent Bit keeps what follows
// the first ':', decodes it and joins its first two '$'-separated parts as
// <elasticsearch-id>.<domain>, the host it connects to; a port may follow either
// part. This refuses what Fluent Bit refuses, and anything but a host name there.
func ElasticCloudID(id string) error {
	_, encoded, ok := strings.Cut(id, ":")
	if !ok {
		return errors.New("is not an Elastic Cloud ID: it has no ':' after the deployment name (name:base64-of-domain$es-id$kibana-id)")
	}
	raw, err := base64.StdEncoding.DecodeString(encoded)
	if err != nil {
		// Fluent Bit decodes without padding too.
		if raw, err = base64.RawStdEncoding.DecodeString(encoded); err != nil {
			return errors.New("is not an Elastic Cloud ID: the part after the first ':' is not base64")
		}
	}
	if len(raw) > maxCloudIDDecoded {
		return fmt.Errorf("is not an Elastic Cloud ID: it decodes to %d bytes, more than the %d Fluent Bit reads", len(raw), maxCloudIDDecoded)
	}
	parts := strings.Split(string(raw), "$")
	if len(parts) < 2 || parts[0] == "" || parts[1] == "" {
		return errors.New("is not an Elastic Cloud ID: it decodes to no domain$elasticsearch-id, so it names no Elasticsearch host")
	}
	for _, p := range parts[:2] {
		if !cloudHostPart.MatchString(p) {
			return fmt.Errorf("is not an Elastic Cloud ID: %q, which it decodes to, is no host name", p)
		}
	}
	if strings.Contains(parts[0], ":") && strings.Contains(parts[1], ":") {
		return errors.New("is not an Elastic Cloud ID: it names two ports")
	}
	return nil
}
