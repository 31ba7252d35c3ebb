// Package sink is a destination on loopback that keeps every record it accepts, per
// route, for tests that count what a pipeline delivered: an HTTP endpoint (Fluent Bit's
// http output, json or json_lines, gzip or not) and a Fluentd forward endpoint.
package sink

import (
	"bytes"
	"compress/gzip"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// Record is one delivered record as JSON decodes it.
type Record map[string]any

// HTTP accepts records on every path; the path is the route.
type HTTP struct {
	Port int

	srv *http.Server
	mu  sync.Mutex
	got map[string][]Record
	// at is when each request that delivered records arrived, and how many it held.
	at map[string][]Arrival
	// answers overrides the status code per route; absent means 200.
	answers map[string]int
	// requests counts every request per route, whatever it was answered.
	requests map[string]int
	// auth is the Authorization header of each route's last request.
	auth map[string]string
}

// StartHTTP listens on addr (host:port, port 0 for any).
func StartHTTP(addr string) (*HTTP, error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	return serveHTTP(l), nil
}

// StartHTTPS listens on addr with TLS.
func StartHTTPS(addr string, cfg *tls.Config) (*HTTP, error) {
	l, err := tls.Listen("tcp", addr, cfg)
	if err != nil {
		return nil, err
	}
	return serveHTTP(l), nil
}

func serveHTTP(l net.Listener) *HTTP {
	s := &HTTP{Port: l.Addr().(*net.TCPAddr).Port, got: map[string][]Record{}, at: map[string][]Arrival{},
		answers: map[string]int{}, requests: map[string]int{}, auth: map[string]string{}}
	s.srv = &http.Server{Handler: s}
	go func() { _ = s.srv.Serve(l) }()
	return s
}

// Close stops listening.
func (s *HTTP) Close() error { return s.srv.Close() }

// Answer makes the sink answer code to every request on route, keeping nothing
// unless code is 2xx; 0 restores 200.
func (s *HTTP) Answer(route string, code int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if code == 0 {
		delete(s.answers, route)
		return
	}
	s.answers[route] = code
}

// Records returns what route accepted so far.
func (s *HTTP) Records(route string) []Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Record(nil), s.got[route]...)
}

// Routes lists every route that accepted a record.
func (s *HTTP) Routes() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]int{}
	for r, recs := range s.got {
		out[r] = len(recs)
	}
	return out
}

// Authorization is the Authorization header of route's last request.
func (s *HTTP) Authorization(route string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.auth[route]
}

// Requests counts the requests route received, accepted or not.
func (s *HTTP) Requests(route string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests[route]
}

func (s *HTTP) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	route := r.URL.Path
	s.mu.Lock()
	s.requests[route]++
	s.auth[route] = r.Header.Get("Authorization")
	code, overridden := s.answers[route]
	s.mu.Unlock()
	if overridden && (code < 200 || code > 299) {
		_, _ = io.Copy(io.Discard, r.Body)
		http.Error(w, "answering "+strconv.Itoa(code), code)
		return
	}
	recs, err := decode(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	s.got[route] = append(s.got[route], recs...)
	s.at[route] = append(s.at[route], Arrival{At: time.Now(), Records: len(recs)})
	s.mu.Unlock()
	w.WriteHeader(http.StatusOK)
}

// Arrival is one accepted request: when, and how many records it carried.
type Arrival struct {
	At      time.Time
	Records int
}

// Arrivals lists the accepted requests of route in order.
func (s *HTTP) Arrivals(route string) []Arrival {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Arrival(nil), s.at[route]...)
}

// decode reads a json array, or JSON lines, gzip-compressed or not.
func decode(r *http.Request) ([]Record, error) {
	var body io.Reader = r.Body
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			return nil, err
		}
		body = zr
	}
	data, err := io.ReadAll(body)
	if err != nil {
		return nil, err
	}
	data = bytes.TrimSpace(data)
	if len(data) > 0 && data[0] == '[' {
		var recs []Record
		if err := json.Unmarshal(data, &recs); err != nil {
			return nil, fmt.Errorf("json array: %w", err)
		}
		return recs, nil
	}
	return jsonLines(data)
}
