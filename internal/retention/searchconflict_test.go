package retention

import (
	"path"
	"reflect"
	"strings"
	"testing"
)

func TestPatternsOverlap(t *testing.T) {
	cases := []struct {
		a, b string
		want bool
	}{
		// Issue 19 item 4: the tenant's prefix "audit" is the platform's pattern.
		{"audit-*", "audit-*", true},
		// IndexPattern appends "-*": a short prefix does not reach a longer one's indices.
		{"au-*", "audit-*", false},
		{"a-*", "audit-*", false},
		// A longer prefix lands inside a broader pattern of someone else's.
		{"logs-shop-*", "logs-*", true},
		{"a-*", "a*", true},
		{"app-*", "*", true},
		{"app-*", "audit-*", false},
		// Elasticsearch's built-in data stream template.
		{"logs-shop-*", "logs-*-*", true},
		{"shop-*", "logs-*-*", false},
		// Stars anywhere, not only at the end.
		{"*-shop-*", "logs-*", true},
		{"a-*-z", "b*", false},
		{"x*y", "*z", false},
		{"ab*", "*ba", true},
		{"audit-*", "audit", false},
		{"audit-*", "audit-2026.01.01", true},
		{"audit-*", "audit-2026.*.01", true},
		{"", "*", true},
		{"", "a", false},
		{"**", "a", true},
		{"a*", "b*", false},
	}
	for _, c := range cases {
		if got := PatternsOverlap(c.a, c.b); got != c.want {
			t.Errorf("PatternsOverlap(%q, %q) = %v, want %v", c.a, c.b, got, c.want)
		}
		if got := PatternsOverlap(c.b, c.a); got != c.want {
			t.Errorf("PatternsOverlap(%q, %q) = %v, want %v (not symmetric)", c.b, c.a, got, c.want)
		}
	}
}

// Every pair of patterns over {a, b, *} up to 3 long against brute force: a common
// name, when there is one, is at most as long as both patterns together, and two
// letters suffice (a star matches any letter).
func TestPatternsOverlapExhaustive(t *testing.T) {
	var patterns, names []string
	var grow func(prefix, alphabet string, max int, into *[]string)
	grow = func(prefix, alphabet string, max int, into *[]string) {
		*into = append(*into, prefix)
		if len(prefix) == max {
			return
		}
		for _, c := range alphabet {
			grow(prefix+string(c), alphabet, max, into)
		}
	}
	grow("", "ab*", 3, &patterns)
	grow("", "ab", 6, &names)
	for _, a := range patterns {
		for _, b := range patterns {
			want := false
			for _, n := range names {
				ma, _ := path.Match(a, n)
				mb, _ := path.Match(b, n)
				if ma && mb {
					want = true
					break
				}
			}
			if got := PatternsOverlap(a, b); got != want {
				t.Errorf("PatternsOverlap(%q, %q) = %v, brute force %v", a, b, got, want)
			}
		}
	}
}

func TestSearchConflicts(t *testing.T) {
	const own = "logplane-lo.shop.search"
	platform := SearchSetting{Kind: "ISM policy", ID: "platform-audit", Patterns: []string{"audit-*"}, Keeps: 1825}
	cases := []struct {
		name     string
		pattern  string
		days     Days
		settings []SearchSetting
		governed map[string]string
		want     []string // IDs of the settings named
	}{
		{"the attack: the tenant's prefix is the platform's", "audit-*", 30, []SearchSetting{platform}, nil, []string{"platform-audit"}},
		{"disjoint prefix", "shop-*", 30, []SearchSetting{platform}, nil, nil},
		{"inside a broader pattern", "logs-shop-*", 30,
			[]SearchSetting{{Kind: "ISM policy", ID: "platform-logs", Patterns: []string{"logs-*"}, Keeps: 365}}, nil, []string{"platform-logs"}},
		{"a policy without delete keeps forever", "audit-*", 1825,
			[]SearchSetting{{Kind: "ISM policy", ID: "rollover-only", Patterns: []string{"*"}, Keeps: Forever}}, nil, []string{"rollover-only"}},
		{"a shorter or equal policy is not cut short", "audit-*", 1825, []SearchSetting{platform}, nil, nil},
		{"our own policy is not someone else's", "audit-*", 30,
			[]SearchSetting{{Kind: "ISM policy", ID: own, Patterns: []string{"audit-*"}, Keeps: 365}}, nil, nil},
		{"another logplane output's policy counts", "audit-*", 30,
			[]SearchSetting{{Kind: "ISM policy", ID: "logplane-clo.audit", Patterns: []string{"audit-*"}, Keeps: 1825}}, nil, []string{"logplane-clo.audit"}},
		{"forever writes nothing, cuts nothing", "audit-*", Forever, []SearchSetting{platform}, nil, nil},
		{"an existing index under a longer policy", "shop-*", 30, []SearchSetting{platform},
			map[string]string{"shop-2026.01.01": "platform-audit", "shop-2026.01.02": own, "shop-2026.01.03": ""}, []string{"platform-audit"}},
		{"an existing index under a policy not found is kept forever", "shop-*", 30, nil,
			map[string]string{"shop-2026.01.01": "gone"}, []string{"gone"}},
		{"an existing index under a shorter policy", "shop-*", 30, nil,
			map[string]string{"shop-2026.01.01": "week"}, nil},
	}
	keeps := map[string]Days{"platform-audit": 1825, "week": 7, own: 90}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := SearchConflicts("ISM policy", own, c.pattern, c.days, c.settings, c.governed, keeps)
			var ids []string
			for _, g := range got {
				ids = append(ids, g.Setting.ID)
			}
			if !reflect.DeepEqual(ids, c.want) {
				t.Errorf("conflicts %v, want %v", ids, c.want)
			}
		})
	}
}

func TestSearchConflictMessage(t *testing.T) {
	msg := SearchConflictMessage("ISM policy", "logplane-lo.shop.search", "audit-*", 30, []SearchConflict{
		{Setting: SearchSetting{Kind: "ISM policy", ID: "platform-audit", Patterns: []string{"audit-*"}, Keeps: 1825}},
		{Setting: SearchSetting{Kind: "ISM policy", ID: "legacy", Keeps: Forever}, Indices: []string{"audit-1", "audit-2", "audit-3", "audit-4"}},
	})
	for _, want := range []string{
		`ISM policy "logplane-lo.shop.search" (index pattern audit-*, 30d) would take over indices that`,
		`ISM policy "platform-audit" (index patterns audit-*, 1825d)`,
		`ISM policy "legacy" (on the existing indices audit-1, audit-2, audit-3 and 1 more, forever)`,
		"use a dailyIndexPrefix whose indices no such pattern matches", "owner of those settings",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("message %q lacks %q", msg, want)
		}
	}
	es := SearchConflictMessage("index template", "logplane-lo.shop.search", "logs-shop-*", 30, []SearchConflict{
		{Setting: SearchSetting{Kind: "index template", ID: "logs", Patterns: []string{"logs-*-*"}, Keeps: Forever}},
	})
	if !strings.Contains(es, `index template "logs" (index patterns logs-*-*, no ILM policy, forever)`) || !strings.Contains(es, "owner of that setting") {
		t.Errorf("message %q", es)
	}
}

func TestISMPolicies(t *testing.T) {
	settings, total, err := ISMPolicies([]byte(osPolicies))
	if err != nil {
		t.Fatal(err)
	}
	want := []SearchSetting{
		{Kind: "ISM policy", ID: "platform-audit", Patterns: []string{"audit-*"}, Keeps: 1825},
		{Kind: "ISM policy", ID: "rollover-only", Patterns: []string{"metrics-*"}, Keeps: Forever},
		{Kind: "ISM policy", ID: "warm-then-delete", Keeps: 90},
	}
	if total != 3 || !reflect.DeepEqual(settings, want) {
		t.Errorf("ISMPolicies = %+v, %d; want %+v, 3", settings, total, want)
	}
	if _, _, err := ISMPolicies([]byte(`<html>`)); err == nil {
		t.Error("not JSON accepted")
	}
}

func TestISMKeeps(t *testing.T) {
	cases := []struct {
		name   string
		states []ismState
		want   Days
	}{
		{"longest age into a deleting state", []ismState{
			{Name: "hot", Transitions: []ismTransition{{StateName: "gone", Conditions: map[string]string{"min_index_age": "30d"}}}},
			{Name: "warm", Transitions: []ismTransition{{StateName: "gone", Conditions: map[string]string{"min_index_age": "400d"}}}},
			{Name: "gone", Actions: []map[string]any{{"delete": map[string]any{}}}},
		}, 400},
		{"delete on size only has no age to trust", []ismState{
			{Name: "hot", Transitions: []ismTransition{{StateName: "delete", Conditions: map[string]string{"min_size": "50gb"}}}},
			{Name: "delete", Actions: []map[string]any{{"delete": map[string]any{}}}},
		}, Forever},
		{"a state named delete that deletes nothing", []ismState{
			{Name: "hot", Transitions: []ismTransition{{StateName: "delete", Conditions: map[string]string{"min_index_age": "1d"}}}},
			{Name: "delete", Actions: []map[string]any{{"read_only": map[string]any{}}}},
		}, Forever},
	}
	for _, c := range cases {
		if got, err := ISMKeeps(c.states); err != nil || got != c.want {
			t.Errorf("%s: ISMKeeps = %v, %v; want %v", c.name, got, err, c.want)
		}
	}
}

func TestISMExplain(t *testing.T) {
	governed, whole, err := ISMExplain([]byte(osExplainAudit))
	if err != nil || !whole {
		t.Fatal(whole, err)
	}
	want := map[string]string{"audit-2026.11.01": "platform-audit", "audit-2026.11.02": ""}
	if !reflect.DeepEqual(governed, want) {
		t.Errorf("governed %v, want %v", governed, want)
	}
	// An answer that counts more managed indices than it holds is not read as whole.
	if _, whole, _ := ISMExplain([]byte(`{"a-1":{"policy_id":"p"},"total_managed_indices":20}`)); whole {
		t.Error("a partial answer read as whole")
	}
}

func TestIndexTemplatesAndLifecycles(t *testing.T) {
	keeps, err := ILMPolicies([]byte(esPolicies))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(keeps, map[string]Days{"audit-5y": 1825, "logs": Forever}) {
		t.Errorf("ILMPolicies = %v", keeps)
	}
	settings, err := IndexTemplates([]byte(esTemplates), keeps)
	if err != nil {
		t.Fatal(err)
	}
	want := []SearchSetting{
		{Kind: "index template", ID: "platform-audit", Patterns: []string{"audit-*"}, Policy: "audit-5y", Keeps: 1825},
		{Kind: "index template", ID: "logs", Patterns: []string{"logs-*-*"}, Keeps: Forever},
		{Kind: "index template", ID: "mappings-only", Patterns: []string{"web-*"}, Keeps: Forever},
	}
	if !reflect.DeepEqual(settings, want) {
		t.Errorf("IndexTemplates = %+v\nwant %+v", settings, want)
	}
	lifecycles, err := IndexLifecycles([]byte(esAuditIndices))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(lifecycles, map[string]string{"audit-2026.11.01": "audit-5y", "audit-2026.11.02": ""}) {
		t.Errorf("IndexLifecycles = %v", lifecycles)
	}
}
