package retention

import (
	"testing"

	v1 "github.com/logplane/logplane/api/v1alpha1"
)

var searchTarget = Target{Output: v1.ObjectReference{Kind: "LogOutput", Namespace: "team-a", Name: "search"}}

func TestISMPolicy(t *testing.T) {
	doc, err := ISMPolicy(searchTarget, "app-*", 30)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "ism-policy-30d.json", append(doc, '\n'))
	if _, err := ISMPolicy(searchTarget, "app-*", Forever); err == nil {
		t.Error("a delete phase for forever must be refused")
	}
	// What logplane writes, it reads back as enforced and attached.
	stored := []byte(`{"_id":"x","_seq_no":3,"_primary_term":1,` + string(doc[1:len(doc)-1]) + `}`)
	obs, err := ISMCurrent(stored, "app-*")
	if err != nil || obs != (Observed{Days: 30}) {
		t.Errorf("ISMCurrent(own policy) = %+v, %v", obs, err)
	}
}

func TestISMCurrent(t *testing.T) {
	cases := []struct {
		name    string
		body    string
		want    Observed
		wantErr bool
	}{
		{"as OpenSearch returns it", `{"_id":"p","_version":2,"_seq_no":5,"_primary_term":1,"policy":{"policy_id":"p","default_state":"hot",
			"states":[{"name":"hot","actions":[],"transitions":[{"state_name":"delete","conditions":{"min_index_age":"90d"}}]},
			{"name":"delete","actions":[{"retry":{"count":3},"delete":{}}],"transitions":[]}],
			"ism_template":[{"index_patterns":["app-*"],"priority":100,"last_updated_time":1700000000000}]}}`, Observed{Days: 90}, false},
		{"edited to hours", `{"policy":{"states":[{"name":"hot","transitions":[{"state_name":"delete","conditions":{"min_index_age":"49h"}}]}],
			"ism_template":[{"index_patterns":["app-*"]}]}}`, Observed{Days: 3}, false},
		{"template moved to another pattern", `{"policy":{"states":[{"name":"hot","transitions":[{"state_name":"delete","conditions":{"min_index_age":"30d"}}]}],
			"ism_template":[{"index_patterns":["old-*"]}]}}`, Observed{Days: 30, Stale: true}, false},
		{"no delete transition", `{"policy":{"states":[{"name":"hot","transitions":[]}],"ism_template":[{"index_patterns":["app-*"]}]}}`, Observed{Days: Forever}, false},
		{"unreadable age", `{"policy":{"states":[{"name":"hot","transitions":[{"state_name":"delete","conditions":{"min_index_age":"soon"}}]}]}}`, Observed{}, true},
		{"not JSON", `<html>`, Observed{}, true},
	}
	for _, c := range cases {
		got, err := ISMCurrent([]byte(c.body), "app-*")
		if (err != nil) != c.wantErr || got != c.want {
			t.Errorf("%s: ISMCurrent = %+v, %v; want %+v, error %v", c.name, got, err, c.want, c.wantErr)
		}
	}
}

func TestILM(t *testing.T) {
	policy, err := ILMPolicy(searchTarget, 1827)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "ilm-policy-1827d.json", append(policy, '\n'))
	tpl, err := IndexTemplate(searchTarget, "app-*", "logplane-lo.team-a.search")
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "index-template.json", append(tpl, '\n'))
	if _, err := ILMPolicy(searchTarget, Forever); err == nil {
		t.Error("a delete phase for forever must be refused")
	}
}

func TestILMCurrent(t *testing.T) {
	cases := []struct {
		name    string
		body    string
		want    Days
		wantErr bool
	}{
		{"as Elasticsearch returns it", `{"p":{"version":1,"modified_date":"2026-11-01T00:00:00.000Z","policy":{"phases":{
			"delete":{"min_age":"1827d","actions":{"delete":{"delete_searchable_snapshot":true}}}},"_meta":{"managed_by":"logplane"}},
			"in_use_by":{"indices":[],"data_streams":[],"composable_templates":["p"]}}}`, 1827, false},
		{"other policy in the answer", `{"q":{"policy":{"phases":{"delete":{"min_age":"1d","actions":{"delete":{}}}}}}}`, Forever, false},
		{"delete phase without delete action", `{"p":{"policy":{"phases":{"delete":{"min_age":"30d","actions":{}}}}}}`, Forever, false},
		{"no delete phase", `{"p":{"policy":{"phases":{"hot":{"min_age":"0ms","actions":{}}}}}}`, Forever, false},
		{"min_age left out deletes at once", `{"p":{"policy":{"phases":{"delete":{"actions":{"delete":{}}}}}}}`, 1, false},
		{"unreadable", `{"p":{"policy":{"phases":{"delete":{"min_age":"x","actions":{"delete":{}}}}}}}`, 0, true},
	}
	for _, c := range cases {
		got, err := ILMCurrent([]byte(c.body), "p")
		if (err != nil) != c.wantErr || got != c.want {
			t.Errorf("%s: ILMCurrent = %v, %v; want %v, error %v", c.name, got, err, c.want, c.wantErr)
		}
	}
}

func TestIndexTemplateCurrent(t *testing.T) {
	cases := []struct {
		name string
		body string
		want bool
	}{
		{"as Elasticsearch returns it", `{"index_templates":[{"name":"p","index_template":{"index_patterns":["app-*"],
			"template":{"settings":{"index":{"lifecycle":{"name":"p"}}}},"composed_of":[],"priority":150}}]}`, true},
		{"flat setting", `{"index_templates":[{"name":"p","index_template":{"index_patterns":["app-*"],"template":{"settings":{"index.lifecycle.name":"p"}}}}]}`, true},
		{"other pattern", `{"index_templates":[{"name":"p","index_template":{"index_patterns":["old-*"],"template":{"settings":{"index":{"lifecycle":{"name":"p"}}}}}}]}`, false},
		{"other policy", `{"index_templates":[{"name":"p","index_template":{"index_patterns":["app-*"],"template":{"settings":{"index":{"lifecycle":{"name":"q"}}}}}}]}`, false},
	}
	for _, c := range cases {
		got, err := IndexTemplateCurrent([]byte(c.body), "app-*", "p")
		if err != nil || got != c.want {
			t.Errorf("%s: IndexTemplateCurrent = %v, %v; want %v", c.name, got, err, c.want)
		}
	}
}
