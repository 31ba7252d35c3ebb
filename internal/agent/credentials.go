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
func credentialsSecrets(in Input, name string, meta func(string) metav1.ObjectMeta) ([]*corev1.Secret, []render.SecretSource) {
	data, missing := CredentialsData(in.Config, in.SecretValues)
	parts := splitCredentials(data)
	out := make([]*corev1.Secret, len(parts))
	for i, d := range parts {
		out[i] = &corev1.Secret{TypeMeta: typeMeta("v1", "Secret"), ObjectMeta: meta(CredentialsSecretName(name, i)),
			Type: corev1.SecretTypeOpaque, Data: d}
	}
	return out, missing
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

// CredentialsData lays out the secret values a configuration refers to as Secret
// data: env vars by name, mounted files by FileKey, and the AWS shared credentials
// file under AWSCredentialsKey. Missing lists the keys values has no value for.
func CredentialsData(cfg render.Config, values map[render.SecretSource][]byte) (data map[string][]byte, missing []render.SecretSource) {
	data = map[string][]byte{}
	value := func(src render.SecretSource) []byte {
		v, ok := values[src]
		if !ok {
			missing = append(missing, src)
		}
		return v
	}
	for _, e := range cfg.Env {
		data[e.Name] = value(e.Source)
	}
	for _, f := range cfg.SecretFiles {
		data[FileKey(f.Path)] = value(f.Source)
	}
	if len(cfg.AWSProfiles) > 0 {
		var b []byte
		for _, p := range cfg.AWSProfiles {
			b = fmt.Appendf(b, "[%s]\naws_access_key_id = %s\naws_secret_access_key = %s\n\n",
				p.Name, value(p.AccessKeyID), value(p.SecretAccessKey))
		}
		data[AWSCredentialsKey] = b
	}
	return data, missing
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
