package sink

import (
	"encoding/json"
	"fmt"
	"maps"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Loki answers Loki's push API (POST /loki/api/v1/push, JSON, gzip or not), as Fluent
// Bit's loki output speaks it, for the tenants it knows: each request must carry a
// known tenant's X-Scope-OrgID and that tenant's basic-auth credentials. Route
// "loki:<tenant>"; each line is kept as a record when it is a JSON object, else as
// {"line": ...}. Anything else is a Problem.
type Loki struct {
	store
	Port int

	srv     *http.Server
	tenants map[string][2]string // tenant → user, password

	mu      sync.Mutex
	entries map[string][]LokiEntry
}

// LokiEntry is one pushed line with its stream's labels and its timestamp.
type LokiEntry struct {
	Labels map[string]string
	Time   time.Time
	Line   string
}

// StartLoki listens on addr (host:port, port 0 for any) for the tenants given as
// tenant → {user, password}.
func StartLoki(addr string, tenants map[string][2]string) (*Loki, error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	s := &Loki{store: newStore(), Port: l.Addr().(*net.TCPAddr).Port, tenants: tenants, entries: map[string][]LokiEntry{}}
	s.srv = &http.Server{Handler: s}
	go func() { _ = s.srv.Serve(l) }()
	return s, nil
}

// Close stops listening.
func (s *Loki) Close() error { return s.srv.Close() }

// Entries returns what tenant received, line by line.
func (s *Loki) Entries(tenant string) []LokiEntry {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.entries[tenant])
}

func (s *Loki) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	refuse := func(code int, format string, args ...any) {
		msg := fmt.Sprintf(format, args...)
		s.problem("%s %s: %d %s", r.Method, r.URL.Path, code, msg)
		http.Error(w, msg, code)
	}
	if r.Method != http.MethodPost || r.URL.Path != "/loki/api/v1/push" {
		refuse(http.StatusNotFound, "only POST /loki/api/v1/push is served")
		return
	}
	tenant := r.Header.Get("X-Scope-OrgID")
	creds, known := s.tenants[tenant]
	if !known {
		refuse(http.StatusUnauthorized, "no tenant %q", tenant)
		return
	}
	if user, pass, ok := r.BasicAuth(); !ok || user != creds[0] || pass != creds[1] {
		refuse(http.StatusUnauthorized, "tenant %s: wrong basic auth (user %q)", tenant, user)
		return
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		refuse(http.StatusUnsupportedMediaType, "content type %q (only JSON is served)", ct)
		return
	}
	raw, err := readBody(r)
	if err != nil {
		refuse(http.StatusBadRequest, "%v", err)
		return
	}
	if r.Header.Get("Content-Encoding") == "gzip" {
		if raw, err = gunzip(raw); err != nil {
			refuse(http.StatusBadRequest, "gzip: %v", err)
			return
		}
	}
	var push struct {
		Streams []struct {
			Stream map[string]string `json:"stream"`
			Values [][]any           `json:"values"`
		} `json:"streams"`
	}
	if err := json.Unmarshal(raw, &push); err != nil {
		refuse(http.StatusBadRequest, "push body: %v", err)
		return
	}
	var entries []LokiEntry
	var recs []Record
	for _, st := range push.Streams {
		if len(st.Stream) == 0 {
			refuse(http.StatusBadRequest, "a stream without labels")
			return
		}
		for _, v := range st.Values {
			var ts, line string
			ok := len(v) >= 2
			if ok {
				ts, _ = v[0].(string)
				line, ok = v[1].(string)
			}
			ns, err := strconv.ParseInt(ts, 10, 64)
			if !ok || err != nil {
				refuse(http.StatusBadRequest, "value %v: want [\"<unix ns>\", \"<line>\"]", v)
				return
			}
			entries = append(entries, LokiEntry{Labels: maps.Clone(st.Stream), Time: time.Unix(0, ns), Line: line})
			var rec Record
			if json.Unmarshal([]byte(line), &rec) != nil {
				rec = Record{"line": line}
			}
			recs = append(recs, rec)
		}
	}
	s.mu.Lock()
	s.entries[tenant] = append(s.entries[tenant], entries...)
	s.mu.Unlock()
	s.add("loki:"+tenant, recs...)
	w.WriteHeader(http.StatusNoContent)
}
