package retention

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	v1 "github.com/logplane/logplane/api/v1alpha1"
)

// hostile bodies a destination (or whatever internal service a tenant names as one)
// may answer with: an internal page, error shapes of every service the appliers read,
// each carrying text the tenant must never see through a status.
var hostile = []struct {
	name, contentType, body string
}{
	{"html page", "text/html", `<html><head><title>Vault UI</title></head><body>root token SECRET-hvs.CAESIJ</body></html>`},
	{"elasticsearch error", "application/json", `{"error":{"root_cause":[{"type":"SECRET_type","reason":"SECRET reason"}],"type":"SECRET_type","reason":"SECRET reason"},"status":403}`},
	{"amazon json error", "application/json", `{"message":"SECRET message","Message":"SECRET Message"}`},
	{"aws json error with a known code", "application/x-amz-json-1.1", `{"__type":"AccessDeniedException","message":"SECRET arn:aws:iam::123:role/internal"}`},
	{"aws json error with its own code", "application/x-amz-json-1.1", `{"__type":"SECRET-code-token","message":"SECRET"}`},
	{"aws xml error", "application/xml", `<Error><Code>SECRET-code</Code><Message>SECRET message</Message><RequestId>SECRET-id</RequestId></Error>`},
	{"aws xml error with a known code", "application/xml", `<Error><Code>AccessDenied</Code><Message>SECRET message</Message></Error>`},
	{"a policy with an age that is text", "application/json",
		`{"logplane-clo.search":{"policy":{"phases":{"delete":{"min_age":"SECRET-age","actions":{"delete":{}}}}}},"policy":{"policy_id":"x","states":[{"name":"SECRET","actions":[],"transitions":[{"state_name":"delete","conditions":{"min_index_age":"SECRET-age"}}]}]},"_seq_no":1,"_primary_term":1}`},
	{"json that is not json", "application/json", `{"SECRET": SECRET-not-json`},
}

// Whatever a destination answers, the error that reaches a status carries a status
// code and our own words: no byte of the body. Every applier is called against
// every body at every status.
func TestDestinationErrorsCarryNoBody(t *testing.T) {
	appliers := []struct {
		name   string
		target func(srv *httptest.Server) Target
		values map[string]string
		// The AWS SDK retries a 5xx with backoff for seconds; a 403 is the same path.
		statuses []int
	}{
		{"opensearch", func(srv *httptest.Server) Target {
			host, port := hostPort(t, srv)
			return target("LogOutput", "team-a", "search", v1.OutputSpec{Type: v1.OutputOpenSearch, OpenSearch: &v1.OpenSearchOutput{
				Host: host, Port: port, SearchIndex: v1.SearchIndex{DailyIndexPrefix: "app"}}})
		}, nil, []int{200, 400, 403, 404, 500}},
		{"elasticsearch", func(srv *httptest.Server) Target {
			host, port := hostPort(t, srv)
			return target("LogOutput", "team-a", "search", v1.OutputSpec{Type: v1.OutputElasticsearch, Elasticsearch: &v1.ElasticsearchOutput{
				Host: host, Port: port, SearchIndex: v1.SearchIndex{DailyIndexPrefix: "app"}}})
		}, nil, []int{200, 400, 403, 404, 500}},
		{"s3", func(srv *httptest.Server) Target { return s3Target(srv.URL) }, awsKeys, []int{200, 400, 403, 404}},
		{"cloudwatch logs", func(srv *httptest.Server) Target { return cwTarget(srv.URL, true) }, awsKeys, []int{200, 400, 403, 404}},
	}
	for _, a := range appliers {
		for _, b := range hostile {
			for _, status := range a.statuses {
				srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					w.Header().Set("Content-Type", b.contentType)
					w.WriteHeader(status)
					_, _ = w.Write([]byte(b.body))
				}))
				applier, err := NewApplier(t.Context(), a.target(srv), secrets(a.values))
				if err != nil {
					t.Fatal(err)
				}
				// allowShortening: the write path is reached on a destination that keeps forever.
				_, err = Enforce(t.Context(), applier, 30, true)
				srv.Close()
				if err != nil && strings.Contains(strings.ToLower(err.Error()), "secret") {
					t.Errorf("%s, %s, HTTP %d: the error quotes the destination: %v", a.name, b.name, status, err)
				}
				if err == nil && status >= 400 {
					t.Errorf("%s, %s, HTTP %d: no error", a.name, b.name, status)
				}
			}
		}
	}
}

// Known AWS error codes are named (a user can act on AccessDenied); others are not.
func TestDestinationErrorNamesOnlyKnownAWSCodes(t *testing.T) {
	for _, tc := range []struct {
		body, want, not string
	}{
		{`{"__type":"AccessDeniedException","message":"SECRET"}`, "HTTP 400 (the destination refused the request), AWS error AccessDeniedException", "SECRET"},
		{`{"__type":"TotallyMadeUpException","message":"SECRET"}`, "HTTP 400 (the destination refused the request)", "MadeUp"},
	} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/x-amz-json-1.1")
			w.WriteHeader(400)
			_, _ = w.Write([]byte(tc.body))
		}))
		a, err := NewApplier(t.Context(), cwTarget(srv.URL, true), secrets(awsKeys))
		if err != nil {
			t.Fatal(err)
		}
		_, err = a.Current(t.Context())
		srv.Close()
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), tc.not) {
			t.Errorf("error %v, want %q and not %q", err, tc.want, tc.not)
		}
	}
}

// A destination that cannot be reached reads the same whether it refused or timed
// out, and names no address.
func TestUnreachableDestinationInOurWords(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	tg := s3Target(srv.URL)
	srv.Close() // nothing listens there now
	a, err := NewApplier(t.Context(), tg, secrets(awsKeys))
	if err != nil {
		t.Fatal(err)
	}
	_, err = a.Current(t.Context())
	host := strings.TrimPrefix(srv.URL, "http://")
	if err == nil || !strings.Contains(err.Error(), "could not be reached") || strings.Contains(err.Error(), host) || strings.Contains(err.Error(), "refused") {
		t.Errorf("error %v", err)
	}
}
