package integration

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/logplane/logplane/api/v1alpha1"
	"github.com/logplane/logplane/internal/conditions"
)

// openSearchISM emulates the Index State Management API of one OpenSearch cluster:
// policies with their ism_template patterns, and which policy each index has.
type openSearchISM struct {
	mu       sync.Mutex
	policies map[string]json.RawMessage // id → the policy object
	indices  map[string]string          // index → policy id, "" for none
	writes   []string
	server   *httptest.Server
}

func newOpenSearchISM(t *testing.T, policies map[string]string, indices map[string]string) *openSearchISM {
	f := &openSearchISM{policies: map[string]json.RawMessage{}, indices: indices}
	for id, p := range policies {
		f.policies[id] = json.RawMessage(p)
	}
	f.server = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.server.Close)
	return f
}

func (f *openSearchISM) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	body, _ := io.ReadAll(r.Body)
	rest, _ := strings.CutPrefix(r.URL.Path, "/_plugins/_ism/")
	kind, arg, _ := strings.Cut(rest, "/")
	if r.Method != http.MethodGet {
		f.writes = append(f.writes, r.Method+" "+r.URL.Path)
	}
	switch {
	case r.Method == http.MethodGet && kind == "policies" && arg == "":
		ids := make([]string, 0, len(f.policies))
		for id := range f.policies {
			ids = append(ids, id)
		}
		slices.Sort(ids)
		var items []string
		for _, id := range ids {
			items = append(items, `{"_id":`+strconv.Quote(id)+`,"_seq_no":1,"_primary_term":1,"policy":`+string(f.policies[id])+`}`)
		}
		_, _ = io.WriteString(w, `{"policies":[`+strings.Join(items, ",")+`],"total_policies":`+strconv.Itoa(len(ids))+`}`)
	case r.Method == http.MethodGet && kind == "policies":
		p, ok := f.policies[arg]
		if !ok {
			w.WriteHeader(http.StatusNotFound)
			_, _ = io.WriteString(w, `{"error":{"type":"status_exception","reason":"Policy not found"},"status":404}`)
			return
		}
		_, _ = io.WriteString(w, `{"_id":`+strconv.Quote(arg)+`,"_seq_no":1,"_primary_term":1,"policy":`+string(p)+`}`)
	case r.Method == http.MethodPut && kind == "policies":
		var in struct {
			Policy json.RawMessage `json:"policy"`
		}
		if json.Unmarshal(body, &in) != nil || len(in.Policy) == 0 {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		f.policies[arg] = in.Policy
		w.WriteHeader(http.StatusCreated)
		_, _ = io.WriteString(w, `{"_id":`+strconv.Quote(arg)+`,"_seq_no":2,"_primary_term":1}`)
	case r.Method == http.MethodGet && kind == "explain":
		out := map[string]any{}
		managed := 0
		for index, policy := range f.indices {
			if ok, _ := path.Match(arg, index); !ok {
				continue
			}
			if policy == "" {
				out[index] = map[string]any{"index.plugins.index_state_management.policy_id": nil}
				continue
			}
			out[index] = map[string]any{"index.plugins.index_state_management.policy_id": policy, "index": index, "policy_id": policy, "enabled": true}
			managed++
		}
		out["total_managed_indices"] = managed
		_ = json.NewEncoder(w).Encode(out)
	case r.Method == http.MethodPost && (kind == "add" || kind == "change_policy"):
		var in struct {
			PolicyID string `json:"policy_id"`
		}
		_ = json.Unmarshal(body, &in)
		updated := 0
		for index, policy := range f.indices {
			if ok, _ := path.Match(arg, index); ok && (kind == "change_policy" || policy == "") {
				f.indices[index] = in.PolicyID
				updated++
			}
		}
		_, _ = io.WriteString(w, `{"updated_indices":`+strconv.Itoa(updated)+`,"failures":false,"failed_indices":[]}`)
	default:
		w.WriteHeader(http.StatusBadRequest)
	}
}

func (f *openSearchISM) state() (indices map[string]string, writes []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	indices = map[string]string{}
	for k, v := range f.indices {
		indices[k] = v
	}
	return indices, slices.Clone(f.writes)
}

// TestSearchRetentionNeverShortensOthersData runs the OpenSearch attack of issue 19
// item 4 through the operator and a real API server: the platform keeps its audit-*
// indices 1825 days with an ISM policy; a tenant LogOutput with dailyIndexPrefix
// "audit" and a 30-day policy (which may even shorten) would attach a deletion policy
// to them. It is refused with both policies named and the cluster left as it was; an
// output with a prefix of its own gets its policy on its own indices only.
func TestSearchRetentionNeverShortensOthersData(t *testing.T) {
	const ns = "team-search"
	ensureNamespace(t, ns)
	platform := `{"policy_id":"platform-audit","default_state":"hot","states":[` +
		`{"name":"hot","actions":[],"transitions":[{"state_name":"delete","conditions":{"min_index_age":"1825d"}}]},` +
		`{"name":"delete","actions":[{"delete":{}}],"transitions":[]}],"ism_template":[{"index_patterns":["audit-*"],"priority":0}]}`
	cluster := newOpenSearchISM(t, map[string]string{"platform-audit": platform},
		map[string]string{"audit-2026.11.01": "platform-audit", "shop-2026.11.01": ""})
	host, port, err := net.SplitHostPort(cluster.server.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	p, _ := strconv.Atoi(port)
	search := func(name, prefix string) *v1.LogOutput {
		return &v1.LogOutput{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Spec: v1.OutputSpec{
			Type: v1.OutputOpenSearch, RetentionPolicy: "it-search-30d", OpenSearch: &v1.OpenSearchOutput{
				Host: v1.Host(host), Port: v1.Port(p), SearchIndex: v1.SearchIndex{DailyIndexPrefix: prefix}}}}
	}
	policy := &v1.RetentionPolicy{ObjectMeta: metav1.ObjectMeta{Name: "it-search-30d"}, Spec: v1.RetentionPolicySpec{Retention: "30d", AllowShortening: true}}
	attack := search("attack", "audit")
	create(t, policy, attack)

	o := waitForRetention(t, "it-search-30d", "LogOutput", ns, "attack", v1.RetentionConflict, "")
	for _, want := range []string{`ISM policy "logplane-lo.team-search.attack" (index pattern audit-*, 30d)`,
		`ISM policy "platform-audit" (index patterns audit-*, 1825d)`, `(on the existing indices audit-2026.11.01, 1825d)`} {
		if !strings.Contains(o.Message, want) {
			t.Errorf("message %q does not name %s", o.Message, want)
		}
	}
	waitForOutputCondition(t, attack, metav1.ConditionFalse, conditions.ReasonRetentionConflict)
	if indices, writes := cluster.state(); len(writes) != 0 || indices["audit-2026.11.01"] != "platform-audit" {
		t.Fatalf("the cluster changed: writes %v, indices %v", writes, indices)
	}

	beside := search("beside", "shop")
	create(t, beside)
	waitForRetention(t, "it-search-30d", "LogOutput", ns, "beside", v1.RetentionEnforced, "30d")
	indices, writes := cluster.state()
	assertEqual(t, indices, map[string]string{"audit-2026.11.01": "platform-audit", "shop-2026.11.01": "logplane-lo.team-search.beside"})
	for _, w := range writes {
		if strings.Contains(w, "audit") {
			t.Errorf("%s touches the platform's indices or the attacker's policy", w)
		}
	}
}
