// Package validation holds checks on values tenants write, made before those values
// reach the Fluent Bit process every tenant of a node shares. The checks are pure
// functions: no I/O, no cluster access, the same answer at admission and at render.
package validation

import (
	"fmt"
	"strings"
	"sync"
	"unicode/utf8"
)

// RegexUse is what a regular expression is for; it decides what it must contain.
type RegexUse int

const (
	// RegexMatch is a grep rule's regex: Fluent Bit searches a field's value for it.
	// Groups, named or not, capture nothing that is used.
	RegexMatch RegexUse = iota
	// RegexParse is a parse filter's regex: every named group becomes a field of the
	// record, so there must be at least one, and names must be field names.
	RegexParse
)

func (u RegexUse) String() string {
	switch u {
	case RegexMatch:
		return "match"
	case RegexParse:
		return "parse"
	}
	return fmt.Sprintf("RegexUse(%d)", int(u))
}

// RegexError says why a pattern is refused and what to write instead.
type RegexError struct {
	// Pos is the 1-based position, in characters, where the problem starts; 0 when
	// it concerns the pattern as a whole.
	Pos int
	// Reason is a sentence for the user.
	Reason string
}

func (e *RegexError) Error() string {
	if e.Pos > 0 {
		return fmt.Sprintf("at character %d: %s", e.Pos, e.Reason)
	}
	return e.Reason
}

// Regex checks a regular expression a tenant wrote for Fluent Bit, which compiles it
// with Onigmo in Ruby syntax inside the one agent process shared by every tenant of a
// node. A pattern Onigmo refuses stops that process from starting for everyone; a
// pattern that backtracks badly stalls it. Regex returns nil only for patterns in the
// dialect below, which Onigmo compiles and reads as PCRE and RE2 read them (with the
// differences listed), and whose matching time is bounded; otherwise a *RegexError
// naming the first problem and what to write instead. The checks run in order, and
// the first failure wins: text (length, characters), syntax (left to right), use
// (named groups), then matching time. Regex does no I/O, and its own work is bounded
// (milliseconds for any pattern within the length limit).
//
// # Accepted
//
//   - Characters stand for themselves, except \ . ^ $ | ? * + ( ) [ { which need a \
//     to be literal (] and } may stand alone). Escaped ASCII punctuation and space
//     (\/ \- \" \< …) is literal. \t \n \r \f, \xHH (00–7F) and \x{H…} (a code point).
//   - . (any character but a line break), [abc], [^a-z], with - first, last or
//     escaped; \d \w \s and \D \W \S (ASCII only, in both engines); \p{Name} and
//     \P{Name} for Unicode general categories (L, Lu, Nd, …) and common scripts
//     (Latin, Greek, Cyrillic, Han, …).
//   - ^ and $ match at the start and end of every line of the value (Ruby has no other
//     meaning for them; for a one-line value this is the start and end of the value);
//     \A and \z match at the start and end of the whole value; \b and \B.
//   - Groups (…), (?:…), named groups (?<name>…) where name is an ASCII letter or _
//     followed by letters, digits or _ (at most 64), each name once; atomic groups
//     (?>…); look-aheads (?=…) (?!…); look-behinds (?<=…) (?<!…) over fixed-length text
//     without groups that capture (top-level alternatives may differ in length).
//   - Case-insensitive matching: (?i) to the end of the enclosing group, (?-i), and
//     (?i:…).
//   - Quantifiers * + ? {n} {n,} {n,m} (counts up to 1000, no leading zeros), lazy *?
//     +? ?? {n,}? {n,m}?, possessive *+ ++ ?+.
//
// # Refused, with the reason
//
//   - What Onigmo refuses, so that Fluent Bit would not start: unbalanced ( ) [ ],
//     (?P<…> and other Python or PCRE-only groups, (?s), (?U) and other unknown flags,
//     group names with - or a leading digit, look-behinds of variable length or with a
//     group that captures or \z inside, backreferences to groups that do not exist,
//     reversed ranges and counts, unknown property names, a trailing \.
//   - What Onigmo accepts but reads unlike PCRE or RE2, so that a user reading the
//     pattern the usual way would be wrong about what it matches: (?m) (dot-all in
//     Ruby, multi-line in PCRE — and ^ $ already work per line); \h (hex digit in Ruby,
//     horizontal space in PCRE); \v (vertical tab only); \xHH above 7F (one byte, not
//     a character); {,n} (Ruby {0,n}, RE2 literal text) and counts with leading zeros;
//     {n}? (optional in Ruby, lazy in PCRE) and {n}+ {n,m}+ (repeated in Ruby,
//     possessive in PCRE); stacked quantifiers such as a**; && and [ inside classes
//     (intersection and nested classes); POSIX classes [[:alpha:]] (Unicode in Ruby);
//     \pL without braces (the letters pL in Ruby); letter escapes Ruby takes as the
//     letter (\y, \Q…\E, \N …); an inline (?i) after other items of an alternative
//     followed by | (Ruby extends it over the later alternatives); (?i) with \p{…} or
//     with non-ASCII letters in a class (Ruby folds only ASCII there); a { that does not
//     start a count; and the /pattern/ and /pattern/imx forms, whose slashes Fluent Bit
//     strips, applying the letters as flags (src/flb_regex.c).
//   - What can be slow or surprising and is not needed in logs: backreferences \1
//     \k<…> (exponential, not in RE2), subroutine calls, conditionals, the absence
//     operator, (?x), (?#…), \Z \G \K \R \X \u and octal escapes.
//   - Patterns whose matching time is not bounded well enough. Onigmo backtracks; the
//     check counts the ways a pattern can consume a text (see regex_backtrack.go) and
//     refuses a repetition of something that can match the empty string ((a*)*);
//     nested or overlapping repetitions over the same characters ((a+)+, (a|aa)+,
//     (\w+\s?)+), which take time exponential in the length of the value; three or
//     more repetitions in a row that can each take the same characters, the search for
//     a start position counting as one unless the pattern starts with \A or ^ (.*a.*b,
//     \d+\d+x), which take cubic time or worse; a look-around that repeats without
//     bound, unless it opens the pattern; more than 10000 characters once counts are
//     spelled out. Two such repetitions in a row are accepted (ERROR.*Exception is
//     one, searched in a line): their time grows with the square of the value's length,
//     which with Fluent Bit 5.1.1's Onigmo is under a millisecond for ordinary lines but
//     can reach seconds on a crafted 16 KiB line (0.4 s for ERROR.*Exception, 2 s for
//     ^(.*) (.*)x$); only a bound on the length of the values matched removes that.
//   - Text that is not a pattern for a Fluent Bit file: empty, longer than 1024
//     characters, not UTF-8, control or invisible characters (write them as escapes),
//     and ${, which Fluent Bit replaces with an environment variable of the agent.
//
// # Remaining differences
//
// On accepted patterns Onigmo and RE2 agree on one-line values, except that Onigmo's
// \s also matches the vertical tab, its \b counts non-ASCII letters as word
// characters (its \w does not), and (?i) folds ß to ss. On values with line breaks,
// ^ and $ match at every line, as RE2's (?m) does.
func Regex(pattern string, use RegexUse) error {
	key := regexKey{pattern, use}
	if err, ok := regexVerdicts.get(key); ok {
		return err
	}
	var err error
	if _, rerr := rxCheck(pattern, use); rerr != nil {
		err = rerr
	}
	regexVerdicts.put(key, err)
	return err
}

// regexVerdicts remembers verdicts: the renderer checks every pipeline of a fresh
// snapshot, and tenants' patterns repeat (health checks, levels). Checking costs about
// 13 µs and 200 allocations a pattern; 2,000 pipelines with one grep took the full
// render from 22 to 49 ms without it.
var regexVerdicts = &verdictCache{m: map[regexKey]error{}}

type regexKey struct {
	pattern string
	use     RegexUse
}

// verdictCache is a map that empties itself when full, which bounds it.
type verdictCache struct {
	mu sync.Mutex
	m  map[regexKey]error
}

const maxVerdicts = 16384

func (c *verdictCache) get(k regexKey) (error, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	err, ok := c.m[k]
	return err, ok
}

func (c *verdictCache) put(k regexKey, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= maxVerdicts {
		clear(c.m)
	}
	c.m[k] = err
}

// RegexFields checks a parse regex (see Regex, RegexParse) and returns the names of its
// named groups in the order they appear: the fields a match adds to a record.
func RegexFields(pattern string) ([]string, error) {
	p, err := rxCheck(pattern, RegexParse)
	if err != nil {
		return nil, err
	}
	return p.names, nil
}

// rxCheck runs the checks in order and returns the parser's state on success.
func rxCheck(pattern string, use RegexUse) (*rxParser, *RegexError) {
	// Text first: the rest assumes a short, printable, single-line UTF-8 string.
	if pattern == "" {
		return nil, &RegexError{Reason: "the pattern is empty"}
	}
	if !utf8.ValidString(pattern) {
		return nil, &RegexError{Reason: "the pattern is not valid UTF-8"}
	}
	if n := utf8.RuneCountInString(pattern); n > MaxRegexLength {
		return nil, &RegexError{Reason: fmt.Sprintf("the pattern has %d characters, more than %d", n, MaxRegexLength)}
	}
	if i := strings.Index(pattern, "${"); i >= 0 {
		return nil, &RegexError{Pos: rxCharPos(pattern, i), Reason: "${ is replaced by Fluent Bit with an environment variable of the agent: write \\$ for a literal $ (and \\{ for a literal {)"}
	}
	if err := rxSlashForm(pattern); err != nil {
		return nil, err
	}
	// Syntax, left to right; traps are refused where they are met.
	root, p, err := rxParse(pattern)
	if err != nil {
		return nil, err.(*RegexError)
	}
	// Use: what the filter does with the groups.
	if use == RegexParse {
		if len(p.names) == 0 {
			return nil, &RegexError{Reason: "a parse regex needs named groups, such as ^(?<level>\\w+) (?<message>.*)$: each one becomes a field"}
		}
		if err := rxNamesInLookarounds(pattern, root); err != nil {
			return nil, err
		}
	}
	// Matching time.
	if err := rxCheckBacktracking(pattern, root); err != nil {
		return nil, err
	}
	return p, nil
}

// rxSlashForm refuses what Fluent Bit reads as a Ruby regex literal (src/flb_regex.c,
// str_to_regex): a pattern that starts with / and ends with / loses both slashes, and
// one that starts with / and ends with /flags (letters among i, m, x, o, at least one
// of i, m, x) loses the slashes and the letters, which become flags.
func rxSlashForm(s string) *RegexError {
	if len(s) < 2 || s[0] != '/' {
		return nil
	}
	last := strings.LastIndexByte(s, '/')
	if last == 0 {
		return nil
	}
	flags := s[last+1:]
	stripped := flags == ""
	if !stripped && strings.Trim(flags, "imxo") == "" && strings.ContainsAny(flags, "imx") {
		stripped = true
	}
	if !stripped {
		return nil
	}
	return &RegexError{Pos: 1, Reason: fmt.Sprintf("Fluent Bit reads a pattern written /…/%s as a Ruby regex literal: it removes the slashes%s; write the pattern without them, and \\/ for a literal slash at the start",
		flags, map[bool]string{true: "", false: " and applies " + flags + " as flags"}[flags == ""])}
}

// rxNamesInLookarounds refuses named groups inside look-arounds in a parse regex: a
// field captured by text the match does not consume is a trick nobody reading the
// pattern expects.
func rxNamesInLookarounds(src string, root *rxNode) *RegexError {
	var err *RegexError
	rxWalk(root, func(n *rxNode) {
		if err != nil || !n.lookaround() {
			return
		}
		rxWalk(n.sub[0], func(m *rxNode) {
			if err == nil && m.op == rxCapture && m.name != "" {
				err = &RegexError{Pos: rxCharPos(src, m.pos), Reason: fmt.Sprintf("the named group <%s> is inside a look-around: move it out, so that the field holds text the match reads", m.name)}
			}
		})
	})
	return err
}
