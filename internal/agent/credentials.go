package agent

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash/fnv"
	"maps"
	"slices"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/logplane/logplane/internal/render"
	"github.com/logplane/logplane/internal/secretvalue"
)

// maxCredentialsBytes keeps each credentials Secret well under the 1 MiB limit of a
// Secret, leaving room for its metadata.
var maxCredentialsBytes = 900 * 1024

// maxCredentialsSecrets bounds the doubling; one value too large for a Secret by
// itself is refused by the API server, not split further.
const maxCredentialsSecrets = 64

// credentialsSecrets gathers every secret value the configuration refers to
// (CredentialsData) into the Secret "<name>-credentials". Values that do not fit in
// one Secret (a few hundred tenants' TLS material) are spread over that Secret and
// "<name>-credentials-<i>": each key goes to the Secret its name hashes to, so that a
// rotated value rewrites one Secret, and their number doubles until each fits.
func credentialsSecrets(in Input, name string, meta func(string) metav1.ObjectMeta) ([]*corev1.Secret, Credentials) {
	c := CredentialsData(in.Config, in.SecretValues)
	parts := splitCredentials(c.Data)
	out := make([]*corev1.Secret, len(parts))
	for i, d := range parts {
		out[i] = &corev1.Secret{TypeMeta: typeMeta("v1", "Secret"), ObjectMeta: meta(CredentialsSecretName(name, i)),
			Type: corev1.SecretTypeOpaque, Data: d}
	}
	return out, c
}

// CredentialsSecretName is credentials Secret i of the agent objects named name.
func CredentialsSecretName(name string, i int) string {
	if i == 0 {
		return name + "-credentials"
	}
	return fmt.Sprintf("%s-credentials-%d", name, i)
}

// splitCredentials returns data whole when it fits in one Secret, and otherwise in the
// fewest parts, a power of two, whose every part fits.
func splitCredentials(data map[string][]byte) []map[string][]byte {
	total := 0
	for k, v := range data {
		total += len(k) + len(v)
	}
	if total <= maxCredentialsBytes {
		return []map[string][]byte{data}
	}
	for n := 2; ; n *= 2 {
		parts, sizes := make([]map[string][]byte, n), make([]int, n)
		for i := range parts {
			parts[i] = map[string][]byte{}
		}
		for k, v := range data {
			h := fnv.New32a()
			h.Write([]byte(k))
			i := h.Sum32() & uint32(n-1)
			parts[i][k] = v
			sizes[i] += len(k) + len(v)
		}
		if slices.Max(sizes) <= maxCredentialsBytes || n == maxCredentialsSecrets {
			return parts
		}
	}
}

// credentialsHolder maps each credentials key to the Secret that holds it.
func credentialsHolder(secrets []*corev1.Secret) map[string]string {
	holder := map[string]string{}
	for _, s := range secrets {
		for k := range s.Data {
			holder[k] = s.Name
		}
	}
	return holder
}

// Credentials are the secret values a configuration refers to, laid out as Secret data.
type Credentials struct {
	// Data holds env vars by name, mounted files by FileKey, and the AWS shared
	// credentials file under AWSCredentialsKey.
	Data map[string][]byte
	// Missing lists the keys the values had no value for.
	Missing []render.SecretSource
	// Refused lists values that were not written because they do not fit their use.
	Refused []RefusedValue
}

// RefusedValue is a Secret value CredentialsData did not write, and why.
type RefusedValue struct {
	Source render.SecretSource
	Why    string
}

// refusedKey stands in the AWS credentials file for a value that was refused. A
// profile must stay: an output whose profile is missing falls through Fluent Bit's
// credential chain to the agent's own identity (IRSA, the node's role), so the profile
// keeps keys that AWS refuses instead.
const refusedKey = "REFUSEDBYLOGPLANE"

// CredentialsData lays out the secret values a configuration refers to as Secret
// data. The AWS shared credentials file is one file for every output of the process
// (Fluent Bit reads it from AWS_SHARED_CREDENTIALS_FILE, one per process; an output
// can only choose a profile in it), so only values with the shape of AWS keys are
// written into it: anything else, a line break above all, could add a profile of its
// author's choosing — a [default] one would be used by every output that relies on the
// node's identity. The renderer leaves out the outputs of such values already
// (secretvalue); this refuses them again for any caller.
func CredentialsData(cfg render.Config, values map[render.SecretSource][]byte) Credentials {
	c := Credentials{Data: map[string][]byte{}}
	value := func(src render.SecretSource) []byte {
		v, ok := values[src]
		if !ok {
			c.Missing = append(c.Missing, src)
		}
		return v
	}
	for _, e := range cfg.Env {
		c.Data[e.Name] = c.fit(e.Source, value(e.Source), secretvalue.SingleLine|secretvalue.Bounded)
	}
	for _, f := range cfg.SecretFiles {
		c.Data[FileKey(f.Path)] = c.fit(f.Source, value(f.Source), secretvalue.Bounded)
	}
	if len(cfg.AWSProfiles) > 0 {
		var b []byte
		for _, p := range cfg.AWSProfiles {
			id := c.awsValue(p.AccessKeyID, value(p.AccessKeyID), secretvalue.AWSAccessKeyID)
			secret := c.awsValue(p.SecretAccessKey, value(p.SecretAccessKey), secretvalue.AWSSecretAccessKey)
			b = fmt.Appendf(b, "[%s]\naws_access_key_id = %s\naws_secret_access_key = %s\n\n", p.Name, id, secret)
		}
		c.Data[AWSCredentialsKey] = b
	}
	return c
}

// awsValue is what the credentials file holds for a value of src meant for use: the
// value without surrounding white space, or refusedKey.
func (c *Credentials) awsValue(src render.SecretSource, v []byte, use secretvalue.Use) []byte {
	if v == nil {
		return nil // missing, and reported so
	}
	if secretvalue.Uses(v)&use == 0 {
		c.Refused = append(c.Refused, RefusedValue{Source: src, Why: secretvalue.Why(v, use)})
		return []byte(refusedKey)
	}
	return secretvalue.Trim(v)
}

// fit is what the agent's credentials hold for a value of src meant for use: the value
// itself (an environment variable's without surrounding white space, which a file
// given to kubectl create secret --from-file ends with), or refusedKey. A value too
// large would make every credentials Secret fail to apply, for every tenant.
func (c *Credentials) fit(src render.SecretSource, v []byte, use secretvalue.Use) []byte {
	if v == nil {
		return nil // missing, and reported so
	}
	if secretvalue.Uses(v)&use != use {
		c.Refused = append(c.Refused, RefusedValue{Source: src, Why: secretvalue.Why(v, use)})
		return []byte(refusedKey)
	}
	if use&secretvalue.SingleLine != 0 {
		return secretvalue.Trim(v)
	}
	return v
}

// FileKey is the Secret key of a secret file mounted at path under render.SecretFilesDir.
func FileKey(path string) string { return path[len(render.SecretFilesDir)+1:] }

// credentialsHash is a hash of the credentials, so that a rotated password restarts
// the agents too. It is taken over the values, wherever they are held.
func credentialsHash(secrets []*corev1.Secret) string {
	data := map[string][]byte{}
	for _, s := range secrets {
		maps.Copy(data, s.Data)
	}
	h := sha256.New()
	for _, k := range slices.Sorted(maps.Keys(data)) {
		fmt.Fprintf(h, "%s=%d:", k, len(data[k]))
		h.Write(data[k])
	}
	return hex.EncodeToString(h.Sum(nil))[:20]
}
