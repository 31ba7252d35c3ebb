package retention

import (
	"encoding/pem"
	"net"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	v1 "github.com/logplane/logplane/api/v1alpha1"
)

// Answers as OpenSearch (ISM plugin) and Elasticsearch send them.
const (
	osPolicyNotFound = `{"error":{"root_cause":[{"type":"status_exception","reason":"Policy not found"}],"type":"status_exception","reason":"Policy not found"},"status":404}`
	osPolicy90d      = `{"_id":"logplane-lo.team-a.search","_version":3,"_seq_no":7,"_primary_term":2,"policy":{"policy_id":"logplane-lo.team-a.search",` +
		`"description":"x","last_updated_time":1763900000000,"schema_version":21,"error_notification":null,"default_state":"hot","states":[` +
		`{"name":"hot","actions":[],"transitions":[{"state_name":"delete","conditions":{"min_index_age":"90d"}}]},` +
		`{"name":"delete","actions":[{"retry":{"count":3,"backoff":"exponential","delay":"1m"},"delete":{}}],"transitions":[]}],` +
		`"ism_template":[{"index_patterns":["app-*"],"priority":100,"last_updated_time":1763900000000}]}}`
	osCreated    = `{"_id":"logplane-lo.team-a.search","_version":1,"_primary_term":1,"_seq_no":0,"policy":{"policy":{}}}`
	osAdded      = `{"updated_indices":2,"failures":true,"failed_indices":[{"index_name":"app-2026.11.01","index_uuid":"x","reason":"This index already has a policy, use the update policy API to update index policies"}]}`
	osChanged    = `{"updated_indices":3,"failures":false,"failed_indices":[]}`
	osConflict   = `{"error":{"root_cause":[{"type":"version_conflict_engine_exception","reason":"[logplane-lo.team-a.search]: version conflict, required seqNo [7], primary term [2]. current document has seqNo [8] and primary term [2]"}],"type":"version_conflict_engine_exception","reason":"[logplane-lo.team-a.search]: version conflict, required seqNo [7], primary term [2]. current document has seqNo [8] and primary term [2]"},"status":409}`
	awsForbidden = `{"message":"User: arn:aws:sts::123456789012:assumed-role/logplane/x is not authorized to perform: es:ESHttpPut because no identity-based policy allows the es:ESHttpPut action"}`

	esPolicyNotFound   = `{"error":{"root_cause":[{"type":"resource_not_found_exception","reason":"Lifecycle policy not found: logplane-clo.search"}],"type":"resource_not_found_exception","reason":"Lifecycle policy not found: logplane-clo.search"},"status":404}`
	esTemplateNotFound = `{"error":{"root_cause":[{"type":"resource_not_found_exception","reason":"index template matching [logplane-clo.search] not found"}],"type":"resource_not_found_exception","reason":"index template matching [logplane-clo.search] not found"},"status":404}`
	esPolicy30d        = `{"logplane-clo.search":{"version":2,"modified_date":"2026-11-01T10:00:00.000Z","policy":{"phases":{"delete":{"min_age":"30d","actions":{"delete":{"delete_searchable_snapshot":true}}}},"_meta":{"managed_by":"logplane"}},"in_use_by":{"indices":["app-2026.11.22"],"data_streams":[],"composable_templates":["logplane-clo.search"]}}}`
	esTemplate         = `{"index_templates":[{"name":"logplane-clo.search","index_template":{"index_patterns":["app-*"],"template":{"settings":{"index":{"lifecycle":{"name":"logplane-clo.search"}}}},"composed_of":[],"priority":150,"_meta":{"managed_by":"logplane"}}}]}`
	esAck              = `{"acknowledged":true}`
	esForbidden        = `{"error":{"root_cause":[{"type":"security_exception","reason":"action [cluster:admin/ilm/put] is unauthorized for user [fluent-bit] with effective roles [logs_writer], this action is granted by the cluster privileges [manage_ilm,manage,all]"}],"type":"security_exception","reason":"action [cluster:admin/ilm/put] is unauthorized for user [fluent-bit] with effective roles [logs_writer], this action is granted by the cluster privileges [manage_ilm,manage,all]"},"status":403}`
	esThrottled        = `{"error":{"root_cause":[{"type":"es_rejected_execution_exception","reason":"rejected execution of coordinating operation"}],"type":"es_rejected_execution_exception","reason":"rejected execution of coordinating operation"},"status":429}`
)

// The others' settings at a shared cluster, as OpenSearch and Elasticsearch list them.
const (
	osPolicies = `{"policies":[` +
		`{"_id":"platform-audit","_version":1,"_seq_no":1,"_primary_term":1,"policy":{"policy_id":"platform-audit","description":"audit, 5 years","default_state":"hot","states":[` +
		`{"name":"hot","actions":[],"transitions":[{"state_name":"delete","conditions":{"min_index_age":"1825d"}}]},` +
		`{"name":"delete","actions":[{"retry":{"count":3,"backoff":"exponential","delay":"1m"},"delete":{}}],"transitions":[]}],` +
		`"ism_template":[{"index_patterns":["audit-*"],"priority":0,"last_updated_time":1763900000000}]}},` +
		`{"_id":"rollover-only","_version":1,"_seq_no":2,"_primary_term":1,"policy":{"policy_id":"rollover-only","default_state":"hot","states":[` +
		`{"name":"hot","actions":[{"rollover":{"min_size":"50gb"}}],"transitions":[]}],` +
		`"ism_template":[{"index_patterns":["metrics-*"],"priority":10}]}},` +
		`{"_id":"warm-then-delete","_version":1,"_seq_no":3,"_primary_term":1,"policy":{"policy_id":"warm-then-delete","default_state":"hot","states":[` +
		`{"name":"hot","actions":[],"transitions":[{"state_name":"warm","conditions":{"min_index_age":"30d"}}]},` +
		`{"name":"warm","actions":[{"replica_count":{"number_of_replicas":0}}],"transitions":[{"state_name":"delete","conditions":{"min_index_age":"90d"}}]},` +
		`{"name":"delete","actions":[{"delete":{}}],"transitions":[]}],"ism_template":null}}` +
		`],"total_policies":3}`
	osNoPolicies   = `{"policies":[],"total_policies":0}`
	osExplainAudit = `{"audit-2026.11.01":{"index.plugins.index_state_management.policy_id":"platform-audit","index.opendistro.index_state_management.policy_id":"platform-audit",` +
		`"index":"audit-2026.11.01","index_uuid":"gCFlS_zcTdih8xyxf3jQ-A","policy_id":"platform-audit","enabled":true},` +
		`"audit-2026.11.02":{"index.plugins.index_state_management.policy_id":null},"total_managed_indices":1}`
	osExplainNone = `{"total_managed_indices":0}`
	osExplainOwn  = `{"app-2026.11.01":{"index.plugins.index_state_management.policy_id":"logplane-lo.team-a.search","policy_id":"logplane-lo.team-a.search","enabled":true},` +
		`"app-2026.11.02":{"index.plugins.index_state_management.policy_id":null},"total_managed_indices":1}`

	esPolicies = `{"audit-5y":{"version":1,"modified_date":"2026-01-01T00:00:00.000Z","policy":{"phases":{"hot":{"min_age":"0ms","actions":{}},` +
		`"delete":{"min_age":"1825d","actions":{"delete":{"delete_searchable_snapshot":true}}}}},"in_use_by":{"indices":[],"data_streams":[],"composable_templates":["platform-audit"]}},` +
		`"logs":{"version":1,"modified_date":"2026-01-01T00:00:00.000Z","policy":{"phases":{"hot":{"min_age":"0ms","actions":{"rollover":{"max_primary_shard_size":"50gb","max_age":"30d"}}}},` +
		`"_meta":{"description":"default policy for the logs index template installed by x-pack","managed":true}},"in_use_by":{"indices":[],"data_streams":[],"composable_templates":["logs"]}}}`
	esTemplates = `{"index_templates":[` +
		`{"name":"platform-audit","index_template":{"index_patterns":["audit-*"],"template":{"settings":{"index":{"lifecycle":{"name":"audit-5y"}}}},"composed_of":[],"priority":200}},` +
		`{"name":"logs","index_template":{"index_patterns":["logs-*-*"],"composed_of":["logs@mappings","logs@settings","logs@custom"],"priority":100,"data_stream":{"hidden":false,"allow_custom_routing":false}}},` +
		`{"name":"mappings-only","index_template":{"index_patterns":["web-*"],"template":{"mappings":{"properties":{"status":{"type":"integer"}}}},"composed_of":[],"priority":50}}]}`
	esAppIndices   = `{"app-2026.11.01":{"settings":{"index.lifecycle.name":"logplane-clo.search"}},"app-2026.11.02":{"settings":{}}}`
	esAuditIndices = `{"audit-2026.11.01":{"settings":{"index.lifecycle.name":"audit-5y"}},"audit-2026.11.02":{"settings":{}}}`
)

var esJSON = map[string]string{"Content-Type": "application/json; charset=UTF-8"}

// hostPort splits a test server's address for the host and port fields.
func hostPort(t *testing.T, s *httptest.Server) (v1.Host, v1.Port) {
	host, port, err := net.SplitHostPort(s.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	p, _ := strconv.Atoi(port)
	return v1.Host(host), v1.Port(p)
}

// serverCA is the test server's certificate as a PEM bundle, for tls.ca.
func serverCA(s *httptest.Server) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.Certificate().Raw}))
}

func TestOpenSearchApplier(t *testing.T) {
	const policy = "/_plugins/_ism/policies/logplane-lo.team-a.search"
	const list, explain = "GET /_plugins/_ism/policies?from=0&size=1000", "GET /_plugins/_ism/explain/app-*"
	others := []exchange{
		{call: list, status: 200, header: esJSON, body: osPolicies},
		{call: explain, status: 200, header: esJSON, body: osExplainOwn},
	}
	cases := []struct {
		name      string
		sigv4     bool
		requested Days
		allow     bool
		script    []exchange
		wantState v1.RetentionState
		wantErr   string
	}{
		{name: "a first policy on indices kept forever is shortening", requested: 30, script: []exchange{
			{call: "GET " + policy, status: 404, header: esJSON, body: osPolicyNotFound},
			others[0], others[1],
		}, wantState: v1.RetentionShorteningBlocked},
		{name: "created and attached, basic auth", requested: 30, allow: true, script: []exchange{
			{call: "GET " + policy, status: 404, header: esJSON, body: osPolicyNotFound},
			others[0], others[1],
			{call: "PUT " + policy, status: 201, header: esJSON, body: osCreated},
			{call: "POST /_plugins/_ism/add/app-*", status: 200, header: esJSON, body: osAdded},
		}, wantState: v1.RetentionEnforced},
		{name: "updated conditionally and moved, SigV4", sigv4: true, requested: 365, script: []exchange{
			{call: "GET " + policy, status: 200, header: esJSON, body: osPolicy90d},
			others[0], others[1],
			{call: "PUT " + policy + "?if_primary_term=2&if_seq_no=7", status: 200, header: esJSON, body: osCreated},
			{call: "POST /_plugins/_ism/add/app-*", status: 200, header: esJSON, body: osAdded},
			{call: "POST /_plugins/_ism/change_policy/app-*", status: 200, header: esJSON, body: osChanged},
		}, wantState: v1.RetentionEnforced},
		{name: "enforced writes nothing", requested: 90, script: []exchange{
			{call: "GET " + policy, status: 200, header: esJSON, body: osPolicy90d},
			others[0], others[1],
		}, wantState: v1.RetentionEnforced},
		{name: "shortening blocked", requested: 30, script: []exchange{
			{call: "GET " + policy, status: 200, header: esJSON, body: osPolicy90d},
			others[0], others[1],
		}, wantState: v1.RetentionShorteningBlocked},
		{name: "concurrent edit fails this attempt", requested: 365, script: []exchange{
			{call: "GET " + policy, status: 200, header: esJSON, body: osPolicy90d},
			others[0], others[1],
			{call: "PUT " + policy + "?if_primary_term=2&if_seq_no=7", status: 409, header: esJSON, body: osConflict},
		}, wantState: v1.RetentionFailed, wantErr: "failed to write ISM policy logplane-lo.team-a.search: the destination answered HTTP 409 (changed concurrently; retried at the next interval)"},
		{name: "Amazon OpenSearch denies", sigv4: true, requested: 30, allow: true, script: []exchange{
			{call: "GET " + policy, status: 404, header: esJSON, body: osPolicyNotFound},
			others[0], others[1],
			{call: "PUT " + policy, status: 403, header: esJSON, body: awsForbidden},
		}, wantState: v1.RetentionFailed, wantErr: "HTTP 403 (the credentials may not manage retention there)"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fake := newFake(t, true, c.script...)
			host, port := hostPort(t, fake.server)
			values := map[string]string{"os/password": "s3cret", "tls/ca.crt": serverCA(fake.server)}
			for k, v := range awsKeys {
				values[k] = v
			}
			o := &v1.OpenSearchOutput{Host: host, Port: port, SearchIndex: v1.SearchIndex{DailyIndexPrefix: "app"}}
			if c.sigv4 {
				o.AWS = &v1.AWSAuth{Region: "eu-west-1", Credentials: staticAWS("").Credentials}
			} else {
				o.BasicAuth = &v1.BasicAuth{User: "retention", Password: v1.SecretKeyRef{Name: "os", Key: "password"}}
			}
			tg := target("LogOutput", "team-a", "search", v1.OutputSpec{Type: v1.OutputOpenSearch, OpenSearch: o,
				TLS: &v1.TLS{CA: &v1.SecretKeyRef{Name: "tls", Key: "ca.crt"}}})
			a, err := NewApplier(t.Context(), tg, secrets(values))
			if err != nil {
				t.Fatal(err)
			}
			d, err := Enforce(t.Context(), a, c.requested, c.allow)
			if c.wantErr == "" && err != nil || c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)) {
				t.Fatalf("error %v, want %q", err, c.wantErr)
			}
			if d.State != c.wantState {
				t.Errorf("state %s, want %s", d.State, c.wantState)
			}
			fake.done()
			for _, r := range fake.requests {
				if c.sigv4 {
					assertSigV4(t, r.header, "AKIDEXAMPLE", "es")
					if r.header.Get("X-Amz-Content-Sha256") == "" {
						t.Errorf("%s without X-Amz-Content-Sha256", r.call)
					}
				} else if r.header.Get("Authorization") != "Basic cmV0ZW50aW9uOnMzY3JldA==" {
					t.Errorf("%s: Authorization %q", r.call, r.header.Get("Authorization"))
				}
			}
			for _, r := range fake.requests {
				switch {
				case strings.HasPrefix(r.call, "PUT "+policy):
					golden(t, "ism-put-"+d.Effective.String()+".json", []byte(r.body+"\n"))
				case strings.HasPrefix(r.call, "POST /_plugins/_ism/"):
					assertJSON(t, r.body, `{"policy_id":"logplane-lo.team-a.search"}`)
				}
			}
		})
	}
}

func TestElasticsearchApplier(t *testing.T) {
	const policy, template = "/_ilm/policy/logplane-clo.search", "/_index_template/logplane-clo.search"
	const settings = "PUT /app-*/_settings?allow_no_indices=true&expand_wildcards=open"
	others := []exchange{
		{call: "GET /_ilm/policy", status: 200, header: esJSON, body: esPolicies},
		{call: "GET /_index_template", status: 200, header: esJSON, body: esTemplates},
		{call: "GET /app-*/_settings/index.lifecycle.name?allow_no_indices=true&expand_wildcards=open&flat_settings=true", status: 200, header: esJSON, body: esAppIndices},
	}
	cases := []struct {
		name      string
		requested Days
		allow     bool
		script    []exchange
		wantState v1.RetentionState
		wantErr   string
	}{
		{name: "policy, template and existing indices", requested: 1827, allow: true, script: []exchange{
			{call: "GET " + policy, status: 404, header: esJSON, body: esPolicyNotFound},
			{call: "GET " + template, status: 404, header: esJSON, body: esTemplateNotFound},
			others[0], others[1], others[2],
			{call: "PUT " + policy, status: 200, header: esJSON, body: esAck},
			{call: "PUT " + template, status: 200, header: esJSON, body: esAck},
			{call: settings, status: 200, header: esJSON, body: esAck},
		}, wantState: v1.RetentionEnforced},
		{name: "enforced writes nothing", requested: 30, script: []exchange{
			{call: "GET " + policy, status: 200, header: esJSON, body: esPolicy30d},
			{call: "GET " + template, status: 200, header: esJSON, body: esTemplate},
			others[0], others[1], others[2],
		}, wantState: v1.RetentionEnforced},
		{name: "template deleted by hand is put back", requested: 30, script: []exchange{
			{call: "GET " + policy, status: 200, header: esJSON, body: esPolicy30d},
			{call: "GET " + template, status: 404, header: esJSON, body: esTemplateNotFound},
			others[0], others[1], others[2],
			{call: "PUT " + policy, status: 200, header: esJSON, body: esAck},
			{call: "PUT " + template, status: 200, header: esJSON, body: esAck},
			{call: settings, status: 200, header: esJSON, body: esAck},
		}, wantState: v1.RetentionEnforced},
		{name: "shortening blocked", requested: 7, script: []exchange{
			{call: "GET " + policy, status: 200, header: esJSON, body: esPolicy30d},
			{call: "GET " + template, status: 200, header: esJSON, body: esTemplate},
			others[0], others[1], others[2],
		}, wantState: v1.RetentionShorteningBlocked},
		{name: "missing privilege", requested: 90, script: []exchange{
			{call: "GET " + policy, status: 200, header: esJSON, body: esPolicy30d},
			{call: "GET " + template, status: 200, header: esJSON, body: esTemplate},
			others[0], others[1], others[2],
			{call: "PUT " + policy, status: 403, header: esJSON, body: esForbidden},
		}, wantState: v1.RetentionFailed, wantErr: "failed to write ILM policy logplane-clo.search: the destination answered HTTP 403 (the credentials may not manage retention there)"},
		{name: "throttled", requested: 90, script: []exchange{
			{call: "GET " + policy, status: 429, header: esJSON, body: esThrottled},
		}, wantState: v1.RetentionFailed, wantErr: "HTTP 429 (throttled; retried at the next interval)"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fake := newFake(t, false, c.script...)
			host, port := hostPort(t, fake.server)
			tg := target("ClusterLogOutput", "", "search", v1.OutputSpec{Type: v1.OutputElasticsearch, Elasticsearch: &v1.ElasticsearchOutput{
				Host: host, Port: port, SearchIndex: v1.SearchIndex{DailyIndexPrefix: "app"},
				APIKey: &v1.SecretKeyRef{Name: "es", Key: "api-key"}}})
			a, err := NewApplier(t.Context(), tg, secrets(map[string]string{"es/api-key": "VnVhQ2ZHY0JDZGJrUW0tZTVhT3g6dWkybHAyYXhUTm1zeWFrdzl0dk5udw=="}))
			if err != nil {
				t.Fatal(err)
			}
			d, err := Enforce(t.Context(), a, c.requested, c.allow)
			if c.wantErr == "" && err != nil || c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)) {
				t.Fatalf("error %v, want %q", err, c.wantErr)
			}
			if d.State != c.wantState {
				t.Errorf("state %s, want %s", d.State, c.wantState)
			}
			fake.done()
			for _, r := range fake.requests {
				if got := r.header.Get("Authorization"); got != "ApiKey VnVhQ2ZHY0JDZGJrUW0tZTVhT3g6dWkybHAyYXhUTm1zeWFrdzl0dk5udw==" {
					t.Errorf("%s: Authorization %q", r.call, got)
				}
				switch r.call {
				case "PUT " + policy:
					golden(t, "ilm-put-"+d.Effective.String()+".json", []byte(r.body+"\n"))
				case "PUT " + template:
					golden(t, "index-template-put.json", []byte(r.body+"\n"))
				case settings:
					assertJSON(t, r.body, `{"index.lifecycle.name":"logplane-clo.search"}`)
				}
			}
		})
	}
}

func TestCloudHost(t *testing.T) {
	cases := []struct{ id, want string }{
		// name:base64("eu-west-1.aws.found.io$abc123$def456")
		{"prod:ZXUtd2VzdC0xLmF3cy5mb3VuZC5pbyRhYmMxMjMkZGVmNDU2", "abc123.eu-west-1.aws.found.io"},
		// base64("eu-west-1.aws.found.io:9243$abc123$def456")
		{"prod:ZXUtd2VzdC0xLmF3cy5mb3VuZC5pbzo5MjQzJGFiYzEyMyRkZWY0NTY=", "abc123.eu-west-1.aws.found.io:9243"},
	}
	for _, c := range cases {
		got, err := cloudHost(c.id)
		if err != nil || got != c.want {
			t.Errorf("cloudHost(%q) = %q, %v; want %q", c.id, got, err, c.want)
		}
	}
	for _, bad := range []string{"prod:!!", "prod:" + "Zm9v"} {
		if _, err := cloudHost(bad); err == nil {
			t.Errorf("cloudHost(%q) accepted", bad)
		}
	}
}

// Issue 19 item 4 with the exact attack: a tenant LogOutput on the platform's shared
// cluster, whose audit indices (audit-*) a platform policy keeps 1825 days, names
// dailyIndexPrefix "audit" and a 30-day policy that may even shorten. Its policy would
// take over the platform's indices, so it is refused with both named and nothing is
// written; an output with its own prefix gets its policy.
func TestSearchRetentionNeverShortensOthersData(t *testing.T) {
	const own = "logplane-lo.shop.search"
	type step = exchange
	osCases := []struct {
		name, prefix string
		explain      string
		write        bool
		wantMessage  []string
	}{
		{name: "the platform's own prefix", prefix: "audit", explain: osExplainAudit, wantMessage: []string{
			`ISM policy "logplane-lo.shop.search" (index pattern audit-*, 30d)`,
			`ISM policy "platform-audit" (index patterns audit-*, 1825d)`,
			`ISM policy "platform-audit" (on the existing indices audit-2026.11.01, 1825d)`}},
		{name: "a broader pattern that keeps forever", prefix: "metrics-shop", explain: osExplainNone, wantMessage: []string{
			`ISM policy "rollover-only" (index patterns metrics-*, forever)`}},
		{name: "an existing index of the output's pattern under the platform's policy", prefix: "shop",
			explain:     `{"shop-2026.11.01":{"index.plugins.index_state_management.policy_id":"platform-audit","policy_id":"platform-audit"},"total_managed_indices":1}`,
			wantMessage: []string{`ISM policy "platform-audit" (on the existing indices shop-2026.11.01, 1825d)`}},
		{name: "a prefix of its own", prefix: "shop", explain: osExplainNone, write: true},
	}
	for _, c := range osCases {
		t.Run("OpenSearch/"+c.name, func(t *testing.T) {
			pattern := c.prefix + "-*"
			script := []step{
				{call: "GET /_plugins/_ism/policies/" + own, status: 404, header: esJSON, body: osPolicyNotFound},
				{call: "GET /_plugins/_ism/policies?from=0&size=1000", status: 200, header: esJSON, body: osPolicies},
				{call: "GET /_plugins/_ism/explain/" + pattern, status: 200, header: esJSON, body: c.explain},
			}
			if c.write {
				script = append(script,
					step{call: "PUT /_plugins/_ism/policies/" + own, status: 201, header: esJSON, body: osCreated},
					step{call: "POST /_plugins/_ism/add/" + pattern, status: 200, header: esJSON, body: osChanged})
			}
			fake := newFake(t, false, script...)
			host, port := hostPort(t, fake.server)
			tg := target("LogOutput", "shop", "search", v1.OutputSpec{Type: v1.OutputOpenSearch, OpenSearch: &v1.OpenSearchOutput{
				Host: host, Port: port, SearchIndex: v1.SearchIndex{DailyIndexPrefix: c.prefix}}})
			assertConflict(t, tg, fake, c.write, c.wantMessage)
		})
	}

	esCases := []struct {
		name, prefix string
		indices      string
		write        bool
		wantMessage  []string
	}{
		{name: "the platform's own prefix", prefix: "audit", indices: esAuditIndices, wantMessage: []string{
			`index template "logplane-lo.shop.search" (index pattern audit-*, 30d)`,
			`index template "platform-audit" (index patterns audit-*, ILM policy "audit-5y", 1825d)`,
			`ILM policy "audit-5y" (on the existing indices audit-2026.11.01, 1825d)`}},
		{name: "inside the built-in data stream template", prefix: "logs-shop", indices: `{}`, wantMessage: []string{
			`index template "logs" (index patterns logs-*-*, no ILM policy, forever)`}},
		{name: "a template without a policy keeps forever", prefix: "web-shop", indices: `{}`, wantMessage: []string{
			`index template "mappings-only" (index patterns web-*, no ILM policy, forever)`}},
		{name: "a prefix of its own", prefix: "shop", indices: `{}`, write: true},
	}
	for _, c := range esCases {
		t.Run("Elasticsearch/"+c.name, func(t *testing.T) {
			pattern := c.prefix + "-*"
			script := []step{
				{call: "GET /_ilm/policy/" + own, status: 404, header: esJSON, body: esPolicyNotFound},
				{call: "GET /_index_template/" + own, status: 404, header: esJSON, body: esTemplateNotFound},
				{call: "GET /_ilm/policy", status: 200, header: esJSON, body: esPolicies},
				{call: "GET /_index_template", status: 200, header: esJSON, body: esTemplates},
				{call: "GET /" + pattern + "/_settings/index.lifecycle.name?allow_no_indices=true&expand_wildcards=open&flat_settings=true", status: 200, header: esJSON, body: c.indices},
			}
			if c.write {
				script = append(script,
					step{call: "PUT /_ilm/policy/" + own, status: 200, header: esJSON, body: esAck},
					step{call: "PUT /_index_template/" + own, status: 200, header: esJSON, body: esAck},
					step{call: "PUT /" + pattern + "/_settings?allow_no_indices=true&expand_wildcards=open", status: 200, header: esJSON, body: esAck})
			}
			fake := newFake(t, false, script...)
			host, port := hostPort(t, fake.server)
			tg := target("LogOutput", "shop", "search", v1.OutputSpec{Type: v1.OutputElasticsearch, Elasticsearch: &v1.ElasticsearchOutput{
				Host: host, Port: port, SearchIndex: v1.SearchIndex{DailyIndexPrefix: c.prefix}}})
			assertConflict(t, tg, fake, c.write, c.wantMessage)
		})
	}
}

// assertConflict enforces 30 days, shortening allowed, on tg and checks the output is
// refused with the message naming wantMessage and nothing written, or (write) enforced.
func assertConflict(t *testing.T, tg Target, fake *fakeDestination, write bool, wantMessage []string) {
	t.Helper()
	a, err := NewApplier(t.Context(), tg, secrets(nil))
	if err != nil {
		t.Fatal(err)
	}
	d, err := Enforce(t.Context(), a, 30, true)
	if err != nil {
		t.Fatal(err)
	}
	fake.done()
	for _, call := range fake.calls() {
		if !strings.HasPrefix(call, "GET ") && !write {
			t.Errorf("%s: written although it conflicts", call)
		}
	}
	if write {
		if d.State != v1.RetentionEnforced || d.Conflict != "" {
			t.Errorf("state %s (%s), want Enforced", d.State, d.Conflict)
		}
		return
	}
	if d.State != v1.RetentionConflict {
		t.Fatalf("state %s, want Conflict", d.State)
	}
	for _, want := range wantMessage {
		if !strings.Contains(d.Conflict, want) {
			t.Errorf("message %q does not name %s", d.Conflict, want)
		}
	}
}
