package render

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base32"
	"maps"
	"slices"
	"strings"

	v1 "github.com/logplane/logplane/api/v1alpha1"
	"github.com/logplane/logplane/internal/fluentbit"
)

// SecretSource is one key of a Secret whose value Fluent Bit needs.
type SecretSource struct {
	Namespace string
	Name      string
	Key       string
}

// EnvVar is an environment variable of the Fluent Bit container, filled from a Secret
// key; the configuration refers to it as ${Name}.
type EnvVar struct {
	Name   string
	Source SecretSource
}

// SecretFile is a Secret key mounted as a file (TLS material); the configuration
// refers to it by Path, which lies under SecretFilesDir.
type SecretFile struct {
	Path   string
	Source SecretSource
}

// AWSProfile is a profile of the agent's shared AWS credentials file (mounted at
// AWSCredentialsFile), which the controller assembles from the two Secret keys. Fluent
// Bit reads static AWS keys only from its process environment or that file; a profile
// per output keeps two outputs' keys apart.
type AWSProfile struct {
	Name            string
	AccessKeyID     SecretSource
	SecretAccessKey SecretSource
}

// Where the controller mounts secret material in the Fluent Bit container.
const (
	SecretFilesDir     = "/fluent-bit/secrets"
	AWSCredentialsFile = "/fluent-bit/aws/credentials"
)

// secretID derives a stable identifier from the Secret key it stands for: a hash, so
// that two tenants' Secrets never share a name and the order of resources does not
// matter. The hash is keyed with the operator's salt (snapshot.Snapshot.Salt), which no
// tenant can read: otherwise anyone could work out the environment variable, file or
// AWS profile that holds another tenant's Secret key from its namespace and name, and
// name it wherever a configuration value can name one. Without a salt (logplane render
// without the salt Secret) it is a plain SHA-256.
func secretID(salt []byte, s SecretSource) string {
	var id [idLen]byte
	return string(appendSecretID(id[:0], salt, s))
}

// idLen is the length of a secretID: 15 bytes of hash in base32.
const idLen = 24

// appendSecretID appends secretID(salt, s) to dst.
func appendSecretID(dst, salt []byte, s SecretSource) []byte {
	var in [512]byte // on the stack for any Secret key the API allows
	msg := append(append(append(append(append(in[:0], s.Namespace...), 0), s.Name...), 0), s.Key...)
	var sum [sha256.Size]byte
	if len(salt) == 0 {
		sum = sha256.Sum256(msg)
	} else {
		mac := hmac.New(sha256.New, salt)
		mac.Write(msg)
		mac.Sum(sum[:0])
	}
	// The standard alphabet is upper case already.
	return idEncoding.AppendEncode(dst, sum[:15])
}

var idEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// credentials collects the secret material one configuration file uses.
type credentials struct {
	env      map[string]EnvVar
	files    map[string]SecretFile
	profiles map[string]AWSProfile
	// ids remembers the environment variable per Secret key, shared by the
	// credentials of one file.
	ids map[SecretSource]string
}

func newCredentials() *credentials {
	return &credentials{env: map[string]EnvVar{}, files: map[string]SecretFile{}, profiles: map[string]AWSProfile{},
		ids: map[SecretSource]string{}}
}

// sharing returns empty credentials that share c's identifiers.
func (c *credentials) sharing() *credentials {
	return &credentials{env: map[string]EnvVar{}, files: map[string]SecretFile{}, profiles: map[string]AWSProfile{}, ids: c.ids}
}

// merge adds o's material to c.
func (c *credentials) merge(o *credentials) {
	maps.Copy(c.env, o.env)
	maps.Copy(c.files, o.files)
	maps.Copy(c.profiles, o.profiles)
}

// reset empties c, keeping its identifiers.
func (c *credentials) reset() {
	clear(c.env)
	clear(c.files)
	clear(c.profiles)
}

// envName is the environment variable that carries s, "LP_" and secretID(salt, s),
// worked out once per file (one render has one salt).
func (c *credentials) envName(salt []byte, s SecretSource) string {
	name, ok := c.ids[s]
	if !ok {
		var buf [len(envPrefix) + idLen]byte
		name = string(appendSecretID(append(buf[:0], envPrefix...), salt, s)) // one allocation
		c.ids[s] = name
	}
	return name
}

const envPrefix = "LP_"

func source(namespace string, r v1.SecretKeyRef) SecretSource {
	return SecretSource{Namespace: namespace, Name: string(r.Name), Key: r.Key}
}

// envRef returns the ${ENV} value that carries a Secret key.
func (c *credentials) envRef(salt []byte, namespace string, r v1.SecretKeyRef) fluentbit.Value {
	src := source(namespace, r)
	name := c.envName(salt, src)
	c.env[name] = EnvVar{Name: name, Source: src}
	return fluentbit.Env(name)
}

// fileRef returns the path at which a Secret key is mounted.
func (c *credentials) fileRef(salt []byte, namespace string, r v1.SecretKeyRef) string {
	src := source(namespace, r)
	path := SecretFilesDir + "/" + strings.ToLower(secretID(salt, src))
	c.files[path] = SecretFile{Path: path, Source: src}
	return path
}

// profile returns the name of the AWS profile holding static keys.
func (c *credentials) profile(salt []byte, namespace string, k *v1.AWSCredentials) string {
	id := source(namespace, k.AccessKeyID)
	secret := source(namespace, k.SecretAccessKey)
	name := "lp-" + strings.ToLower(secretID(salt, SecretSource{Namespace: namespace, Name: id.Name + "/" + secret.Name, Key: id.Key + "/" + secret.Key}))
	c.profiles[name] = AWSProfile{Name: name, AccessKeyID: id, SecretAccessKey: secret}
	return name
}

func sortedValues[K ~string, V any](m map[K]V) []V {
	out := make([]V, 0, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		out = append(out, m[k])
	}
	return out
}

// SecretSources lists every Secret key a configuration needs the value of.
func (c Config) SecretSources() []SecretSource {
	var out []SecretSource
	for _, e := range c.Env {
		out = append(out, e.Source)
	}
	for _, f := range c.SecretFiles {
		out = append(out, f.Source)
	}
	for _, p := range c.AWSProfiles {
		out = append(out, p.AccessKeyID, p.SecretAccessKey)
	}
	return out
}

// gather lists the values of one kind of credentials of the sections of a file, by
// key, once each (equal keys stand for equal values). Sorting one list costs less than
// merging thousands of small maps into one.
func gather[V any](sections []*credentials, kind func(*credentials) map[string]V) []V {
	if len(sections) == 1 {
		return sortedValues(kind(sections[0]))
	}
	// Keys and positions are sorted, not whole entries: a third of the bytes to move.
	type entry struct {
		key string
		at  int32
	}
	n := 0
	for _, c := range sections {
		n += len(kind(c))
	}
	keys := make([]entry, 0, n)
	values := make([]V, 0, n)
	for _, c := range sections {
		for k, v := range kind(c) {
			keys = append(keys, entry{k, int32(len(values))})
			values = append(values, v)
		}
	}
	slices.SortFunc(keys, func(a, b entry) int { return strings.Compare(a.key, b.key) })
	keys = slices.CompactFunc(keys, func(a, b entry) bool { return a.key == b.key })
	out := make([]V, len(keys))
	for i, e := range keys {
		out[i] = values[e.at]
	}
	return out
}
