package sink

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// The fakes' verifier accepts what the AWS SDK signs and refuses a request whose
// body, query or secret differs, so that a pass in e2e means Fluent Bit signed
// correctly with the credentials the fake expects.
func TestSigV4VerifierAgreesWithTheSDK(t *testing.T) {
	sign := func(body, query string) (*http.Request, []byte) {
		r, err := http.NewRequest(http.MethodPost, "https://logs.aws.test/?"+query, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		r.Header.Set("X-Amz-Target", "Logs_20140328.PutLogEvents")
		sum := sha256.Sum256([]byte(body))
		creds := aws.Credentials{AccessKeyID: "AKID", SecretAccessKey: "secret", SessionToken: "token"}
		if err := v4.NewSigner().SignHTTP(t.Context(), creds, r, hex.EncodeToString(sum[:]), "logs", "eu-west-1", time.Now()); err != nil {
			t.Fatal(err)
		}
		r.Host = r.URL.Host
		return r, []byte(body)
	}
	verify := func(r *http.Request, body []byte, secret string) error {
		s, err := parseSigV4(r.Header.Get("Authorization"))
		if err != nil {
			return err
		}
		return s.verify(r, body, secret)
	}

	r, body := sign(`{"logGroupName":"g"}`, "b=2&a=1&arn=arn%3Aaws%3Aiam%3A%3A1%3Arole%2Fx")
	if err := verify(r, body, "secret"); err != nil {
		t.Fatalf("a request the SDK signed was refused: %v", err)
	}
	if err := verify(r, body, "other"); err == nil {
		t.Error("a request signed with another secret was accepted")
	}
	if err := verify(r, []byte(`{"logGroupName":"h"}`), "secret"); err == nil {
		t.Error("a request whose body changed was accepted")
	}
	r.URL.RawQuery = "a=1&b=3"
	if err := verify(r, body, "secret"); err == nil {
		t.Error("a request whose query changed was accepted")
	}
}
