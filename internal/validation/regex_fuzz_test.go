package validation

import (
	"errors"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzRegex holds, for any pattern and value:
//   - Regex never panics, answers the same twice, and refuses with a *RegexError whose
//     position lies within the pattern;
//   - a parse regex it accepts is also a grep regex it accepts, and RegexFields agrees;
//   - what it accepts has a canonical form that reads back to itself;
//   - what it accepts, RE2 compiles once written with Onigmo's meaning (rxToRE2), except
//     for what RE2 cannot say (look-arounds, atomic groups, possessive quantifiers) and
//     RE2's own size limits;
//   - where RE2 also compiles the pattern as written, both readings find the same match
//     on a one-line ASCII value: the accepted dialect has no trap.
func FuzzRegex(f *testing.F) {
	for _, c := range regexCases {
		in := "x"
		if len(c.match) > 0 {
			in = c.match[0]
		}
		f.Add(c.pattern, in)
	}
	for _, p := range []string{`(?i)[a-z]+\d*`, `(?<=a|bc)x`, `a{2,5}?b`, `[\]\-^]`, `\x{1F600}+`, `(?:)`, `a|`, `[^\s\S]`} {
		f.Add(p, "abc 123")
	}
	f.Fuzz(fuzzRegexOnce)
}

func fuzzRegexOnce(t *testing.T, pattern, value string) {
	err := Regex(pattern, RegexMatch)
	if again := Regex(pattern, RegexMatch); (err == nil) != (again == nil) || err != nil && err.Error() != again.Error() {
		t.Fatalf("Regex(%q) answered %v, then %v", pattern, err, again)
	}
	parseErr := Regex(pattern, RegexParse)
	if parseErr == nil && err != nil {
		t.Fatalf("Regex(%q) accepts a parse regex it refuses for grep: %v", pattern, err)
	}
	fields, fieldsErr := RegexFields(pattern)
	if (fieldsErr == nil) != (parseErr == nil) || fieldsErr == nil && len(fields) == 0 {
		t.Fatalf("RegexFields(%q) = %v, %v; Regex says %v", pattern, fields, fieldsErr, parseErr)
	}
	for _, e := range []error{err, parseErr} {
		if e == nil {
			continue
		}
		var re *RegexError
		if !errors.As(e, &re) {
			t.Fatalf("Regex(%q) returned %T", pattern, e)
		}
		if re.Pos < 0 || re.Pos > utf8.RuneCountInString(pattern)+1 || re.Reason == "" {
			t.Fatalf("Regex(%q) = %+v: position outside the pattern", pattern, re)
		}
	}
	if err != nil {
		return
	}
	root, _, perr := rxParse(pattern)
	if perr != nil {
		t.Fatalf("Regex accepts %q but the parser does not: %v", pattern, perr)
	}
	canon := root.String()
	again, _, perr := rxParse(canon)
	if perr != nil {
		t.Fatalf("%q: canonical form %.300q does not read back: %v", pattern, canon, perr)
	}
	if again.String() != canon {
		t.Fatalf("%q: canonical form %.300q reads back as %.300q", pattern, canon, again.String())
	}
	tr, ok := rxToRE2(root)
	if !ok {
		return
	}
	model, cerr := regexp.Compile(tr)
	if cerr != nil {
		if strings.Contains(cerr.Error(), "invalid repeat count") || strings.Contains(cerr.Error(), "expression too large") {
			return
		}
		t.Fatalf("%q: RE2 does not compile its meaning %.300q: %v", pattern, tr, cerr)
	}
	written, werr := regexp.Compile(pattern)
	if werr != nil || !asciiLine(value) {
		return
	}
	if g, w := model.FindStringIndex(value), written.FindStringIndex(value); !sameSpan(g, w) {
		t.Fatalf("%q on %q: Fluent Bit's meaning finds %v, RE2's reading %v", pattern, value, g, w)
	}
}

func sameSpan(a, b []int) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return a[0] == b[0] && a[1] == b[1]
}
