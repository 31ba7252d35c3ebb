package retention

import (
	"encoding/json"
	"fmt"
	"slices"
)

// ismPolicy is the body of PUT _plugins/_ism/policies/<id> (OpenSearch Index State
// Management): indices start in "hot" and move to "delete", which deletes them, once
// they are older than the retention. The ISM template attaches the policy to every new
// index of the output's pattern.
type ismPolicy struct {
	Policy ismPolicyBody `json:"policy"`
}

type ismPolicyBody struct {
	Description  string        `json:"description"`
	DefaultState string        `json:"default_state"`
	States       []ismState    `json:"states"`
	ISMTemplate  []ismTemplate `json:"ism_template"`
}

type ismState struct {
	Name        string           `json:"name"`
	Actions     []map[string]any `json:"actions"`
	Transitions []ismTransition  `json:"transitions"`
}

type ismTransition struct {
	StateName  string            `json:"state_name"`
	Conditions map[string]string `json:"conditions,omitempty"`
}

type ismTemplate struct {
	IndexPatterns []string `json:"index_patterns"`
	Priority      int      `json:"priority"`
}

// ismTemplatePriority ranks logplane's template above OpenSearch's default (0) but
// leaves room above it for a platform team's own.
const ismTemplatePriority = 100

// ISMPolicy is the ISM policy document for a target's indices.
func ISMPolicy(t Target, pattern string, days Days) ([]byte, error) {
	if days == Forever {
		return nil, fmt.Errorf("an ISM delete phase needs a finite retention")
	}
	p := ismPolicy{Policy: ismPolicyBody{
		Description:  fmt.Sprintf("Managed by logplane for %s: deletes indices older than %s. Edits are overwritten.", describe(t), ageString(days)),
		DefaultState: "hot",
		States: []ismState{
			{Name: "hot", Actions: []map[string]any{}, Transitions: []ismTransition{
				{StateName: "delete", Conditions: map[string]string{"min_index_age": ageString(days)}}}},
			{Name: "delete", Actions: []map[string]any{{"delete": map[string]any{}}}, Transitions: []ismTransition{}},
		},
		ISMTemplate: []ismTemplate{{IndexPatterns: []string{pattern}, Priority: ismTemplatePriority}},
	}}
	return json.MarshalIndent(p, "", "  ")
}

// ISMCurrent reads a stored ISM policy (the GET response): the age at which it deletes
// indices, and whether its template still attaches it to pattern.
func ISMCurrent(body []byte, pattern string) (Observed, error) {
	var got struct {
		Policy struct {
			States      []ismState `json:"states"`
			ISMTemplate []struct {
				IndexPatterns []string `json:"index_patterns"`
			} `json:"ism_template"`
		} `json:"policy"`
	}
	if err := json.Unmarshal(body, &got); err != nil {
		return Observed{}, fmt.Errorf("failed to read the ISM policy: %w", errNotPolicy)
	}
	obs := Observed{Days: Forever, Stale: true}
	for _, s := range got.Policy.States {
		for _, tr := range s.Transitions {
			age, ok := tr.Conditions["min_index_age"]
			if tr.StateName != "delete" || !ok {
				continue
			}
			d, err := parseAge(age)
			if err != nil {
				return Observed{}, err
			}
			obs.Days = d
		}
	}
	for _, tpl := range got.Policy.ISMTemplate {
		if slices.Equal(tpl.IndexPatterns, []string{pattern}) {
			obs.Stale = false
		}
	}
	return obs, nil
}

func describe(t Target) string {
	if t.Output.Namespace == "" {
		return t.Output.Kind + " " + t.Output.Name
	}
	return t.Output.Kind + " " + t.Output.Namespace + "/" + t.Output.Name
}
