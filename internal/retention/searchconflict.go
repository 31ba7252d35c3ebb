package retention

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// Retention at a search destination is a policy attached to indices, and an index has
// exactly one: for a new index, the ISM template (OpenSearch) or the index template
// (Elasticsearch) of highest priority whose patterns match its name chooses it, and
// logplane also attaches its policy to the existing indices of its pattern. So where a
// setting of someone else reaches indices logplane's pattern reaches too and keeps
// them longer — or forever, having no delete at all — logplane's policy would take
// those indices over and delete them early. Priorities are not trusted to prevent it:
// either side can change them later, and the existing indices are taken over whatever
// they are.

// PatternsOverlap says whether some index name matches both patterns. Index patterns
// of ISM templates and index templates know one wildcard, * (any run of characters,
// none included); everything else matches itself. The check walks both patterns at
// once (the product of the two automata), so it is exact for any placement of *, not
// only for trailing ones: "logs-*" and "*-shop-*" overlap ("logs-shop-x"), "a-*-z" and
// "b*" do not.
func PatternsOverlap(a, b string) bool {
	seen := make([]bool, (len(a)+1)*(len(b)+1))
	var reach func(i, j int) bool
	reach = func(i, j int) bool {
		if seen[i*(len(b)+1)+j] {
			return false // already explored from here without success
		}
		seen[i*(len(b)+1)+j] = true
		aEnd, bEnd := i == len(a), j == len(b)
		switch {
		case aEnd && bEnd:
			return true
		case !aEnd && a[i] == '*':
			// The star matches nothing more, or takes b's next character (a literal,
			// or nothing when b's is a star too, which the other branch covers).
			return reach(i+1, j) || (!bEnd && reach(i, j+1))
		case !bEnd && b[j] == '*':
			return reach(i, j+1) || (!aEnd && reach(i+1, j))
		case aEnd || bEnd:
			return false
		}
		return a[i] == b[j] && reach(i+1, j+1)
	}
	return reach(0, 0)
}

// SearchSetting is a setting of a search destination that chooses a policy for the
// indices its patterns match: an ISM policy with its ism_template, or an index template
// with the ILM policy it names.
type SearchSetting struct {
	// Kind is "ISM policy" or "index template"; ID its name.
	Kind, ID string
	// Patterns are the index patterns it attaches a policy to. Exclusions ("-x*")
	// are left out: reading a setting as reaching more only makes logplane more careful.
	Patterns []string
	// Policy is the ILM policy an index template names ("" for none, or an ISM policy).
	Policy string
	// Keeps is how long the policy keeps an index: Forever without a delete.
	Keeps Days
}

// SearchConflict is a setting of someone else that logplane's policy would cut short.
type SearchConflict struct {
	Setting SearchSetting
	// Indices are existing indices of logplane's pattern that another policy governs
	// now (Setting.Kind is then "ISM policy" or "ILM policy", and Patterns empty).
	Indices []string
}

// SearchConflicts lists the settings of others that logplane's policy (its setting
// own, of kind ownKind) deleting the indices of pattern after days would cut short;
// none for Forever, which deletes nothing. Two things count, in this order:
//  1. a setting whose patterns can match an index name pattern matches, and that keeps
//     its indices longer (a policy without delete keeps them forever): logplane's
//     template may win for new indices there;
//  2. an existing index of pattern governed by another policy that keeps it longer
//     (governed maps index to policy, keeps policy to its period; a policy not found
//     is taken to keep forever): logplane would move it to its own policy.
//
// Settings of other logplane outputs count as anyone's. Indices without a policy are
// not conflicts: they are kept forever by no one's decision, and setting a first limit
// on them is shortening, which Decide guards.
func SearchConflicts(ownKind, own, pattern string, days Days, settings []SearchSetting, governed map[string]string, keeps map[string]Days) []SearchConflict {
	if days == Forever {
		return nil
	}
	var out []SearchConflict
	for _, s := range settings {
		if s.Kind == ownKind && s.ID == own || !days.Shorter(s.Keeps) {
			continue
		}
		var overlapping []string
		for _, p := range s.Patterns {
			if PatternsOverlap(pattern, p) {
				overlapping = append(overlapping, p)
			}
		}
		if len(overlapping) > 0 {
			s.Patterns = overlapping
			out = append(out, SearchConflict{Setting: s})
		}
	}
	byPolicy := map[string][]string{}
	for index, policy := range governed {
		if policy == "" || policy == own {
			continue
		}
		k, known := keeps[policy]
		if !known {
			k = Forever
		}
		if days.Shorter(k) {
			byPolicy[policy] = append(byPolicy[policy], index)
		}
	}
	policies := make([]string, 0, len(byPolicy))
	for p := range byPolicy {
		policies = append(policies, p)
	}
	slices.Sort(policies)
	kind := "ISM policy"
	if ownKind == "index template" {
		kind = "ILM policy"
	}
	for _, p := range policies {
		indices := byPolicy[p]
		slices.Sort(indices)
		k, known := keeps[p]
		if !known {
			k = Forever
		}
		out = append(out, SearchConflict{Setting: SearchSetting{Kind: kind, ID: p, Keeps: k}, Indices: indices})
	}
	return out
}

// SearchConflictMessage names logplane's setting and every setting it would cut short.
func SearchConflictMessage(ownKind, own, pattern string, days Days, conflicts []SearchConflict) string {
	others := make([]string, len(conflicts))
	for i, c := range conflicts {
		others[i] = describeSetting(c)
	}
	return fmt.Sprintf("%s %q (index pattern %s, %s) would take over indices that %s keeps longer: an index has one policy, chosen for a new one "+
		"by the matching template of highest priority, and logplane attaches its own to the existing indices of its pattern; "+
		"use a dailyIndexPrefix whose indices no such pattern matches, or agree a retention with the owner of %s",
		ownKind, own, pattern, days, strings.Join(others, ", "), settingWord(len(conflicts)))
}

func describeSetting(c SearchConflict) string {
	s := c.Setting
	var where string
	if len(c.Indices) > 0 {
		const shown = 3
		where = "on the existing indices " + strings.Join(c.Indices[:min(len(c.Indices), shown)], ", ")
		if n := len(c.Indices) - shown; n > 0 {
			where += fmt.Sprintf(" and %d more", n)
		}
	} else {
		where = "index patterns " + strings.Join(s.Patterns, ", ")
	}
	if s.Kind == "index template" {
		if s.Policy == "" {
			where += ", no ILM policy"
		} else {
			where += fmt.Sprintf(", ILM policy %q", s.Policy)
		}
	}
	return fmt.Sprintf("%s %q (%s, %s)", s.Kind, s.ID, where, s.Keeps)
}

func settingWord(n int) string {
	if n == 1 {
		return "that setting"
	}
	return "those settings"
}

// includedPatterns drops exclusion patterns ("-x*"), which only narrow a setting.
func includedPatterns(patterns []string) []string {
	out := make([]string, 0, len(patterns))
	for _, p := range patterns {
		if !strings.HasPrefix(p, "-") {
			out = append(out, p)
		}
	}
	return out
}

// ISMKeeps is how long an ISM policy keeps an index at least: the longest
// min_index_age of a transition into a state that deletes; Forever when no state
// deletes or no transition into one has an age (reading a policy as keeping longer
// than it does only makes logplane more careful with it).
func ISMKeeps(states []ismState) (Days, error) {
	deletes := map[string]bool{}
	for _, s := range states {
		for _, a := range s.Actions {
			if _, ok := a["delete"]; ok {
				deletes[s.Name] = true
			}
		}
	}
	keeps := Forever
	aged := false
	for _, s := range states {
		for _, tr := range s.Transitions {
			if !deletes[tr.StateName] {
				continue
			}
			age, ok := tr.Conditions["min_index_age"]
			if !ok {
				return Forever, nil // a delete on another condition (size, count): no age to trust
			}
			d, err := parseAge(age)
			if err != nil {
				return 0, err
			}
			if !aged || d > keeps {
				keeps, aged = d, true
			}
		}
	}
	return keeps, nil
}

// ISMPolicies reads one page of GET _plugins/_ism/policies: every policy as a setting
// (its ism_template patterns, what it keeps), and the total number of policies.
func ISMPolicies(body []byte) ([]SearchSetting, int, error) {
	var got struct {
		Policies []struct {
			ID     string `json:"_id"`
			Policy struct {
				States      []ismState `json:"states"`
				ISMTemplate []struct {
					IndexPatterns []string `json:"index_patterns"`
				} `json:"ism_template"`
			} `json:"policy"`
		} `json:"policies"`
		Total int `json:"total_policies"`
	}
	if err := json.Unmarshal(body, &got); err != nil {
		return nil, 0, fmt.Errorf("failed to read the ISM policies: %w", errNotPolicy)
	}
	out := make([]SearchSetting, 0, len(got.Policies))
	for _, p := range got.Policies {
		keeps, err := ISMKeeps(p.Policy.States)
		if err != nil {
			return nil, 0, fmt.Errorf("ISM policy %q: %w", p.ID, err)
		}
		s := SearchSetting{Kind: "ISM policy", ID: p.ID, Keeps: keeps}
		for _, t := range p.Policy.ISMTemplate {
			s.Patterns = append(s.Patterns, includedPatterns(t.IndexPatterns)...)
		}
		out = append(out, s)
	}
	return out, got.Total, nil
}

// ISMExplain reads GET _plugins/_ism/explain/<pattern>: the policy of every index
// ("" for none), and whether the answer holds every managed index it counts.
func ISMExplain(body []byte) (map[string]string, bool, error) {
	var got map[string]json.RawMessage
	if err := json.Unmarshal(body, &got); err != nil {
		return nil, false, fmt.Errorf("failed to read the ISM explanation: %w", errNotPolicy)
	}
	governed := map[string]string{}
	total, managed := 0, 0
	for index, raw := range got {
		if index == "total_managed_indices" {
			if err := json.Unmarshal(raw, &total); err != nil {
				return nil, false, fmt.Errorf("failed to read the ISM explanation: %w", errNotPolicy)
			}
			continue
		}
		var e struct {
			Setting  *string `json:"index.plugins.index_state_management.policy_id"`
			PolicyID *string `json:"policy_id"`
		}
		if err := json.Unmarshal(raw, &e); err != nil {
			return nil, false, fmt.Errorf("failed to read the ISM explanation: %w", errNotPolicy)
		}
		switch {
		case e.PolicyID != nil && *e.PolicyID != "":
			governed[index] = *e.PolicyID
		case e.Setting != nil && *e.Setting != "":
			governed[index] = *e.Setting
		default:
			governed[index] = ""
			continue
		}
		managed++
	}
	return governed, managed >= total, nil
}

// IndexTemplates reads GET _index_template: every composable template as a setting,
// with the ILM policy its own settings name. A template that names none (or names it
// only in a component template) is taken to keep forever: reading it longer only
// makes logplane more careful.
func IndexTemplates(body []byte, keeps map[string]Days) ([]SearchSetting, error) {
	var got struct {
		IndexTemplates []struct {
			Name          string `json:"name"`
			IndexTemplate struct {
				IndexPatterns []string `json:"index_patterns"`
				Template      struct {
					Settings json.RawMessage `json:"settings"`
				} `json:"template"`
			} `json:"index_template"`
		} `json:"index_templates"`
	}
	if err := json.Unmarshal(body, &got); err != nil {
		return nil, fmt.Errorf("failed to read the index templates: %w", errNotPolicy)
	}
	out := make([]SearchSetting, 0, len(got.IndexTemplates))
	for _, t := range got.IndexTemplates {
		policy := lifecycleName(t.IndexTemplate.Template.Settings)
		k, known := keeps[policy]
		if policy == "" || !known {
			k = Forever
		}
		out = append(out, SearchSetting{Kind: "index template", ID: t.Name, Patterns: includedPatterns(t.IndexTemplate.IndexPatterns), Policy: policy, Keeps: k})
	}
	return out, nil
}

// lifecycleName is index.lifecycle.name in index settings, nested or flat.
func lifecycleName(settings json.RawMessage) string {
	var s struct {
		Index struct {
			Lifecycle struct {
				Name string `json:"name"`
			} `json:"lifecycle"`
			Flat string `json:"lifecycle.name"`
		} `json:"index"`
		Flat string `json:"index.lifecycle.name"`
	}
	if len(settings) == 0 || json.Unmarshal(settings, &s) != nil {
		return ""
	}
	for _, n := range []string{s.Index.Lifecycle.Name, s.Index.Flat, s.Flat} {
		if n != "" {
			return n
		}
	}
	return ""
}

// ILMPolicies reads GET _ilm/policy: how long each policy keeps an index.
func ILMPolicies(body []byte) (map[string]Days, error) {
	var got ilmPolicies
	if err := json.Unmarshal(body, &got); err != nil {
		return nil, fmt.Errorf("failed to read the ILM policies: %w", errNotPolicy)
	}
	out := make(map[string]Days, len(got))
	for name := range got {
		d, err := got.keeps(name)
		if err != nil {
			return nil, fmt.Errorf("ILM policy %q: %w", name, err)
		}
		out[name] = d
	}
	return out, nil
}

// IndexLifecycles reads GET <pattern>/_settings/index.lifecycle.name: the ILM policy
// of every index ("" for none).
func IndexLifecycles(body []byte) (map[string]string, error) {
	var got map[string]struct {
		Settings json.RawMessage `json:"settings"`
	}
	if err := json.Unmarshal(body, &got); err != nil {
		return nil, fmt.Errorf("failed to read the indices' settings: %w", errNotPolicy)
	}
	out := make(map[string]string, len(got))
	for index, s := range got {
		out[index] = lifecycleName(s.Settings)
	}
	return out, nil
}
