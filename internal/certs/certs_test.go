package certs

import (
	"crypto/x509"
	"strings"
	"testing"
	"time"
)

var names = DNSNames("logplane-webhook-service", "logplane-system")

func fresh(t *testing.T, now time.Time) *Bundle {
	t.Helper()
	b, err := Apply(now, ActionCreate, &Bundle{}, names)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The decision chain, one case per rule and the interplay of rotation and trust.
func TestPlan(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	b := fresh(t, start)
	day := 24 * time.Hour
	other := fresh(t, start)
	cases := []struct {
		name    string
		now     time.Time
		bundle  *Bundle
		names   []string
		trusted bool
		want    Action
	}{
		{"empty Secret", start, &Bundle{}, names, false, ActionCreate},
		{"CA without key", start, &Bundle{CAs: b.CAs, Serving: b.Serving, Key: b.Key}, names, true, ActionCreate},
		{"CA key of another CA", start, &Bundle{CAs: b.CAs, CAKey: other.CAKey, Serving: b.Serving, Key: b.Key}, names, true, ActionCreate},
		{"expired CA", start.Add(CALifetime + day), b, names, true, ActionCreate},
		{"fresh and trusted", start.Add(day), b, names, true, ActionNone},
		{"fresh, bundle not patched yet", start.Add(day), b, names, false, ActionNone},
		{"serving cert at two thirds of its life", start.Add(ServingLifetime * 2 / 3).Add(day), b, names, true, ActionIssue},
		{"serving cert expired", start.Add(ServingLifetime + day), b, names, false, ActionIssue},
		{"other DNS names", start.Add(day), b, DNSNames("renamed", "logplane-system"), true, ActionIssue},
		{"no serving key", start, &Bundle{CAs: b.CAs, CAKey: b.CAKey, Serving: b.Serving}, names, true, ActionIssue},
		{"CA at two thirds of its life", start.Add(CALifetime * 2 / 3).Add(day), b, names, true, ActionStageCA},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, why := Plan(tc.now, tc.bundle, tc.names, tc.trusted)
			if got != tc.want {
				t.Fatalf("Plan = %s (%s), want %s", got, why, tc.want)
			}
		})
	}
}

// A CA rotation end to end: the new CA is staged beside the old one; the serving
// certificate stays on the old CA until the new one is trusted; expired CAs go.
func TestCARotationKeepsServingTrusted(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	b := fresh(t, start)
	now := start.Add(CALifetime * 2 / 3).Add(24 * time.Hour)
	// The serving certificate was renewed a day earlier, as it is every few months.
	b, err := Apply(now.Add(-24*time.Hour), ActionIssue, b, names)
	if err != nil {
		t.Fatal(err)
	}
	oldCA, oldServing := b.CAs[0], b.Serving

	step := func(trusted bool, want Action) {
		t.Helper()
		got, why := Plan(now, b, names, trusted)
		if got != want {
			t.Fatalf("Plan = %s (%s), want %s", got, why, want)
		}
		var err error
		if b, err = Apply(now, got, b, names); err != nil {
			t.Fatal(err)
		}
	}
	step(true, ActionStageCA)
	if len(b.CAs) != 2 || b.CAs[1] != oldCA || b.Serving != oldServing {
		t.Fatalf("staging changed more than the bundle: %d CAs", len(b.CAs))
	}
	// The bundle with the new CA is not patched in yet: keep serving the old certificate.
	step(false, ActionNone)
	if b.Serving != oldServing {
		t.Fatal("issued a certificate from an untrusted CA")
	}
	step(true, ActionIssue)
	if err := b.Serving.CheckSignatureFrom(b.CAs[0]); err != nil {
		t.Fatalf("new serving certificate not from the new CA: %v", err)
	}
	if !b.Serving.NotAfter.After(now.Add(ServingLifetime - time.Hour)) {
		t.Fatalf("new serving certificate ends at %s", b.Serving.NotAfter)
	}
	// Both CAs verify: a replica still serving the old certificate keeps working.
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b.CABundle()) {
		t.Fatal("bundle does not parse")
	}
	for _, c := range []*x509.Certificate{oldServing, b.Serving} {
		if _, err := c.Verify(x509.VerifyOptions{Roots: pool, DNSName: names[0], CurrentTime: now}); err != nil {
			t.Fatalf("a served certificate does not verify against the bundle: %v", err)
		}
	}
	now = oldCA.NotAfter.Add(time.Hour)
	if b, err = Apply(now.Add(-24*time.Hour), ActionIssue, b, names); err != nil {
		t.Fatal(err)
	}
	step(true, ActionPrune)
	if len(b.CAs) != 1 || b.CAs[0] == oldCA {
		t.Fatal("the expired CA stayed in the bundle")
	}
	step(true, ActionNone)
}

// The Secret's data round-trips through Parse.
func TestDataRoundTrip(t *testing.T) {
	b := fresh(t, time.Now())
	p := Parse(b.Data())
	if len(p.CAs) != 1 || !p.CAs[0].Equal(b.CAs[0]) || !p.Serving.Equal(b.Serving) || !p.Key.Equal(b.Key) || !p.CAKey.Equal(b.CAKey) {
		t.Fatal("Secret data does not round-trip")
	}
	if !Trusts(b.CABundle(), b.CAs[0]) || Trusts(nil, b.CAs[0]) {
		t.Fatal("Trusts is wrong")
	}
	if !strings.HasPrefix(string(b.Data()[KeyCert]), "-----BEGIN CERTIFICATE-----") {
		t.Fatal("tls.crt is not PEM")
	}
}
