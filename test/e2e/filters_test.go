package e2e

import (
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/logplane/logplane/test/testcerts"

	"github.com/logplane/logplane/test/sink"
)

// The FireLens pattern our users run: health checks dropped, error and fatal lines
// (by the level a JSON parse finds) to one destination, everything else to another,
// from one read of each file.
func TestFireLensRouting(t *testing.T) {
	s := newScenario(t, "firelens")
	s.namespace("shop", nil)
	// The second destination is reached over TLS with basic auth: its CA and password
	// come from the tenant's Secret, through the agent's credentials Secret, as a file
	// and an environment variable.
	certs, err := testcerts.New("localhost")
	if err != nil {
		t.Fatal(err)
	}
	tlsConfig, err := certs.ServerConfig()
	if err != nil {
		t.Fatal(err)
	}
	secure, err := sink.StartHTTPS("127.0.0.1:0", tlsConfig)
	if err != nil {
		t.Fatal(err)
	}
	defer secure.Close()
	objs := s.apply(fmt.Sprintf(`
apiVersion: v1
kind: Secret
metadata: {name: collector, namespace: shop}
stringData:
  password: s3cr3t-for-shop
  ca.crt: |
%s
---
apiVersion: logging.logplane.dev/v1alpha1
kind: LogOutput
metadata: {name: errors, namespace: shop}
spec: {type: http, http: {host: 127.0.0.1, port: $SINK_PORT, path: /errors}}
---
apiVersion: logging.logplane.dev/v1alpha1
kind: LogOutput
metadata: {name: everything, namespace: shop}
spec:
  type: http
  http:
    host: localhost
    port: %d
    path: /everything
    format: JSON
    compression: Gzip
    basicAuth: {user: shop, password: {name: collector, key: password}}
  tls:
    ca: {name: collector, key: ca.crt}
---`, indent(string(certs.CA), "    "), secure.Port) + `
apiVersion: logging.logplane.dev/v1alpha1
kind: LogPipeline
metadata: {name: errors, namespace: shop}
spec:
  agent: $AGENT
  input:
    containers:
      podSelector: {matchLabels: {app.kubernetes.io/part-of: shop}}
  filters:
  - type: parse
    parse: {format: JSON, keepOriginal: true}
  - type: grep
    grep:
      include:
      - {field: level, regex: '^(?i)(error|fatal)$'}
  outputRefs: [errors]
---
apiVersion: logging.logplane.dev/v1alpha1
kind: LogPipeline
metadata: {name: everything, namespace: shop}
spec:
  agent: $AGENT
  input:
    containers:
      podSelector: {matchLabels: {app.kubernetes.io/part-of: shop}}
  filters:
  - type: grep
    grep:
      exclude:
      - {field: log, regex: 'GET /(healthz|readyz|livez|ping)\b'}
  - type: addFields
    addFields:
      fields:
      - {key: cluster, value: prod-eu-west-1}
  outputRefs: [everything]
`)
	ds := s.waitForConfig(objs)
	s.startAgent(ds)

	levels := []string{"info", "debug", "warn", "ERROR", "info", "fatal", "info", "error"}
	want := map[string][]entry{}
	lines := 0
	for _, pod := range []string{"cart-1", "checkout-1"} {
		a := s.app("shop", pod, map[string]string{"app.kubernetes.io/part-of": "shop"}, "app")
		var out []string
		for i := range 400 {
			e := entry{Src: "shop/" + pod + "/app", Seq: i}
			level := levels[i%len(levels)]
			msg := fmt.Sprintf("order %d", i)
			health := i%10 == 3
			if health {
				msg = "GET /healthz HTTP/1.1 200"
			}
			out = append(out, message(e, map[string]any{"level": level, "msg": msg}))
			if !health {
				want["/everything"] = append(want["/everything"], e)
			}
			if l := strings.ToLower(level); l == "error" || l == "fatal" {
				want["/errors"] = append(want["/errors"], e)
			}
		}
		lines += len(out)
		if err := a.Write("app", out...); err != nil {
			t.Fatal(err)
		}
	}
	everything := want["/everything"]
	delete(want, "/everything")
	s.expectRoutes(want, 60*time.Second, 3*time.Second)
	s.eventually(30*time.Second, "every record over TLS", func() (bool, string) {
		c := count(secure.Records("/everything"), everything)
		return c.exact(), c.String()
	})
	t.Logf("route /everything (TLS, basic auth): %s", count(secure.Records("/everything"), everything))
	if got, want := secure.Authorization("/everything"), "Basic "+base64.StdEncoding.EncodeToString([]byte("shop:s3cr3t-for-shop")); got != want {
		t.Errorf("Authorization = %q, want %q", got, want)
	}
	for _, r := range secure.Records("/everything") {
		if r["cluster"] != "prod-eu-west-1" {
			t.Fatalf("a record lacks the added field: %v", r)
		}
	}
	for _, r := range s.sink.Records("/errors") {
		if _, parsed := r["level"]; !parsed || r["log"] == nil {
			t.Fatalf("an error record was not parsed, or lost its original line: %v", r)
		}
	}
	// Two pipelines, one read: the container inputs took in each line once.
	if read := s.inputRecords(containerInputs); read != lines {
		t.Errorf("the agent read %d records for %d lines", read, lines)
	}
}

// Java stack traces are joined into one record per exception in the namespace whose
// pipeline asks for it, and only there: another namespace's lines stay as written.
func TestMultilineJoinsStackTracesInOneNamespaceOnly(t *testing.T) {
	s := newScenario(t, "multiline")
	s.namespace("payments", nil)
	s.namespace("orders", nil)
	objs := s.apply(`
apiVersion: logging.logplane.dev/v1alpha1
kind: LogOutput
metadata: {name: out, namespace: payments}
spec: {type: http, http: {host: 127.0.0.1, port: $SINK_PORT, path: /payments}}
---
apiVersion: logging.logplane.dev/v1alpha1
kind: LogPipeline
metadata: {name: java, namespace: payments}
spec:
  agent: $AGENT
  input: {containers: {}}
  filters:
  - type: multiline
    multiline: {parser: java}
  outputRefs: [out]
---
apiVersion: logging.logplane.dev/v1alpha1
kind: LogOutput
metadata: {name: out, namespace: orders}
spec: {type: http, http: {host: 127.0.0.1, port: $SINK_PORT, path: /orders}}
---
apiVersion: logging.logplane.dev/v1alpha1
kind: LogPipeline
metadata: {name: plain, namespace: orders}
spec:
  agent: $AGENT
  input: {containers: {}}
  outputRefs: [out]
`)
	ds := s.waitForConfig(objs)
	s.startAgent(ds)

	const exceptions = 50
	trace := func(pod string, i int) []string {
		return []string{
			fmt.Sprintf("Exception in thread \"main\" java.lang.IllegalStateException: %s failure %d", pod, i),
			"\tat com.example.Service.handle(Service.java:42)",
			"\tat com.example.Main.main(Main.java:7)",
		}
	}
	var payments, orders []string
	for i := range exceptions {
		payments = append(payments, fmt.Sprintf("starting request %d", i))
		payments = append(payments, trace("payments", i)...)
		orders = append(orders, trace("orders", i)...)
	}
	// Several containers in several writes, interleaved.
	pay := s.app("payments", "api-1", nil, "app")
	ord := s.app("orders", "api-1", nil, "app")
	for start := 0; start < len(payments); start += 40 {
		if err := pay.Write("app", payments[start:min(start+40, len(payments))]...); err != nil {
			t.Fatal(err)
		}
		if start < len(orders) {
			if err := ord.Write("app", orders[start:min(start+40, len(orders))]...); err != nil {
				t.Fatal(err)
			}
		}
	}
	// The last trace is flushed when the next line arrives or the parser's timeout passes.
	wantPayments := 2 * exceptions
	wantOrders := len(orders)
	s.eventually(60*time.Second, "every record", func() (bool, string) {
		p, o := len(s.sink.Records("/payments")), len(s.sink.Records("/orders"))
		return p >= wantPayments && o >= wantOrders, fmt.Sprintf("payments %d of %d, orders %d of %d", p, wantPayments, o, wantOrders)
	})
	time.Sleep(3 * time.Second)

	joined := map[string]bool{}
	for _, r := range s.sink.Records("/payments") {
		log, _ := r["log"].(string)
		if strings.HasPrefix(log, "starting request") {
			continue
		}
		lines := strings.Split(log, "\n")
		if len(lines) != 3 || !strings.HasPrefix(lines[1], "\tat ") {
			t.Errorf("payments: a stack trace was not joined into one record: %q", log)
			continue
		}
		joined[lines[0]] = true
	}
	got := len(s.sink.Records("/payments"))
	if len(joined) != exceptions || got != wantPayments {
		t.Errorf("payments: %d records, %d distinct joined traces; want %d records, %d traces", got, len(joined), wantPayments, exceptions)
	}
	ordersGot := s.sink.Records("/orders")
	for _, r := range ordersGot {
		if log, _ := r["log"].(string); strings.Contains(log, "\n") {
			t.Errorf("orders: a line was joined although its pipeline has no multiline filter: %q", log)
		}
	}
	if len(ordersGot) != wantOrders {
		t.Errorf("orders: %d records, want %d (one per line)", len(ordersGot), wantOrders)
	}
	t.Logf("payments: %d lines written, %d records (%d joined traces); orders: %d lines, %d records",
		len(payments), got, len(joined), len(orders), len(ordersGot))
}

func indent(s, prefix string) string {
	return prefix + strings.ReplaceAll(strings.TrimSpace(s), "\n", "\n"+prefix)
}

// containerInputs matches the aliases of the agent's container-log inputs.
const containerInputs = `lp_in_containers_\d+`

// inputRecords sums the records the agent's inputs whose alias matches the regex
// alias read, from its metrics.
func (s *scenario) inputRecords(alias string) int {
	s.t.Helper()
	resp, err := http.Get(fmt.Sprintf("http://%s:%d/api/v2/metrics/prometheus", s.node.IP, s.port))
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	n := 0
	series := regexp.MustCompile(`(?m)^fluentbit_input_records_total\{name="` + alias + `"\} (\d+)`)
	for _, m := range series.FindAllStringSubmatch(string(body), -1) {
		v, _ := strconv.Atoi(m[1])
		n += v
	}
	return n
}
