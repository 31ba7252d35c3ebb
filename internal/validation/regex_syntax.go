package validation

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// This file reads the accepted subset of Onigmo's Ruby syntax (see Regex for the
// dialect) into a tree. It refuses, at the first offending character, everything
// outside the subset, with what to write instead.

// rxOp is the kind of a node.
type rxOp uint8

const (
	rxChars          rxOp = iota + 1 // one character of set
	rxEmpty                          // nothing: an empty alternative or group
	rxBeginLine                      // ^
	rxEndLine                        // $
	rxBeginText                      // \A
	rxEndText                        // \z
	rxWordBoundary                   // \b
	rxNoWordBoundary                 // \B
	rxCapture                        // ( ) or (?<name> )
	rxGroup                          // (?: ) or (?i: )
	rxAtomic                         // (?> )
	rxLookahead                      // (?= )
	rxNegLookahead                   // (?! )
	rxLookbehind                     // (?<= )
	rxNegLookbehind                  // (?<! )
	rxRepeat                         // sub{min,max}
	rxConcat
	rxAlternate
)

// rxNode is one node of a parsed pattern.
type rxNode struct {
	op       rxOp
	pos, end int   // byte offsets of the node's text in the pattern
	set      rxSet // rxChars
	name     string
	min, max int // rxRepeat; max < 0 is unbounded
	lazy     bool
	poss     bool // possessive
	sub      []*rxNode
}

// zeroWidth reports anchors and look-arounds.
func (n *rxNode) zeroWidth() bool {
	switch n.op {
	case rxBeginLine, rxEndLine, rxBeginText, rxEndText, rxWordBoundary, rxNoWordBoundary,
		rxLookahead, rxNegLookahead, rxLookbehind, rxNegLookbehind:
		return true
	}
	return false
}

func (n *rxNode) lookaround() bool {
	switch n.op {
	case rxLookahead, rxNegLookahead, rxLookbehind, rxNegLookbehind:
		return true
	}
	return false
}

// Limits of the dialect.
const (
	// MaxRegexLength is the longest pattern accepted, in characters; the API's Regex
	// type has the same bound.
	MaxRegexLength = 1024
	// MaxRegexRepeat is the largest count in {n,m}; RE2 has the same bound.
	MaxRegexRepeat = 1000
	// MaxRegexGroupName is the longest named group.
	MaxRegexGroupName = 64
	rxMaxDepth        = 64
)

// rxFailure carries a refusal out of the recursive descent.
type rxFailure struct{ err *RegexError }

type rxParser struct {
	src   string
	i     int  // byte offset of the next character
	fold  bool // (?i) in effect
	depth int
	// midFlag is the offset of an isolated (?i) or (?-i) that followed other items of
	// its alternative in the current group, or -1. Onigmo makes such a flag the start
	// of a group reaching to the end of the enclosing one, swallowing later
	// alternatives: x(?i)y|z is x(?i:y|z) there and (?:x(?i)y)|(?i:z) in PCRE.
	midFlag int
	names   []string
}

// rxParse parses pattern, or says at which character and why it is refused.
func rxParse(pattern string) (n *rxNode, p *rxParser, err error) {
	p = &rxParser{src: pattern, midFlag: -1}
	defer func() {
		if r := recover(); r != nil {
			f, ok := r.(rxFailure)
			if !ok {
				panic(r)
			}
			n, err = nil, f.err
		}
	}()
	n = p.alternation()
	if p.i < len(p.src) {
		// alternation stops only at ')' or the end.
		p.fail(p.i, "unmatched ): write \\) for a literal parenthesis, or add the ( it closes")
	}
	return n, p, nil
}

func (p *rxParser) fail(at int, format string, args ...any) {
	panic(rxFailure{&RegexError{Pos: rxCharPos(p.src, at), Reason: fmt.Sprintf(format, args...)}})
}

// rxCharPos turns a byte offset into a 1-based character position.
func rxCharPos(s string, off int) int {
	off = min(max(off, 0), len(s))
	return utf8.RuneCountInString(s[:off]) + 1
}

func (p *rxParser) eof() bool { return p.i >= len(p.src) }

// peek returns the character at byte offset off, or -1 past the end.
func (p *rxParser) peekAt(off int) rune {
	if off >= len(p.src) {
		return -1
	}
	r, _ := utf8.DecodeRuneInString(p.src[off:])
	return r
}

func (p *rxParser) peek() rune { return p.peekAt(p.i) }

// next consumes one character.
func (p *rxParser) next() rune {
	r, size := utf8.DecodeRuneInString(p.src[p.i:])
	p.i += size
	return r
}

// alternation reads alternatives up to ')' or the end.
func (p *rxParser) alternation() *rxNode {
	start := p.i
	var alts []*rxNode
	for {
		alts = append(alts, p.concatenation())
		if p.peek() != '|' {
			break
		}
		if p.midFlag >= 0 {
			flag := p.src[p.midFlag : strings.IndexByte(p.src[p.midFlag:], ')')+p.midFlag+1]
			open := flag[:len(flag)-1] // "(?i"
			p.fail(p.midFlag, "Fluent Bit's engine reads %s after other items of an alternative as a group reaching to the end of the enclosing one, later alternatives included: x%sy|z means x%s:y|z), not (?:x%sy)|z as in PCRE; write %s:…) around exactly what it applies to",
				flag, flag, open, flag, open)
		}
		p.i++
	}
	if len(alts) == 1 {
		return alts[0]
	}
	return &rxNode{op: rxAlternate, pos: start, end: p.i, sub: alts}
}

// concatenation reads items up to '|', ')' or the end.
func (p *rxParser) concatenation() *rxNode {
	start := p.i
	var items []*rxNode
	for !p.eof() {
		c := p.peek()
		if c == '|' || c == ')' {
			break
		}
		at := p.i
		atom := p.atom(len(items) > 0)
		if atom == nil {
			continue // an isolated flag
		}
		items = append(items, p.quantifier(atom, at))
	}
	switch len(items) {
	case 0:
		return &rxNode{op: rxEmpty, pos: start, end: p.i}
	case 1:
		return items[0]
	}
	return &rxNode{op: rxConcat, pos: start, end: p.i, sub: items}
}

// atom reads one item without its quantifier; nil for an isolated flag group.
// afterItems says whether the alternative already has items.
func (p *rxParser) atom(afterItems bool) *rxNode {
	start := p.i
	c := p.next()
	switch c {
	case '(':
		return p.group(start, afterItems)
	case '[':
		return p.class(start)
	case '.':
		return &rxNode{op: rxChars, pos: start, end: p.i, set: rxNotNewline}
	case '^':
		return &rxNode{op: rxBeginLine, pos: start, end: p.i}
	case '$':
		return &rxNode{op: rxEndLine, pos: start, end: p.i}
	case '\\':
		return p.escape(start, false)
	case '*', '+', '?':
		p.fail(start, "%c has nothing to repeat: write \\%c for a literal %c", c, c, c)
	case '{':
		if _, _, ok := p.interval(start); ok {
			p.fail(start, "%s has nothing to repeat: write \\{ for a literal {", p.src[start:p.i])
		}
		p.fail(start, "write \\{ for a literal {: Fluent Bit's engine reads { as a literal only where it cannot start a repetition, and PCRE differs on which those are")
	}
	p.literalAllowed(start, c)
	return p.literal(start, c)
}

// literalAllowed refuses characters that must be written as escapes.
func (p *rxParser) literalAllowed(at int, c rune) {
	switch {
	case c < 0x20 || c == 0x7F:
		p.fail(at, "control character U+%04X: write it as %s", c, rxEscapeRune(c))
	case !unicode.IsPrint(c) && c != ' ':
		p.fail(at, "invisible character U+%04X: write it as \\x{%X} so that it can be seen", c, c)
	}
}

// literal is one character, folded under (?i).
func (p *rxParser) literal(start int, c rune) *rxNode {
	set := rxSetOf(c, c)
	if p.fold {
		set = set.fold()
	}
	return &rxNode{op: rxChars, pos: start, end: p.i, set: set}
}

// quantifier reads what repeats atom, if anything.
func (p *rxParser) quantifier(atom *rxNode, start int) *rxNode {
	if p.eof() {
		return atom
	}
	qat := p.i
	var lo, hi int
	fixed := false
	short := false
	switch c := p.peek(); c {
	case '*':
		p.i++
		lo, hi, short = 0, -1, true
	case '+':
		p.i++
		lo, hi, short = 1, -1, true
	case '?':
		p.i++
		lo, hi, short = 0, 1, true
	case '{':
		var ok bool
		lo, hi, ok = p.interval(qat)
		if !ok {
			p.fail(qat, "write \\{ for a literal {: Fluent Bit's engine reads { as a literal only where it cannot start a repetition, and PCRE differs on which those are")
		}
		fixed = lo == hi && !strings.Contains(p.src[qat:p.i], ",")
	default:
		return atom
	}
	quant := p.src[qat:p.i]
	if atom.zeroWidth() {
		p.fail(qat, "%s cannot repeat %s, which matches a position, not characters", quant, p.src[atom.pos:atom.end])
	}
	n := &rxNode{op: rxRepeat, pos: start, min: lo, max: hi, sub: []*rxNode{atom}}
	switch p.peek() {
	case '?':
		if fixed {
			p.fail(p.i, "%s? means (…%s)? — optional — in Fluent Bit's engine, but a lazy %s (the same as %s) in PCRE: write (?:…%s)? if it is optional, else drop the ?", quant, quant, quant, quant, quant)
		}
		p.i++
		n.lazy = true
	case '+':
		if !short {
			p.fail(p.i, "%s+ repeats the repetition (…%s)+ in Fluent Bit's engine, but is possessive in PCRE: write (?:…%s)+ to repeat it, or (?>…%s) for no backtracking", quant, quant, quant, quant)
		}
		p.i++
		n.poss = true
	}
	switch c := p.peek(); c {
	case '*', '+', '?', '{':
		p.fail(p.i, "%s follows the quantifier %s: Fluent Bit's engine repeats the repetition, where RE2 refuses it; write one quantifier, or group what repeats, as in (?:ab{2}){3}", string(c), p.src[qat:p.i])
	}
	if lo == hi {
		// A fixed count has nothing to be lazy or possessive about.
		n.lazy, n.poss = false, false
	}
	n.end = p.i
	return n
}

// interval reads {n}, {n,} or {n,m} at p.i (on '{'), advancing past it when it is one.
// It fails on {,m}, which Fluent Bit's engine reads as {0,m} and RE2 as literal text.
func (p *rxParser) interval(at int) (lo, hi int, ok bool) {
	j := at + 1
	digits := func() (int, bool) {
		k := j
		for j < len(p.src) && p.src[j] >= '0' && p.src[j] <= '9' {
			j++
		}
		if j == k {
			return 0, false
		}
		if j-k > 1 && p.src[k] == '0' {
			p.fail(at, "write counts without leading zeros: Fluent Bit's engine reads %s as a count, RE2 as literal text", p.src[k:j])
		}
		if j-k > 4 {
			p.fail(at, "%s: a count can be at most %d", p.src[at:min(j+1, len(p.src))], MaxRegexRepeat)
		}
		v, _ := strconv.Atoi(p.src[k:j])
		return v, true
	}
	lo, hasLo := digits()
	if j < len(p.src) && p.src[j] == '}' && hasLo {
		hi = lo
	} else if j < len(p.src) && p.src[j] == ',' {
		j++
		var hasHi bool
		hi, hasHi = digits()
		if j >= len(p.src) || p.src[j] != '}' {
			return 0, 0, false
		}
		if !hasLo {
			if hasHi {
				p.fail(at, "%s means {0,%d} in Fluent Bit's engine but literal text in RE2: write {0,%d}", p.src[at:j+1], hi, hi)
			}
			return 0, 0, false
		}
		if !hasHi {
			hi = -1
		}
	} else {
		return 0, 0, false
	}
	if lo > MaxRegexRepeat || hi > MaxRegexRepeat {
		p.fail(at, "%s: a count can be at most %d", p.src[at:j+1], MaxRegexRepeat)
	}
	if hi >= 0 && hi < lo {
		p.fail(at, "%s: the upper bound is below the lower one", p.src[at:j+1])
	}
	p.i = j + 1
	return lo, hi, true
}

// group reads what follows '(' at start.
func (p *rxParser) group(start int, afterItems bool) *rxNode {
	p.depth++
	if p.depth > rxMaxDepth {
		p.fail(start, "groups nest deeper than %d", rxMaxDepth)
	}
	defer func() { p.depth-- }()
	op := rxCapture
	name := ""
	groupFold := p.fold
	if p.peek() == '?' {
		p.i++
		c := p.peek()
		switch {
		case c == ':':
			p.i++
			op = rxGroup
		case c == '=':
			p.i++
			op = rxLookahead
		case c == '!':
			p.i++
			op = rxNegLookahead
		case c == '>':
			p.i++
			op = rxAtomic
		case c == '<' && p.peekAt(p.i+1) == '=':
			p.i += 2
			op = rxLookbehind
		case c == '<' && p.peekAt(p.i+1) == '!':
			p.i += 2
			op = rxNegLookbehind
		case c == '<':
			p.i++
			name = p.groupName(start, '>')
		case c == 'P':
			if p.peekAt(p.i+1) == '<' {
				p.fail(start, "(?P<name>…) is Python syntax: write (?<name>…)")
			}
			p.fail(start, "(?P…) is Python syntax that Fluent Bit's engine does not know; named groups are written (?<name>…) and cannot be referred back to")
		case c == '\'':
			p.fail(start, "write (?<name>…) for a named group: RE2 does not know (?'name'…)")
		case c == '#':
			p.fail(start, "(?#…) comments are not supported")
		case c == '(':
			p.fail(start, "conditional groups (?(…)…) are not supported")
		case c == '~':
			p.fail(start, "the absence operator (?~…) is Onigmo-only and not supported")
		case c == '|':
			p.fail(start, "branch reset groups (?|…) are not supported")
		case c == 'R' || c == '&' || c == '+' || c >= '0' && c <= '9':
			p.fail(start, "recursion and subroutine calls are not supported")
		case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '-' || c == '^':
			fold, scoped := p.flags(start)
			if !scoped {
				// An isolated flag: from here to the end of the enclosing group.
				p.fold = fold
				if afterItems && p.midFlag < 0 {
					p.midFlag = start
				}
				return nil
			}
			p.fold = fold
			op = rxGroup
		case c == -1:
			p.fail(start, "( without closing ): write \\( for a literal parenthesis")
		default:
			p.fail(start, "(?%c is not a group Fluent Bit's engine and PCRE agree on", c)
		}
	}
	savedMid := p.midFlag
	p.midFlag = -1
	body := p.alternation()
	p.midFlag = savedMid
	p.fold = groupFold
	if p.peek() != ')' {
		p.fail(start, "( without closing ): write \\( for a literal parenthesis")
	}
	p.i++
	n := &rxNode{op: op, pos: start, end: p.i, name: name, sub: []*rxNode{body}}
	if op == rxLookbehind || op == rxNegLookbehind {
		p.checkLookbehind(n)
	}
	return n
}

// groupName reads a name up to term and checks it is a field name both engines take.
func (p *rxParser) groupName(start int, term byte) string {
	k := p.i
	end := strings.IndexByte(p.src[k:], term)
	if end < 0 {
		p.fail(start, "(?<name> without closing >")
	}
	name := p.src[k : k+end]
	p.i = k + end + 1
	valid := name != "" && len(name) <= MaxRegexGroupName
	for i := 0; i < len(name) && valid; i++ {
		c := name[i]
		valid = c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9'
	}
	if !valid {
		p.fail(start, "group name <%s> is not a valid field name: use up to %d ASCII letters, digits and _, not starting with a digit (Fluent Bit's engine refuses - and a leading digit; . and other characters cannot be used in field references)", name, MaxRegexGroupName)
	}
	for _, seen := range p.names {
		if seen == name {
			p.fail(start, "group name <%s> is used twice: Fluent Bit writes a field per group, so a record could get the key twice", name)
		}
	}
	p.names = append(p.names, name)
	return name
}

// flags reads inline flags after "(?" and returns (?i)'s state after them and whether
// they scope a group (…:) rather than the rest of the enclosing one (…)).
func (p *rxParser) flags(start int) (fold, scoped bool) {
	k := p.i
	for !p.eof() && p.peek() != ')' && p.peek() != ':' {
		c := p.peek()
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '-' || c == '^') {
			break
		}
		p.i++
	}
	flags := p.src[k:p.i]
	if p.eof() || p.peek() != ')' && p.peek() != ':' {
		p.fail(start, "(?%s is not a group Fluent Bit's engine and PCRE agree on", flags)
	}
	scoped = p.next() == ':'
	switch flags {
	case "i":
		return true, scoped
	case "-i":
		return false, scoped
	}
	switch {
	case strings.ContainsRune(flags, 's'):
		p.fail(start, "(?s) is not Ruby syntax and Fluent Bit refuses it; in Fluent Bit's engine . never matches a line break here: write [\\s\\S] where any character, line breaks included, may match")
	case strings.ContainsRune(flags, 'm'):
		p.fail(start, "(?m) makes . match line breaks in Fluent Bit's engine (Ruby), not ^ and $ match at lines as in PCRE and RE2; ^ and $ always match at line starts and ends there: drop (?m), and write [\\s\\S] where any character, line breaks included, may match")
	case strings.ContainsRune(flags, 'x'):
		p.fail(start, "(?x) extended mode is not supported: write the pattern without spaces and comments, and [ ] or \\x20 for a space")
	case strings.ContainsAny(flags, "adu"):
		p.fail(start, "(?%s) changes what \\d, \\w and \\s match in Fluent Bit's engine and is not supported: they match ASCII only; write \\p{L}, \\p{N} for other scripts", flags)
	case strings.ContainsRune(flags, 'U'):
		p.fail(start, "(?U) is not Ruby syntax and Fluent Bit refuses it: make a quantifier lazy with ?, as in .*?")
	}
	p.fail(start, "(?%s) is not supported: the only inline flag is (?i) (and (?-i), (?i:…)) for case-insensitive matching", flags)
	return false, false
}

// class reads a bracket expression after '[' at start.
func (p *rxParser) class(start int) *rxNode {
	negate := false
	if p.peek() == '^' {
		p.i++
		negate = true
	}
	first := true
	// Members written as characters and ranges are folded under (?i); class escapes
	// are not, as in both engines ((?i)[\W] matches no letter).
	var lits, escs rxSet
	for {
		if p.eof() {
			p.fail(start, "[ without closing ]: write \\[ for a literal bracket")
		}
		at := p.i
		c := p.peek()
		switch {
		case c == ']':
			if first {
				p.fail(at, "a ] right after [ or [^ is a literal ] in Fluent Bit's engine, which is easily misread: write \\] for a literal ], and no empty class")
			}
			p.i++
			if p.fold {
				if lits.intersects(rxCasedNonASCII()) {
					p.fail(start, "(?i) does not make non-ASCII letters in a class match their other case in Fluent Bit's engine (it does in RE2, and for a single letter outside a class): list both cases, as [éÉ], or write the class outside (?i)")
				}
				lits = lits.fold()
			}
			set := lits.union(escs)
			if negate {
				set = set.negate()
			}
			if len(set) == 0 {
				p.fail(start, "this class matches no character")
			}
			return &rxNode{op: rxChars, pos: start, end: p.i, set: set}
		case c == '[':
			if m := rxPosixClass(p.src[at:]); m != "" {
				p.fail(at, "POSIX classes such as %s match non-ASCII characters in Fluent Bit's engine but not in RE2: write the characters (such as A-Za-z) or a property (such as \\p{L})", m)
			}
			p.fail(at, "write \\[ for a literal [ inside a class: Fluent Bit's engine reads [ there as the start of a nested class")
		case c == '&' && p.peekAt(at+1) == '&':
			p.fail(at, "&& inside a class is an intersection in Fluent Bit's engine but literal text in PCRE and RE2: write \\& for a literal &")
		case c == '-' && !first && p.peekAt(at+1) != ']':
			p.fail(at, "write \\- for a literal - inside a class, unless it is first or last")
		}
		lo, loSet := p.classItem()
		first = false
		if p.peek() == '-' && p.peekAt(p.i+1) != ']' && p.peekAt(p.i+1) != -1 {
			dash := p.i
			if loSet != nil {
				p.fail(dash, "a range needs one character at each end: write \\- for a literal -")
			}
			p.i++
			if p.peek() == '[' {
				p.fail(p.i, "write \\[ for a literal [ inside a class: Fluent Bit's engine reads [ there as the start of a nested class")
			}
			hi, hiSet := p.classItem()
			if hiSet != nil {
				p.fail(dash, "a range needs one character at each end: write \\- for a literal -")
			}
			if hi < lo {
				p.fail(at, "the range %s is reversed", p.src[at:p.i])
			}
			if lo <= rxSurrogateHi && hi >= rxSurrogateLo && (lo >= rxSurrogateLo || hi <= rxSurrogateHi) {
				p.fail(at, "the range %s holds only surrogates, which are not characters", p.src[at:p.i])
			}
			lits = lits.union(rxSetOf(lo, hi))
			continue
		}
		if loSet != nil {
			escs = escs.union(loSet)
		} else {
			lits = lits.union(rxSetOf(lo, lo))
		}
	}
}

// classItem reads one member of a class: a character (set == nil) or a class escape.
func (p *rxParser) classItem() (rune, rxSet) {
	at := p.i
	c := p.next()
	if c != '\\' {
		p.literalAllowed(at, c)
		return c, nil
	}
	if p.peek() == 'b' {
		p.fail(at, "\\b inside a class is a backspace in Fluent Bit's engine: write \\x08, or move the word boundary out of the class")
	}
	n := p.escape(at, true)
	if n.op != rxChars {
		p.fail(at, "%s matches a position and cannot be in a class", p.src[at:p.i])
	}
	if r, ok := n.set.single(); ok && !p.classEscape(at) {
		return r, nil
	}
	return 0, n.set
}

// classEscape reports whether the escape at 'at' stands for several characters.
func (p *rxParser) classEscape(at int) bool {
	switch p.src[at+1] {
	case 'd', 'D', 'w', 'W', 's', 'S', 'p', 'P':
		return true
	}
	return false
}

// rxPosixClass returns the POSIX class [:name:] at the start of s, if any.
func rxPosixClass(s string) string {
	if !strings.HasPrefix(s, "[:") && !strings.HasPrefix(s, "[:^") {
		return ""
	}
	if end := strings.Index(s, ":]"); end > 1 {
		return s[:end+2]
	}
	return ""
}

// rxProperties are the \p{…} names both engines know, spelled the one way accepted.
var rxProperties = func() map[string]*unicode.RangeTable {
	m := map[string]*unicode.RangeTable{}
	for _, name := range []string{"L", "Lu", "Ll", "Lt", "Lm", "Lo", "M", "Mn", "Mc", "Me", "N", "Nd", "Nl", "No",
		"P", "Pc", "Pd", "Ps", "Pe", "Pi", "Pf", "Po", "S", "Sm", "Sc", "Sk", "So", "Z", "Zs", "Zl", "Zp", "C", "Cc", "Cf", "Co"} {
		m[name] = unicode.Categories[name]
	}
	for _, name := range []string{"Latin", "Greek", "Cyrillic", "Armenian", "Hebrew", "Arabic", "Devanagari", "Thai",
		"Georgian", "Hangul", "Hiragana", "Katakana", "Han"} {
		m[name] = unicode.Scripts[name]
	}
	return m
}()

// escape reads the escape whose backslash is at start (p.i is past it). In a class,
// characters are not folded: the class is, as a whole.
func (p *rxParser) escape(start int, inClass bool) *rxNode {
	if p.eof() {
		p.fail(start, "the pattern ends with a lone \\: write \\\\ for a backslash")
	}
	c := p.next()
	chars := func(set rxSet) *rxNode { return &rxNode{op: rxChars, pos: start, end: p.i, set: set} }
	lit := func(r rune) *rxNode {
		set := rxSetOf(r, r)
		if p.fold && !inClass {
			set = set.fold()
		}
		return chars(set)
	}
	switch c {
	case 'd':
		return chars(rxDigit)
	case 'D':
		return chars(rxDigit.negate())
	case 'w':
		return chars(rxWord)
	case 'W':
		return chars(rxWord.negate())
	case 's':
		return chars(rxSpace)
	case 'S':
		return chars(rxSpace.negate())
	case 't':
		return lit('\t')
	case 'n':
		return lit('\n')
	case 'r':
		return lit('\r')
	case 'f':
		return lit('\f')
	case 'A':
		return &rxNode{op: rxBeginText, pos: start, end: p.i}
	case 'z':
		return &rxNode{op: rxEndText, pos: start, end: p.i}
	case 'b':
		return &rxNode{op: rxWordBoundary, pos: start, end: p.i}
	case 'B':
		return &rxNode{op: rxNoWordBoundary, pos: start, end: p.i}
	case 'x':
		return lit(p.hexEscape(start))
	case 'p', 'P':
		return chars(p.property(start, c == 'P'))
	case 'h', 'H':
		p.fail(start, "\\%c is a hex digit in Fluent Bit's engine (Ruby) but horizontal space in PCRE: write [0-9a-fA-F] for a hex digit, or [ \\t] for a space", c)
	case 'v':
		p.fail(start, "\\v is the vertical tab alone in Fluent Bit's engine but any vertical space in PCRE: write \\x0B, or [\\n\\x0B\\f\\r]")
	case 'Z':
		p.fail(start, "\\Z is not supported: write \\z for the end of the value, or $ for the end of a line")
	case 'u':
		p.fail(start, "\\u is not PCRE or RE2 syntax: write \\x{HHHH} for a character by its code point")
	case 'k':
		p.fail(start, "backreferences (\\k<name>) are not supported: they can make matching exponentially slow, and RE2 has none")
	case 'g':
		p.fail(start, "subroutine calls (\\g<name>) are not supported")
	case 'Q', 'E':
		p.fail(start, "\\Q…\\E quoting is not Ruby syntax: Fluent Bit's engine reads \\%c as the letter %c; escape each special character with \\ instead", c, c)
	case '0':
		p.fail(start, "\\0 and octal escapes are not supported: write \\x00, or \\xHH")
	}
	switch {
	case c >= '1' && c <= '9':
		p.fail(start, "backreferences (\\%c) are not supported: they can make matching exponentially slow, and RE2 has none; if you meant a character, write \\xHH", c)
	case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
		if strings.ContainsRune("aceoCMGKRXNlLU", c) {
			p.fail(start, "\\%c is not supported: it means different things in Fluent Bit's engine, PCRE and RE2, or is not in all of them", c)
		}
		p.fail(start, "\\%c is not an escape: Fluent Bit's engine reads it as %c and RE2 refuses it; write %c", c, c, c)
	case c < 0x80 && (unicode.IsPunct(c) || unicode.IsSymbol(c) || c == ' '):
		return lit(c)
	}
	p.fail(start, "\\%c is not an escape: write the character without \\", c)
	return nil
}

// hexEscape reads \xHH or \x{H…} after "\x".
func (p *rxParser) hexEscape(start int) rune {
	if p.peek() == '{' {
		end := strings.IndexByte(p.src[p.i:], '}')
		if end < 0 {
			p.fail(start, "\\x{ without closing }")
		}
		digits := p.src[p.i+1 : p.i+end]
		p.i += end + 1
		v, err := strconv.ParseUint(digits, 16, 32)
		if err != nil || digits == "" || len(digits) > 8 || strings.ContainsAny(digits, "+-_") {
			p.fail(start, "%s: write \\x{H…} with 1 to 8 hex digits", p.src[start:p.i])
		}
		if v > rxMaxRune || v >= rxSurrogateLo && v <= rxSurrogateHi {
			p.fail(start, "%s is not a character", p.src[start:p.i])
		}
		return rune(v)
	}
	k := p.i
	for p.i < len(p.src) && p.i-k < 2 && rxIsHex(p.src[p.i]) {
		p.i++
	}
	if p.i-k != 2 {
		p.fail(start, "%s: write \\xHH with two hex digits, or \\x{H…}", p.src[start:p.i])
	}
	v, _ := strconv.ParseUint(p.src[k:p.i], 16, 8)
	if v >= 0x80 {
		p.fail(start, "%s is one byte in Fluent Bit's engine, not the character U+%04X as in PCRE and RE2: write \\x{%X}", p.src[start:p.i], v, v)
	}
	return rune(v)
}

func rxIsHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// property reads \p{Name} or \P{Name} after "\p" / "\P".
func (p *rxParser) property(start int, negate bool) rxSet {
	if p.peek() != '{' {
		p.fail(start, "%s is read as a letter by Fluent Bit's engine: write %s{L} (or another name) for a property", p.src[start:p.i], p.src[start:p.i])
	}
	end := strings.IndexByte(p.src[p.i:], '}')
	if end < 0 {
		p.fail(start, "%s{ without closing }", p.src[start:p.i])
	}
	name := p.src[p.i+1 : p.i+end]
	p.i += end + 1
	if strings.HasPrefix(name, "^") {
		p.fail(start, "write \\P{%s} rather than \\p{%s}", name[1:], name)
	}
	if p.fold {
		p.fail(start, "(?i) changes %s only for ASCII letters in Fluent Bit's engine, and for all in RE2: write it outside (?i), as (?-i:%s)", p.src[start:p.i], p.src[start:p.i])
	}
	table, ok := rxProperties[name]
	if !ok {
		p.fail(start, "%s is not a supported property: use a general category (L, Lu, Ll, N, Nd, P, S, Z, …) or a script (Latin, Greek, Cyrillic, Han, …), spelled so", p.src[start:p.i])
	}
	set := rxSetFromTable(table)
	if negate {
		set = set.negate()
	}
	return set
}

// checkLookbehind refuses look-behinds Fluent Bit's engine refuses, and some it takes
// that the dialect keeps out: only fixed-length text, whose top-level alternatives may
// differ in length (as in (?<=a|bc)), with no group that captures inside.
func (p *rxParser) checkLookbehind(n *rxNode) {
	body := n.sub[0]
	alts := []*rxNode{body}
	if body.op == rxAlternate {
		alts = body.sub
	}
	for _, a := range alts {
		p.fixedWidth(n, a)
	}
}

// fixedWidth returns the length of what m matches, failing unless it has one.
func (p *rxParser) fixedWidth(lb, m *rxNode) int {
	variable := func() {
		p.fail(lb.pos, "a look-behind must match text of one fixed length: Fluent Bit's engine refuses *, +, ?, {n,m} and alternatives of different lengths inside it (only its top-level alternatives may differ, as in (?<=a|bc))")
	}
	switch m.op {
	case rxChars:
		return 1
	case rxEndText:
		p.fail(lb.pos, "\\z cannot be inside a look-behind: Fluent Bit's engine refuses it")
	case rxEmpty, rxBeginLine, rxEndLine, rxBeginText, rxWordBoundary, rxNoWordBoundary:
		return 0
	case rxCapture:
		p.fail(lb.pos, "a look-behind cannot hold a group that captures (Fluent Bit's engine refuses it in negative ones): write (?:…)")
	case rxLookahead, rxNegLookahead, rxLookbehind, rxNegLookbehind, rxAtomic:
		p.fail(lb.pos, "a look-behind cannot hold look-arounds or atomic groups here")
	case rxGroup:
		return p.fixedWidth(lb, m.sub[0])
	case rxRepeat:
		if m.min != m.max {
			variable()
		}
		return m.min * p.fixedWidth(lb, m.sub[0])
	case rxConcat:
		w := 0
		for _, s := range m.sub {
			w += p.fixedWidth(lb, s)
		}
		return w
	case rxAlternate:
		w := -1
		for _, s := range m.sub {
			sw := p.fixedWidth(lb, s)
			if w >= 0 && sw != w {
				variable()
			}
			w = sw
		}
		return w
	}
	return 0
}

// String writes n back in the accepted dialect: (?i) is spelled out in classes, every
// special character escaped. Parsing the result gives the same tree.
func (n *rxNode) String() string {
	var b strings.Builder
	n.write(&b)
	return b.String()
}

func (n *rxNode) write(b *strings.Builder) {
	switch n.op {
	case rxChars:
		rxWriteSet(b, n.set)
	case rxEmpty:
		// Nothing: an empty alternative or group body.
	case rxBeginLine:
		b.WriteString("^")
	case rxEndLine:
		b.WriteString("$")
	case rxBeginText:
		b.WriteString(`\A`)
	case rxEndText:
		b.WriteString(`\z`)
	case rxWordBoundary:
		b.WriteString(`\b`)
	case rxNoWordBoundary:
		b.WriteString(`\B`)
	case rxCapture, rxGroup, rxAtomic, rxLookahead, rxNegLookahead, rxLookbehind, rxNegLookbehind:
		b.WriteString(map[rxOp]string{rxCapture: "(", rxGroup: "(?:", rxAtomic: "(?>", rxLookahead: "(?=",
			rxNegLookahead: "(?!", rxLookbehind: "(?<=", rxNegLookbehind: "(?<!"}[n.op])
		if n.name != "" {
			b.WriteString("?<" + n.name + ">")
		}
		n.sub[0].write(b)
		b.WriteString(")")
	case rxRepeat:
		s := n.sub[0]
		if s.op == rxChars || s.op == rxCapture || s.op == rxGroup || s.op == rxAtomic {
			s.write(b)
		} else {
			b.WriteString("(?:")
			s.write(b)
			b.WriteString(")")
		}
		switch {
		case n.min == 0 && n.max == -1:
			b.WriteString("*")
		case n.min == 1 && n.max == -1:
			b.WriteString("+")
		case n.min == 0 && n.max == 1:
			b.WriteString("?")
		case n.min == n.max:
			fmt.Fprintf(b, "{%d}", n.min)
		case n.max < 0:
			fmt.Fprintf(b, "{%d,}", n.min)
		default:
			fmt.Fprintf(b, "{%d,%d}", n.min, n.max)
		}
		if n.lazy {
			b.WriteString("?")
		}
		if n.poss {
			b.WriteString("+")
		}
	case rxConcat:
		for _, s := range n.sub {
			if s.op == rxAlternate {
				b.WriteString("(?:")
				s.write(b)
				b.WriteString(")")
				continue
			}
			s.write(b)
		}
	case rxAlternate:
		for i, s := range n.sub {
			if i > 0 {
				b.WriteString("|")
			}
			s.write(b)
		}
	}
}

// rxWriteSet writes the characters of a node: ".", one escaped character, or a class.
func rxWriteSet(b *strings.Builder, set rxSet) {
	if len(set) == len(rxNotNewline) && rxSetEqual(set, rxNotNewline) {
		b.WriteString(".")
		return
	}
	if r, ok := set.single(); ok {
		b.WriteString(rxEscapeRune(r))
		return
	}
	b.WriteString("[")
	for i := 0; i+1 < len(set); i += 2 {
		lo, hi := set[i], set[i+1]
		b.WriteString(rxEscapeClassRune(lo))
		if hi > lo {
			if hi > lo+1 {
				b.WriteString("-")
			}
			b.WriteString(rxEscapeClassRune(hi))
		}
	}
	b.WriteString("]")
}

func rxSetEqual(a, b rxSet) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// rxEscapeRune writes r outside a class.
func rxEscapeRune(r rune) string {
	switch r {
	case '\t':
		return `\t`
	case '\n':
		return `\n`
	case '\r':
		return `\r`
	case '\f':
		return `\f`
	}
	if strings.ContainsRune(`\.^$|?*+()[]{}/`, r) {
		return `\` + string(r)
	}
	if r < 0x20 || r == 0x7F || !unicode.IsPrint(r) && r != ' ' {
		return fmt.Sprintf(`\x{%X}`, r)
	}
	return string(r)
}

// rxEscapeClassRune writes r inside a class.
func rxEscapeClassRune(r rune) string {
	if strings.ContainsRune(`\]^-&[`, r) {
		return `\` + string(r)
	}
	return rxEscapeRune(r)
}
