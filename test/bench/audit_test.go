package main

import (
	"strconv"
	"strings"
	"testing"
	"time"
)

func auditLine(user, stage, verb, resource, sub string, code int, at string) string {
	return `{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","stage":"` + stage + `","verb":"` + verb +
		`","user":{"username":"` + user + `"},"objectRef":{"resource":"` + resource + `","subresource":"` + sub +
		`","namespace":"ns","name":"x"},"responseStatus":{"code":` + strconv.Itoa(code) + `},"requestReceivedTimestamp":"` + at + `"}`
}

func TestCountWrites(t *testing.T) {
	log := strings.Join([]string{
		auditLine(operatorUser, "ResponseComplete", "patch", "secrets", "", 200, "2026-01-01T00:00:01.000000Z"),
		auditLine(operatorUser, "ResponseComplete", "patch", "logpipelines", "status", 200, "2026-01-01T00:00:02.000000Z"),
		auditLine(operatorUser, "ResponseComplete", "delete", "secrets", "", 404, "2026-01-01T00:00:03.000000Z"),
		// Not counted: another user, a read, a stage that repeats a request, outside the window.
		auditLine("admin", "ResponseComplete", "create", "logpipelines", "", 201, "2026-01-01T00:00:02.000000Z"),
		auditLine(operatorUser, "ResponseComplete", "get", "secrets", "", 200, "2026-01-01T00:00:02.000000Z"),
		auditLine(operatorUser, "ResponseStarted", "patch", "secrets", "", 200, "2026-01-01T00:00:02.000000Z"),
		auditLine(operatorUser, "ResponseComplete", "patch", "secrets", "", 200, "2026-01-01T00:00:09.000000Z"),
		"",
	}, "\n")
	events, err := parseAudit(strings.NewReader(log))
	if err != nil {
		t.Fatal(err)
	}
	at := func(s string) time.Time { tm, _ := time.Parse(time.RFC3339, "2026-01-01T00:00:0"+s+"Z"); return tm }
	cases := []struct {
		name           string
		from, to       time.Time
		total, secrets int
		failed         int
		byResource     map[string]int
	}{
		{"all three in the window", at("0"), at("5"), 3, 2, 1,
			map[string]int{"patch secrets": 1, "patch logpipelines/status": 1, "delete secrets": 1}},
		{"from is inclusive, to exclusive", at("2"), at("3"), 1, 0, 0, map[string]int{"patch logpipelines/status": 1}},
		{"empty window", at("4"), at("5"), 0, 0, 0, map[string]int{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := countWrites(events, operatorUser, c.from, c.to)
			if w.Total != c.total || w.Secrets != c.secrets || w.Failed != c.failed {
				t.Errorf("total/secrets/failed = %d/%d/%d, want %d/%d/%d", w.Total, w.Secrets, w.Failed, c.total, c.secrets, c.failed)
			}
			if len(w.ByResource) != len(c.byResource) {
				t.Errorf("by resource %v, want %v", w.ByResource, c.byResource)
			}
			for k, v := range c.byResource {
				if w.ByResource[k] != v {
					t.Errorf("by resource %v, want %v", w.ByResource, c.byResource)
				}
			}
		})
	}
}

func TestParseAuditRejectsGarbage(t *testing.T) {
	if _, err := parseAudit(strings.NewReader("{not json}\n")); err == nil {
		t.Fatal("want an error for a malformed line")
	}
}

func TestWritesString(t *testing.T) {
	w := Writes{ByResource: map[string]int{"patch secrets": 2, "delete secrets": 2, "patch services": 5}}
	if got, want := w.String(), "5 patch services, 2 delete secrets, 2 patch secrets"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}
