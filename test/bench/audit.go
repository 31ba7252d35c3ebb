package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"time"
)

// auditPolicy records every write at Metadata level (who, verb, resource, result) and
// nothing else: reads would swamp the log and are not what the benchmark counts.
const auditPolicy = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
- level: Metadata
  verbs: [create, update, patch, delete, deletecollection]
- level: None
`

// operatorUser is the user the operator authenticates as, so that its writes can be
// told from the benchmark's own.
const operatorUser = "logplane-operator"

// auditEvent is the part of an audit.k8s.io/v1 Event the benchmark reads.
type auditEvent struct {
	Stage string `json:"stage"`
	Verb  string `json:"verb"`
	User  struct {
		Username string `json:"username"`
	} `json:"user"`
	ObjectRef *struct {
		Resource    string `json:"resource"`
		Subresource string `json:"subresource"`
	} `json:"objectRef"`
	ResponseStatus *struct {
		Code int `json:"code"`
	} `json:"responseStatus"`
	RequestReceivedTimestamp time.Time `json:"requestReceivedTimestamp"`
}

// resource is resource or resource/subresource, as kubectl names them.
func (e auditEvent) resource() string {
	if e.ObjectRef == nil {
		return ""
	}
	if e.ObjectRef.Subresource != "" {
		return e.ObjectRef.Resource + "/" + e.ObjectRef.Subresource
	}
	return e.ObjectRef.Resource
}

// readAudit reads a JSON-lines audit log.
func readAudit(path string) ([]auditEvent, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return parseAudit(f)
}

func parseAudit(r io.Reader) ([]auditEvent, error) {
	var out []auditEvent
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 16*1024*1024)
	for line := 1; sc.Scan(); line++ {
		if len(sc.Bytes()) == 0 {
			continue
		}
		var e auditEvent
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			return nil, fmt.Errorf("audit log line %d: %w", line, err)
		}
		out = append(out, e)
	}
	return out, sc.Err()
}

// Writes counts API writes by "verb resource".
type Writes struct {
	Total int `json:"total"`
	// Secrets counts writes to Secrets (not their subresources).
	Secrets int `json:"secrets"`
	// Failed were answered with an error (conflicts, for example): they cost a round
	// trip all the same.
	Failed     int            `json:"failed"`
	ByResource map[string]int `json:"byVerbResource"`
}

// countWrites counts the completed writes of user received in [from, to).
func countWrites(events []auditEvent, user string, from, to time.Time) Writes {
	w := Writes{ByResource: map[string]int{}}
	for _, e := range events {
		if e.User.Username != user || e.Stage != "ResponseComplete" && e.Stage != "Panic" {
			continue
		}
		switch e.Verb {
		case "create", "update", "patch", "delete", "deletecollection":
		default:
			continue
		}
		if t := e.RequestReceivedTimestamp; t.Before(from) || !t.Before(to) {
			continue
		}
		w.Total++
		w.ByResource[e.Verb+" "+e.resource()]++
		if e.resource() == "secrets" {
			w.Secrets++
		}
		if e.ResponseStatus != nil && e.ResponseStatus.Code >= 300 {
			w.Failed++
		}
	}
	return w
}

// String lists the counts, largest first: "12 patch logpipelines/status, 1 patch secrets".
func (w Writes) String() string {
	keys := make([]string, 0, len(w.ByResource))
	for k := range w.ByResource {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if w.ByResource[keys[i]] != w.ByResource[keys[j]] {
			return w.ByResource[keys[i]] > w.ByResource[keys[j]]
		}
		return keys[i] < keys[j]
	})
	s := ""
	for i, k := range keys {
		if i > 0 {
			s += ", "
		}
		s += fmt.Sprintf("%d %s", w.ByResource[k], k)
	}
	return s
}
