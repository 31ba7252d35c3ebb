package retention

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"

	v1 "github.com/logplane/logplane/api/v1alpha1"
)

// requestTimeout bounds one call to a destination, so a hung endpoint costs one
// output's result, never the reconciler.
const requestTimeout = 30 * time.Second

// tlsConfig trusts and presents what the output's tls block says, as its agent does;
// nil without a tls block (the system's roots).
func tlsConfig(ctx context.Context, t *v1.TLS, secret SecretValue) (*tls.Config, error) {
	if t == nil {
		return nil, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: t.InsecureSkipVerify} //nolint:gosec // the user's explicit choice, documented as testing only
	if t.ServerName != nil {
		cfg.ServerName = string(*t.ServerName)
	}
	if t.CA != nil {
		pem, err := secret(ctx, *t.CA)
		if err != nil {
			return nil, err
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM([]byte(pem)) {
			return nil, fmt.Errorf("tls.ca %s/%s holds no PEM certificate", t.CA.Name, t.CA.Key)
		}
		cfg.RootCAs = pool
	}
	if t.Cert != nil && t.Key != nil {
		cert, err := secret(ctx, *t.Cert)
		if err != nil {
			return nil, err
		}
		key, err := secret(ctx, *t.Key)
		if err != nil {
			return nil, err
		}
		pair, err := tls.X509KeyPair([]byte(cert), []byte(key))
		if err != nil {
			return nil, fmt.Errorf("tls.cert and tls.key do not form a key pair: %w", err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	return cfg, nil
}

// newHTTPClient is the client for REST destinations.
func newHTTPClient(ctx context.Context, t *v1.TLS, secret SecretValue) (*http.Client, error) {
	cfg, err := tlsConfig(ctx, t, secret)
	if err != nil {
		return nil, err
	}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	if cfg != nil {
		transport.TLSClientConfig = cfg
	}
	return &http.Client{Transport: transport, Timeout: requestTimeout}, nil
}

// newAWSHTTPClient is the client for AWS services: the SDK's own buildable client, which
// it can still extend (AWS_CA_BUNDLE adds roots to it; a plain http.Client makes the
// SDK refuse to load).
func newAWSHTTPClient(ctx context.Context, t *v1.TLS, secret SecretValue) (*awshttp.BuildableClient, error) {
	cfg, err := tlsConfig(ctx, t, secret)
	if err != nil {
		return nil, err
	}
	client := awshttp.NewBuildableClient().WithTimeout(requestTimeout)
	if cfg != nil {
		client = client.WithTransportOptions(func(tr *http.Transport) { tr.TLSClientConfig = cfg.Clone() })
	}
	return client, nil
}

// restClient calls a search cluster's documented REST API with the output's credentials.
type restClient struct {
	http *http.Client
	base string // scheme://host:port/path, without a trailing slash
	// authorize adds credentials to a request whose body is payload.
	authorize func(ctx context.Context, req *http.Request, payload []byte) error
}

// restError is a non-2xx answer. Only its status is kept: the body is the
// destination's text (see errors.go).
type restError struct {
	Status int
}

func (e *restError) Error() string { return fmt.Sprintf("HTTP %d", e.Status) }

// do sends method path with body (nil for none) and returns the answer's body;
// a 404 returns (nil, nil) only when allowNotFound.
func (c *restClient) do(ctx context.Context, method, path string, body any, allowNotFound bool) ([]byte, error) {
	var payload []byte
	if body != nil {
		var err error
		if raw, ok := body.([]byte); ok {
			payload = raw
		} else if payload, err = json.Marshal(body); err != nil {
			return nil, err
		}
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, bytes.NewReader(payload))
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	if err := c.authorize(ctx, req, payload); err != nil {
		// An STS error is an answer from an endpoint the output may name too.
		return nil, &DestinationError{Unreachable: "the output's AWS credentials could not be obtained"}
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer func() { _ = resp.Body.Close() }()
	switch {
	case resp.StatusCode == http.StatusNotFound && allowNotFound:
		return nil, nil
	case resp.StatusCode >= 300:
		return nil, &restError{Status: resp.StatusCode} // the body is never read
	}
	answer, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return nil, err
	}
	return answer, nil
}

func isNotFound(err error) bool {
	e, ok := err.(*restError)
	return ok && e.Status == http.StatusNotFound
}

func basicAuth(user, password string) func(context.Context, *http.Request, []byte) error {
	return func(_ context.Context, req *http.Request, _ []byte) error {
		req.SetBasicAuth(user, password)
		return nil
	}
}

func headerAuth(name, value string) func(context.Context, *http.Request, []byte) error {
	return func(_ context.Context, req *http.Request, _ []byte) error {
		req.Header.Set(name, value)
		return nil
	}
}

func noAuth(context.Context, *http.Request, []byte) error { return nil }

// sigV4 signs requests for Amazon OpenSearch Service (service es) with the SDK's signer.
func sigV4(creds aws.CredentialsProvider, service, region string, now func() time.Time) func(context.Context, *http.Request, []byte) error {
	signer := v4.NewSigner()
	return func(ctx context.Context, req *http.Request, payload []byte) error {
		c, err := creds.Retrieve(ctx)
		if err != nil {
			return fmt.Errorf("failed to get AWS credentials: %w", err)
		}
		sum := sha256.Sum256(payload)
		hash := hex.EncodeToString(sum[:])
		// Amazon OpenSearch checks the payload hash header when present.
		req.Header.Set("X-Amz-Content-Sha256", hash)
		return signer.SignHTTP(ctx, c, req, hash, service, region, now())
	}
}
