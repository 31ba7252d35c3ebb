package retention

import (
	"encoding/json"
	"fmt"
	"slices"
)

// ilmPolicy is the body of PUT _ilm/policy/<name> (Elasticsearch Index Lifecycle
// Management): a delete phase only, timed from index creation, since the output writes
// daily indices rather than rolling over.
type ilmPolicy struct {
	Policy ilmPolicyBody `json:"policy"`
}

type ilmPolicyBody struct {
	Meta   map[string]string   `json:"_meta,omitempty"`
	Phases map[string]ilmPhase `json:"phases"`
}

type ilmPhase struct {
	MinAge  string                    `json:"min_age"`
	Actions map[string]map[string]any `json:"actions"`
}

// ILMPolicy is the ILM policy document for a target's indices.
func ILMPolicy(t Target, days Days) ([]byte, error) {
	if days == Forever {
		return nil, fmt.Errorf("an ILM delete phase needs a finite retention")
	}
	p := ilmPolicy{Policy: ilmPolicyBody{
		Meta: map[string]string{"managed_by": "logplane", "output": describe(t)},
		Phases: map[string]ilmPhase{
			"delete": {MinAge: ageString(days), Actions: map[string]map[string]any{"delete": {}}},
		},
	}}
	return json.MarshalIndent(p, "", "  ")
}

// indexTemplate is the body of PUT _index_template/<name>: it names the ILM policy on
// every new index of the pattern.
type indexTemplate struct {
	IndexPatterns []string          `json:"index_patterns"`
	Priority      int               `json:"priority"`
	Template      templateSettings  `json:"template"`
	Meta          map[string]string `json:"_meta,omitempty"`
}

type templateSettings struct {
	Settings map[string]string `json:"settings"`
}

// indexTemplatePriority is above the built-in templates of Elasticsearch that could
// match a plain prefix pattern (they use 100 for logs-*-* and lower for the rest) and
// leaves room for a platform team's own templates above it.
const indexTemplatePriority = 150

// IndexTemplate is the composable index template that attaches policy to pattern.
func IndexTemplate(t Target, pattern, policy string) ([]byte, error) {
	return json.MarshalIndent(indexTemplate{
		IndexPatterns: []string{pattern},
		Priority:      indexTemplatePriority,
		Template:      templateSettings{Settings: map[string]string{"index.lifecycle.name": policy}},
		Meta:          map[string]string{"managed_by": "logplane", "output": describe(t)},
	}, "", "  ")
}

// ilmPolicies is the answer of GET _ilm/policy[/<name>]: policies by name.
type ilmPolicies map[string]struct {
	Policy struct {
		Phases map[string]struct {
			MinAge  string         `json:"min_age"`
			Actions map[string]any `json:"actions"`
		} `json:"phases"`
	} `json:"policy"`
}

// ILMCurrent reads GET _ilm/policy/<name>: the age at which the policy deletes indices.
func ILMCurrent(body []byte, name string) (Days, error) {
	var got ilmPolicies
	if err := json.Unmarshal(body, &got); err != nil {
		return 0, fmt.Errorf("failed to read the ILM policy: %w", errNotPolicy)
	}
	return got.keeps(name)
}

// keeps is how long the policy name keeps an index: its delete phase's min_age;
// Forever without a delete phase (or without the policy).
func (got ilmPolicies) keeps(name string) (Days, error) {
	p, ok := got[name]
	if !ok {
		return Forever, nil
	}
	del, ok := p.Policy.Phases["delete"]
	if _, deletes := del.Actions["delete"]; !ok || !deletes {
		return Forever, nil
	}
	if del.MinAge == "" {
		// Elasticsearch's default min_age is 0: delete at once.
		return 1, nil
	}
	return parseAge(del.MinAge)
}

// IndexTemplateCurrent reads GET _index_template/<name> and reports whether the
// template still attaches policy to exactly pattern.
func IndexTemplateCurrent(body []byte, pattern, policy string) (bool, error) {
	var got struct {
		IndexTemplates []struct {
			IndexTemplate struct {
				IndexPatterns []string `json:"index_patterns"`
				Template      struct {
					Settings struct {
						Index struct {
							Lifecycle struct {
								Name string `json:"name"`
							} `json:"lifecycle"`
						} `json:"index"`
						Flat string `json:"index.lifecycle.name"`
					} `json:"settings"`
				} `json:"template"`
			} `json:"index_template"`
		} `json:"index_templates"`
	}
	if err := json.Unmarshal(body, &got); err != nil {
		return false, fmt.Errorf("failed to read the index template: %w", errNotPolicy)
	}
	for _, t := range got.IndexTemplates {
		s := t.IndexTemplate.Template.Settings
		if slices.Equal(t.IndexTemplate.IndexPatterns, []string{pattern}) && (s.Index.Lifecycle.Name == policy || s.Flat == policy) {
			return true, nil
		}
	}
	return false, nil
}
