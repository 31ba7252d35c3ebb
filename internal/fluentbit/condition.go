package fluentbit

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
