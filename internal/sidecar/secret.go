package sidecar

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/logplane/logplane/internal/agent"
	"github.com/logplane/logplane/internal/render"
)

// maxSecretBytes keeps a sidecar Secret under the API's 1 MiB limit with room for metadata.
const maxSecretBytes = 1000 * 1024

// BuildSecret lays out one pipeline's sidecar Secret: its configuration files and the
// credential values they refer to (which all live in the pipeline's namespace: the
// renderer refuses anything else for a sidecar). Missing lists values not provided; a
// value that does not fit its use (agent.CredentialsData) is an error.
func BuildSecret(pipeline, namespace string, cfg render.Config, values map[render.SecretSource][]byte) (*corev1.Secret, []render.SecretSource, error) {
	c := agent.CredentialsData(cfg, values)
	if len(c.Refused) > 0 {
		r := c.Refused[0]
		return nil, nil, fmt.Errorf("secret %s/%s key %s %s", r.Source.Namespace, r.Source.Name, r.Source.Key, r.Why)
	}
	data, missing := c.Data, c.Missing
	m := Manifest{AWS: len(cfg.AWSProfiles) > 0}
	for _, e := range cfg.Env {
		m.Env = append(m.Env, e.Name)
	}
	for _, f := range cfg.SecretFiles {
		m.SecretFiles = append(m.SecretFiles, agent.FileKey(f.Path))
	}
	credentials := credentialsHash(data)
	size := 0
	for _, f := range cfg.Files {
		if _, taken := data[f.Name]; taken {
			return nil, nil, fmt.Errorf("configuration file %s collides with a credential key", f.Name)
		}
		data[f.Name] = f.Content
		m.Files = append(m.Files, f.Name)
	}
	for _, v := range data {
		size += len(v)
	}
	if size > maxSecretBytes {
		return nil, nil, fmt.Errorf("the sidecar configuration takes %d bytes, more than a Secret holds", size)
	}
	// Environment variables are read when Fluent Bit starts: a rotated password makes
	// running sidecars outdated just as a configuration change does.
	m.Hash = cfg.Hash + "-" + credentials
	return &corev1.Secret{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
		ObjectMeta: metav1.ObjectMeta{
			Name: SecretName(pipeline), Namespace: namespace,
			Labels:      map[string]string{agent.LabelManagedBy: "logplane", agent.LabelComponent: ComponentSidecar},
			Annotations: map[string]string{AnnotationManifest: m.Encode()},
		},
		Type: corev1.SecretTypeOpaque,
		Data: data,
	}, missing, nil
}

func credentialsHash(data map[string][]byte) string {
	keys := make([]string, 0, len(data))
	for k := range data {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	h := sha256.New()
	for _, k := range keys {
		fmt.Fprintf(h, "%s=%d:", k, len(data[k]))
		h.Write(data[k])
	}
	return hex.EncodeToString(h.Sum(nil))[:12]
}

func shortHash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])[:10]
}
