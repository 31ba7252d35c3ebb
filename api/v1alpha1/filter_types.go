package v1alpha1

// FilterType names a kind of record processing step.
// +kubebuilder:validation:Enum=grep;parse;multiline;addFields;removeFields;throttle
type FilterType string

const (
	FilterGrep         FilterType = "grep"
	FilterParse        FilterType = "parse"
	FilterMultiline    FilterType = "multiline"
	FilterAddFields    FilterType = "addFields"
	FilterRemoveFields FilterType = "removeFields"
	FilterThrottle     FilterType = "throttle"
)

// Filter is one step of a pipeline's processing, applied in list order. Set type and the
// one block of the same name.
//
// +kubebuilder:validation:XValidation:rule="self.type == 'grep' ? has(self.grep) : !has(self.grep)",message="type grep needs the grep block, and the grep block needs type grep"
// +kubebuilder:validation:XValidation:rule="self.type == 'parse' ? has(self.parse) : !has(self.parse)",message="type parse needs the parse block, and the parse block needs type parse"
// +kubebuilder:validation:XValidation:rule="self.type == 'multiline' ? has(self.multiline) : !has(self.multiline)",message="type multiline needs the multiline block, and the multiline block needs type multiline"
// +kubebuilder:validation:XValidation:rule="self.type == 'addFields' ? has(self.addFields) : !has(self.addFields)",message="type addFields needs the addFields block, and the addFields block needs type addFields"
// +kubebuilder:validation:XValidation:rule="self.type == 'removeFields' ? has(self.removeFields) : !has(self.removeFields)",message="type removeFields needs the removeFields block, and the removeFields block needs type removeFields"
// +kubebuilder:validation:XValidation:rule="self.type == 'throttle' ? has(self.throttle) : !has(self.throttle)",message="type throttle needs the throttle block, and the throttle block needs type throttle"
type Filter struct {
	// type of the filter; the block of the same name configures it.
	// +required
	Type FilterType `json:"type"`

	// grep keeps or drops records by matching fields against regular expressions.
	// +optional
	Grep *GrepFilter `json:"grep,omitempty"`

	// parse turns a text field into structured fields.
	// +optional
	Parse *ParseFilter `json:"parse,omitempty"`

	// multiline joins records that belong to one message, such as stack traces.
	// +optional
	Multiline *MultilineFilter `json:"multiline,omitempty"`

	// addFields sets fields to fixed values.
	// +optional
	AddFields *AddFieldsFilter `json:"addFields,omitempty"`

	// removeFields deletes fields.
	// +optional
	RemoveFields *RemoveFieldsFilter `json:"removeFields,omitempty"`

	// throttle caps the record rate, dropping the excess.
	// +optional
	Throttle *ThrottleFilter `json:"throttle,omitempty"`
}

// FieldPath addresses a field of a record: a top-level key such as "log", or a nested
// one in record-accessor form such as "$kubernetes['labels']['app']".
//
// +kubebuilder:validation:MinLength=1
// +kubebuilder:validation:MaxLength=256
// +kubebuilder:validation:XValidation:rule="self.matches('^[A-Za-z0-9_][-A-Za-z0-9_.]*$') || self.matches('^\\\\$[A-Za-z0-9_][-A-Za-z0-9_.]*(\\\\[\\'[-A-Za-z0-9_./]+\\'\\\\])*$')",message="must be a field name such as log, or a nested field such as $kubernetes['labels']['app']"
type FieldPath string

// TopLevelField names a top-level field of a record; the plugins that take it cannot
// reach into nested fields.
//
// +kubebuilder:validation:MinLength=1
// +kubebuilder:validation:MaxLength=256
// +kubebuilder:validation:XValidation:rule="self.matches('^[A-Za-z0-9_][-A-Za-z0-9_.]*$')",message="must be a top-level field name such as log; this destination cannot read nested fields"
type TopLevelField string

// Regex is a regular expression for Fluent Bit's engine, Onigmo, written in the part of
// its Ruby syntax that reads the same in PCRE and RE2 and matches in bounded time.
//
// Accepted: characters, with \ before special ones (\. \( \[ \{ \/ ...); \t \n \r \f,
// \xHH up to 7F, \x{HHHH}; . (any character but a line break); classes such as [a-z] and
// [^ ], with - first, last or escaped; \d \w \s \D \W \S (ASCII only); \p{L}, \P{Nd} and
// scripts such as \p{Han}. ^ and $ match at the start and end of every line of the value,
// \A and \z at those of the whole value; \b and \B. Groups (...), (?:...), (?>...),
// named groups (?<name>...) with name matching [A-Za-z_][A-Za-z0-9_]*, look-aheads
// (?=...) (?!...), look-behinds (?<=...) (?<!...) of fixed length. (?i), (?-i) and
// (?i:...) for case-insensitive matching. Quantifiers * + ? {n} {n,} {n,m} (counts up
// to 1000), lazy (*?) and possessive (*+).
//
// Refused: what Fluent Bit cannot compile, which would stop the agent for every tenant
// of a node ((?P<name>...), (?s), (?U), unbalanced brackets, group names with - or a
// leading digit, variable-length look-behinds); what it reads unlike PCRE or RE2 ((?m),
// which makes . match line breaks there; \h, a hex digit; {,n}; {n}?; [[:alpha:]]; &&
// in classes; and /pattern/ or /pattern/i, whose slashes it strips); backreferences;
// and patterns that backtrack for seconds on one line, such as (a+)+, (a|aa)+ or three
// repetitions in a row over the same characters (.*a.*b.*c). Write [\s\S] where a
// match may cross line breaks.
//
// +kubebuilder:validation:MinLength=1
// +kubebuilder:validation:MaxLength=1024
// +kubebuilder:validation:XValidation:rule="!self.contains('\\n') && !self.contains('\\r')",message="must be a single line: newline and carriage return characters are not allowed"
// +kubebuilder:validation:XValidation:rule="!self.contains('${')",message="must not contain '${': Fluent Bit would expand it from the agent's environment"
type Regex string

// FieldMatch matches one field against a regular expression.
type FieldMatch struct {
	// field to test.
	// +required
	Field FieldPath `json:"field"`

	// regex the field's value must match, anywhere in it unless anchored with ^ or \A.
	// Fluent Bit's engine (Onigmo) reads it, in the part of Ruby syntax that PCRE and RE2
	// read alike: (?<name>...) not (?P<name>...), no (?s) or (?m) (write [\s\S] to match
	// across lines), no backreferences, and nothing that backtracks badly, such as (a+)+.
	// +required
	Regex Regex `json:"regex"`
}

// GrepFilter keeps or drops records by content — for example, drops health checks.
//
// +kubebuilder:validation:XValidation:rule="has(self.include) || has(self.exclude)",message="grep needs at least one include or exclude rule"
type GrepFilter struct {
	// include keeps a record only when it matches every rule here.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=16
	Include []FieldMatch `json:"include,omitempty"`

	// exclude drops a record when it matches any rule here.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=16
	Exclude []FieldMatch `json:"exclude,omitempty"`
}

// ParseFormat is how a text field is parsed.
// +kubebuilder:validation:Enum=JSON;Logfmt;Regex
type ParseFormat string

const (
	ParseJSON   ParseFormat = "JSON"
	ParseLogfmt ParseFormat = "Logfmt"
	ParseRegex  ParseFormat = "Regex"
)

// ParseFilter parses a text field into structured fields.
//
// +kubebuilder:validation:XValidation:rule="self.format == 'Regex' ? has(self.regex) : !has(self.regex)",message="regex is required with format Regex and only allowed with it"
type ParseFilter struct {
	// field holding the text to parse.
	// +optional
	// +kubebuilder:default=log
	Field FieldPath `json:"field,omitempty"`

	// format of the text.
	// +required
	Format ParseFormat `json:"format"`

	// regex with named groups, such as ^(?<level>\w+) (?<msg>.*)$; each group that takes
	// part in a match becomes a field. Names match [A-Za-z_][A-Za-z0-9_]*, each used once;
	// write (?<name>...), not (?P<name>...). The dialect is that of grep regexes.
	// +optional
	// +kubebuilder:validation:XValidation:rule="self.contains('(?<')",message="regex must have at least one named group, such as (?<level>\\w+): each group becomes a field"
	// +kubebuilder:validation:XValidation:rule="!self.contains('(?P<')",message="(?P<name>...) is Python syntax, which Fluent Bit refuses: write (?<name>...)"
	Regex *Regex `json:"regex,omitempty"`

	// timeKey is the parsed field that holds the record's timestamp.
	// +optional
	TimeKey *FieldPath `json:"timeKey,omitempty"`

	// timeFormat is the strptime format of timeKey, such as %Y-%m-%dT%H:%M:%S.%L%z.
	// +optional
	TimeFormat *ConfigString `json:"timeFormat,omitempty"`

	// keepOriginal keeps the parsed field next to the fields parsed from it.
	// +optional
	// +kubebuilder:default=false
	KeepOriginal bool `json:"keepOriginal,omitempty"`
}

// MultilineParser is a built-in rule set for joining lines.
// +kubebuilder:validation:Enum=go;java;python;cri;docker
type MultilineParser string

// MultilineFilter joins lines of one message, such as a stack trace, into one record.
type MultilineFilter struct {
	// parser is the language or runtime whose multi-line messages to join.
	// +required
	Parser MultilineParser `json:"parser"`

	// field holding the text to join.
	// +optional
	// +kubebuilder:default=log
	Field FieldPath `json:"field,omitempty"`
}

// AddFieldsFilter sets fields to fixed values, overwriting existing ones.
type AddFieldsFilter struct {
	// fields to set.
	// +required
	// +listType=map
	// +listMapKey=key
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=32
	Fields []KeyValue `json:"fields"`
}

// RemoveFieldsFilter deletes top-level fields.
type RemoveFieldsFilter struct {
	// fields to delete.
	// +required
	// +listType=set
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=32
	// +kubebuilder:validation:items:MaxLength=256
	// +kubebuilder:validation:items:Pattern=`^[A-Za-z0-9_][-A-Za-z0-9_.]*$`
	Fields []string `json:"fields"`
}

// ThrottleFilter caps the average record rate; records above it are dropped by intent
// and are not counted as losses.
type ThrottleFilter struct {
	// records allowed per interval, averaged over window intervals.
	// +required
	// +kubebuilder:validation:Minimum=1
	Records int32 `json:"records"`

	// interval is the length of one interval, from 1s to 24h in whole seconds, minutes or
	// hours, such as 1s or 1m.
	// +optional
	// +kubebuilder:default="1s"
	// +kubebuilder:validation:MaxLength=6
	// +kubebuilder:validation:XValidation:rule="self.matches('^[0-9]{1,5}(s|m|h)$') && duration(self) >= duration('1s') && duration(self) <= duration('24h')",message="must be from 1s to 24h in whole seconds, minutes or hours, such as 1s, 30s or 1m"
	Interval string `json:"interval,omitempty"`

	// window is how many intervals the rate is averaged over.
	// +optional
	// +kubebuilder:default=5
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=1000
	Window int32 `json:"window,omitempty"`
}
