package fbrun

import (
	"bytes"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/logplane/logplane/test/testcerts"
)

var (
	envRef      = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)
	fileCred    = regexp.MustCompile(`(?m)^(?:# )?file (\S+) = (?:secret \S+ key (\S+)|\S+\[([^\]]+)\])$`)
	profileCred = regexp.MustCompile(`(?m)^(?:# )?aws profile (\S+) = `)
)

// StandInCredentials gives p what the agent's credentials Secrets would: a value for
// every ${VAR} its files use, a file for every "file PATH = ... key K" line of creds
// (a certificate where K is ca.crt, tls.crt or tls.key, since Fluent Bit loads those at
// start), and, for "aws profile P" lines, an AWS shared credentials file at awsFile.
// creds is the credential listing the renderer's goldens carry.
func (p *Pod) StandInCredentials(creds, awsFile string, certs testcerts.Certs) {
	if p.Files == nil {
		p.Files = map[string][]byte{}
	}
	var names []string
	for _, f := range p.Files {
		for _, m := range envRef.FindAllStringSubmatch(string(f), -1) {
			names = append(names, m[1])
		}
	}
	slices.Sort(names)
	for _, n := range slices.Compact(names) {
		if !slices.ContainsFunc(p.Env, func(e string) bool { return strings.HasPrefix(e, n+"=") }) {
			p.Env = append(p.Env, n+"=value-of-"+strings.ToLower(n))
		}
	}
	for _, m := range fileCred.FindAllStringSubmatch(creds, -1) {
		switch key := m[2] + m[3]; key {
		case "ca.crt":
			p.Files[m[1]] = certs.CA
		case "tls.crt":
			p.Files[m[1]] = certs.Cert
		case "tls.key":
			p.Files[m[1]] = certs.Key
		default:
			p.Files[m[1]] = []byte("value-of-" + key)
		}
	}
	var aws strings.Builder
	for _, m := range profileCred.FindAllStringSubmatch(creds, -1) {
		fmt.Fprintf(&aws, "[%s]\naws_access_key_id = AKIAEXAMPLE\naws_secret_access_key = example\n", m[1])
	}
	if aws.Len() > 0 {
		p.Files[awsFile] = []byte(aws.String())
		p.Env = append(p.Env, "AWS_SHARED_CREDENTIALS_FILE="+awsFile)
	}
}

// ReadsAPIServer tells a configuration that asks the API server at start (the
// kubernetes filter, the events input): such a configuration can only be proven
// against one.
func ReadsAPIServer(cfg []byte) bool {
	return bytes.Contains(cfg, []byte(`name: "kubernetes"`)) || bytes.Contains(cfg, []byte(`name: "kubernetes_events"`))
}
