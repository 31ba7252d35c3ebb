// Package certs manages the webhook's serving certificate when nothing else does: a
// CA and a serving certificate it signs, kept in a Secret in the operator's namespace,
// written to the directory the webhook server's certificate watcher reads, and the CA
// bundle patched into the MutatingWebhookConfiguration. Rotation never interrupts
// admission: a new CA is first added to the trusted bundle beside the old one, and
// only a later pass, once the API server trusts it, issues a serving certificate from
// it; an old CA leaves the bundle only when it has expired.
//
// Plan, the decision, is pure and takes the time as an argument; Rotator carries it
// out against the API server.
package certs

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"time"
)

// Keys of the certificate Secret. tls.crt and tls.key are what the webhook server
// and OLM/cert-manager use too.
const (
	KeyCACert = "ca.crt" // PEM bundle of every trusted CA, newest first
	KeyCAKey  = "ca.key" // key of the newest CA
	KeyCert   = "tls.crt"
	KeyKey    = "tls.key"
)

// Lifetimes: a CA outlives many serving certificates, and each is replaced once a
// third of its life remains — months ahead, so a stopped operator has time to recover.
var (
	CALifetime      = 5 * 365 * 24 * time.Hour
	ServingLifetime = 365 * 24 * time.Hour
)

// renewWhenLeft is the fraction of its lifetime left at which a certificate is replaced.
const renewWhenLeft = 3

// Bundle is the parsed content of the certificate Secret.
type Bundle struct {
	CAs     []*x509.Certificate // newest first
	CAKey   *ecdsa.PrivateKey
	Serving *x509.Certificate
	Key     *ecdsa.PrivateKey
}

// Parse reads the Secret's data; any part may be missing or invalid, which Plan then sees.
func Parse(data map[string][]byte) *Bundle {
	b := &Bundle{}
	rest := data[KeyCACert]
	for {
		var blk *pem.Block
		blk, rest = pem.Decode(rest)
		if blk == nil {
			break
		}
		if c, err := x509.ParseCertificate(blk.Bytes); err == nil && c.IsCA {
			b.CAs = append(b.CAs, c)
		}
	}
	b.CAKey = parseKey(data[KeyCAKey])
	if blk, _ := pem.Decode(data[KeyCert]); blk != nil {
		b.Serving, _ = x509.ParseCertificate(blk.Bytes)
	}
	b.Key = parseKey(data[KeyKey])
	return b
}

func parseKey(data []byte) *ecdsa.PrivateKey {
	blk, _ := pem.Decode(data)
	if blk == nil {
		return nil
	}
	k, err := x509.ParseECPrivateKey(blk.Bytes)
	if err != nil {
		return nil
	}
	return k
}

// Data writes b as Secret data.
func (b *Bundle) Data() map[string][]byte {
	var cas []byte
	for _, c := range b.CAs {
		cas = append(cas, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	return map[string][]byte{
		KeyCACert: cas,
		KeyCAKey:  encodeKey(b.CAKey),
		KeyCert:   pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: b.Serving.Raw}),
		KeyKey:    encodeKey(b.Key),
	}
}

func encodeKey(k *ecdsa.PrivateKey) []byte {
	der, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		panic("certs: an ECDSA key does not marshal: " + err.Error())
	}
	return pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der})
}

// CABundle is the PEM the webhook configuration trusts.
func (b *Bundle) CABundle() []byte { return b.Data()[KeyCACert] }

// newCA makes a self-signed CA valid from now.
func newCA(now time.Time) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: fmt.Sprintf("logplane-webhook-ca-%d", now.Unix())},
		NotBefore:             now.Add(-time.Hour), // tolerate clock skew
		NotAfter:              now.Add(CALifetime),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, err
	}
	c, err := x509.ParseCertificate(der)
	return c, key, err
}

// newServing makes a serving certificate for dnsNames signed by ca.
func newServing(now time.Time, ca *x509.Certificate, caKey *ecdsa.PrivateKey, dnsNames []string) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	notAfter := now.Add(ServingLifetime)
	if notAfter.After(ca.NotAfter) {
		notAfter = ca.NotAfter
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: dnsNames[0]},
		DNSNames:     dnsNames,
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return nil, nil, err
	}
	c, err := x509.ParseCertificate(der)
	return c, key, err
}

func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	if err != nil {
		panic("certs: no randomness: " + err.Error())
	}
	return n
}

// Action is what Plan decides.
type Action string

const (
	// ActionNone: everything is valid and trusted.
	ActionNone Action = "None"
	// ActionCreate: there is no usable CA; start over with a new CA and certificate.
	ActionCreate Action = "Create"
	// ActionStageCA: the CA nears its end; add a new one to the trusted bundle.
	ActionStageCA Action = "StageCA"
	// ActionIssue: issue a serving certificate from the newest CA.
	ActionIssue Action = "Issue"
	// ActionPrune: drop expired CAs from the bundle.
	ActionPrune Action = "Prune"
)

// Plan decides the next step for b at now. trusted says whether the webhook
// configuration's caBundle already holds the newest CA: a serving certificate from a
// CA the API server does not trust yet would fail every admission. The checks run in
// order and the first that applies wins.
func Plan(now time.Time, b *Bundle, dnsNames []string, trusted bool) (Action, string) {
	// 1. Without a CA and its key nothing can be signed; start over.
	if len(b.CAs) == 0 || b.CAKey == nil || !b.CAKey.PublicKey.Equal(b.CAs[0].PublicKey) || !valid(now, b.CAs[0]) {
		return ActionCreate, "no valid CA with its key"
	}
	// 2. Stage the next CA long before this one expires, so it is trusted everywhere
	// before any certificate depends on it.
	if nearEnd(now, b.CAs[0]) {
		return ActionStageCA, "the CA expires at " + b.CAs[0].NotAfter.Format(time.RFC3339)
	}
	// 3. A serving certificate that is missing, broken, expiring, for other names, or
	// from an older CA is replaced — from the newest CA only once that is trusted.
	if why := servingProblem(now, b, dnsNames); why != "" {
		if !trusted && b.Serving != nil && b.Key != nil && valid(now, b.Serving) && signedByAny(b.Serving, b.CAs) {
			return ActionNone, why + "; waiting until the webhook configuration trusts the new CA"
		}
		return ActionIssue, why
	}
	// 4. Expired CAs no longer sign anything in use.
	if slices.ContainsFunc(b.CAs, func(c *x509.Certificate) bool { return !now.Before(c.NotAfter) }) {
		return ActionPrune, "an old CA has expired"
	}
	return ActionNone, ""
}

func servingProblem(now time.Time, b *Bundle, dnsNames []string) string {
	switch {
	case b.Serving == nil || b.Key == nil || !b.Key.PublicKey.Equal(b.Serving.PublicKey):
		return "no serving certificate with its key"
	case !valid(now, b.Serving) || nearEnd(now, b.Serving):
		return "the serving certificate expires at " + b.Serving.NotAfter.Format(time.RFC3339)
	case !slices.Equal(b.Serving.DNSNames, dnsNames):
		return "the serving certificate is for other names"
	case b.Serving.CheckSignatureFrom(b.CAs[0]) != nil:
		return "the serving certificate is not from the newest CA"
	}
	return ""
}

func valid(now time.Time, c *x509.Certificate) bool {
	return !now.Before(c.NotBefore) && now.Before(c.NotAfter)
}

func nearEnd(now time.Time, c *x509.Certificate) bool {
	life := c.NotAfter.Sub(c.NotBefore)
	return c.NotAfter.Sub(now) < life/renewWhenLeft
}

func signedByAny(c *x509.Certificate, cas []*x509.Certificate) bool {
	return slices.ContainsFunc(cas, func(ca *x509.Certificate) bool { return c.CheckSignatureFrom(ca) == nil })
}

// Apply carries out action on a copy of b.
func Apply(now time.Time, action Action, b *Bundle, dnsNames []string) (*Bundle, error) {
	out := &Bundle{CAs: slices.Clone(b.CAs), CAKey: b.CAKey, Serving: b.Serving, Key: b.Key}
	switch action {
	case ActionCreate:
		ca, key, err := newCA(now)
		if err != nil {
			return nil, fmt.Errorf("failed to create CA: %w", err)
		}
		// Keep still-valid old CAs trusted: certificates from them may still be served.
		out.CAs = append([]*x509.Certificate{ca}, slices.DeleteFunc(out.CAs, func(c *x509.Certificate) bool { return !valid(now, c) })...)
		out.CAKey = key
		if out.Serving, out.Key, err = newServing(now, ca, key, dnsNames); err != nil {
			return nil, fmt.Errorf("failed to issue serving certificate: %w", err)
		}
	case ActionStageCA:
		ca, key, err := newCA(now)
		if err != nil {
			return nil, fmt.Errorf("failed to create CA: %w", err)
		}
		out.CAs = append([]*x509.Certificate{ca}, out.CAs...)
		out.CAKey = key
	case ActionIssue:
		var err error
		if out.Serving, out.Key, err = newServing(now, out.CAs[0], out.CAKey, dnsNames); err != nil {
			return nil, fmt.Errorf("failed to issue serving certificate: %w", err)
		}
	case ActionPrune:
		out.CAs = slices.DeleteFunc(out.CAs, func(c *x509.Certificate) bool { return !now.Before(c.NotAfter) })
	case ActionNone:
	default:
		return nil, errors.New("unknown action " + string(action))
	}
	return out, nil
}

// Trusts reports whether a PEM bundle holds ca.
func Trusts(bundle []byte, ca *x509.Certificate) bool {
	return bytes.Contains(bundle, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Raw}))
}

// DNSNames are the names the API server uses to reach the webhook Service.
func DNSNames(service, namespace string) []string {
	return []string{service + "." + namespace + ".svc", service + "." + namespace + ".svc.cluster.local"}
}
