package retention

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	v1 "github.com/logplane/logplane/api/v1alpha1"
)

// exchange is one request a fake destination expects and the answer it gives, taken
// from what the real service sends (documented examples, trimmed).
type exchange struct {
	// call identifies the request: "METHOD /path?query" or, for AWS JSON protocols,
	// the X-Amz-Target operation.
	call   string
	status int
	header map[string]string
	body   string
}

// recorded is a request the fake received.
type recorded struct {
	call   string
	header http.Header
	body   string
}

// fakeDestination answers exchanges in order and records every request; a request out
// of order fails the test, so the applier's exact sequence of calls is part of it.
type fakeDestination struct {
	t        *testing.T
	mu       sync.Mutex
	script   []exchange
	requests []recorded
	server   *httptest.Server
}

func newFake(t *testing.T, tlsServer bool, script ...exchange) *fakeDestination {
	f := &fakeDestination{t: t, script: script}
	handler := http.HandlerFunc(f.serve)
	if tlsServer {
		f.server = httptest.NewTLSServer(handler)
	} else {
		f.server = httptest.NewServer(handler)
	}
	t.Cleanup(f.server.Close)
	return f
}

func callOf(r *http.Request) string {
	if target := r.Header.Get("X-Amz-Target"); target != "" {
		return target
	}
	call := r.Method + " " + r.URL.Path
	if r.URL.RawQuery != "" {
		call += "?" + r.URL.RawQuery
	}
	return call
}

func (f *fakeDestination) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	defer f.mu.Unlock()
	call := callOf(r)
	f.requests = append(f.requests, recorded{call: call, header: r.Header.Clone(), body: string(body)})
	if len(f.script) == 0 {
		f.t.Errorf("unexpected request %s", call)
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	next := f.script[0]
	if next.call != call {
		f.t.Errorf("request %s, want %s", call, next.call)
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	f.script = f.script[1:]
	for k, v := range next.header {
		w.Header().Set(k, v)
	}
	w.WriteHeader(next.status)
	_, _ = io.WriteString(w, next.body)
}

// done fails the test when expected requests were not made.
func (f *fakeDestination) done() {
	f.t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, e := range f.script {
		f.t.Errorf("expected request %s was not made", e.call)
	}
}

func (f *fakeDestination) calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]string, len(f.requests))
	for i, r := range f.requests {
		out[i] = r.call
	}
	return out
}

func (f *fakeDestination) request(call string) recorded {
	f.t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, r := range f.requests {
		if r.call == call {
			return r
		}
	}
	f.t.Fatalf("no request %s among %d", call, len(f.requests))
	return recorded{}
}

// secrets serves Secret values from a map keyed "name/key".
func secrets(values map[string]string) SecretValue {
	return func(_ context.Context, ref v1.SecretKeyRef) (string, error) {
		v, ok := values[string(ref.Name)+"/"+ref.Key]
		if !ok {
			return "", fmt.Errorf("%w: %s/%s", ErrSecretNotFound, ref.Name, ref.Key)
		}
		return v, nil
	}
}

// staticAWS is an aws block with keys from the Secret "aws", reaching endpoint.
func staticAWS(endpoint string) v1.AWSAuth {
	return v1.AWSAuth{Region: "eu-west-1", Endpoint: ptr(v1.EndpointURL(endpoint)), Credentials: &v1.AWSCredentials{
		AccessKeyID:     v1.SecretKeyRef{Name: "aws", Key: "id"},
		SecretAccessKey: v1.SecretKeyRef{Name: "aws", Key: "secret"},
	}}
}

var awsKeys = map[string]string{"aws/id": "AKIDEXAMPLE", "aws/secret": "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"}

// assertSigV4 checks the Authorization header has the shape AWS verifies: algorithm,
// credential scope for the service and region, signed headers including host, and a
// 64-hex signature.
func assertSigV4(t *testing.T, h http.Header, keyID, service string) {
	t.Helper()
	auth := h.Get("Authorization")
	prefix := "AWS4-HMAC-SHA256 Credential=" + keyID + "/"
	scope := "/eu-west-1/" + service + "/aws4_request, SignedHeaders="
	if !strings.HasPrefix(auth, prefix) || !strings.Contains(auth, scope) || !strings.Contains(auth, "host;") {
		t.Errorf("Authorization %q is not SigV4 for %s with %s", auth, service, keyID)
	}
	i := strings.Index(auth, "Signature=")
	if i < 0 || len(auth)-i-len("Signature=") != 64 || h.Get("X-Amz-Date") == "" {
		t.Errorf("Authorization %q has no 64-hex signature, or X-Amz-Date is missing", auth)
	}
}

func target(kind, ns, name string, spec v1.OutputSpec) Target {
	return Target{Output: v1.ObjectReference{Kind: kind, Namespace: ns, Name: name}, Spec: &spec}
}
