package fluentbit

import (
	"fmt"

	yaml "go.yaml.in/yaml/v3"
)

// Condition limits a processor to the records it matches (Fluent Bit 5.0+ runs filter
// processors per matching record). Fluent Bit does not expand ${...} inside
// conditions, and compiles them only at the first record — a bad operator would make
// the condition never match with no startup error — so the operators are constants.
type Condition struct {
	Op    string // "and" or "or"
	Rules []Rule
}

// Rule tests one field.
type Rule struct {
	Field  string
	Op     RuleOp
	Value  string   // for Eq, Neq, Regex, NotRegex
	Values []string // for In, NotIn
}

// RuleOp is a condition operator.
type RuleOp string

const (
	OpEq    RuleOp = "eq"
	OpNeq   RuleOp = "neq"
	OpRegex RuleOp = "regex"
	OpIn    RuleOp = "in"
	OpNotIn RuleOp = "not_in"
)

func conditionNode(c *Condition) (*yaml.Node, error) {
	if c.Op != "and" && c.Op != "or" {
		return nil, fmt.Errorf("condition op must be and or or, not %q", c.Op)
	}
	m := mapping()
	appendPair(m, "op", quoted(c.Op))
	rules := &yaml.Node{Kind: yaml.SequenceNode}
	for _, r := range c.Rules {
		rm := mapping()
		for _, s := range append([]string{r.Field, r.Value}, r.Values...) {
			if why := Check(s); why != "" {
				return nil, fmt.Errorf("condition on %q: unsafe value: %s", r.Field, why)
			}
		}
		appendPair(rm, "field", quoted(r.Field))
		appendPair(rm, "op", quoted(string(r.Op)))
		switch r.Op {
		case OpIn, OpNotIn:
			seq := &yaml.Node{Kind: yaml.SequenceNode}
			for _, v := range r.Values {
				seq.Content = append(seq.Content, quoted(v))
			}
			appendPair(rm, "value", seq)
		case OpEq, OpNeq, OpRegex:
			appendPair(rm, "value", quoted(r.Value))
		default:
			return nil, fmt.Errorf("unknown condition operator %q", r.Op)
		}
		rules.Content = append(rules.Content, rm)
	}
	appendPair(m, "rules", rules)
	return m, nil
}
