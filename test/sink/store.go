package sink

import (
	"fmt"
	"slices"
	"sync"
)

// store keeps records per route and what a fake could not accept, for the fakes of
// real services (AWS, Loki) that tests count per destination.
type store struct {
	mu  sync.Mutex
	got map[string][]Record
	// problems are requests the fake refused or did not understand: a test asserts
	// there are none, so that a call Fluent Bit makes and the fake lacks shows up.
	problems []string
}

func newStore() store { return store{got: map[string][]Record{}} }

func (s *store) add(route string, recs ...Record) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.got[route] = append(s.got[route], recs...)
}

func (s *store) problem(format string, args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.problems = append(s.problems, fmt.Sprintf(format, args...))
}

// Records returns what route accepted so far.
func (s *store) Records(route string) []Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.got[route])
}

// Routes lists every route that accepted a record, with how many.
func (s *store) Routes() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]int{}
	for r, recs := range s.got {
		out[r] = len(recs)
	}
	return out
}

// Problems lists the requests refused (bad signature, unknown call, malformed body),
// each with why.
func (s *store) Problems() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.problems)
}
