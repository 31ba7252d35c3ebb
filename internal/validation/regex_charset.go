package validation

import (
	"slices"
	"sync"
	"unicode"
)

// rxSet is a set of code points: sorted, disjoint, non-adjacent [lo, hi] pairs, as
// regexp/syntax keeps them. Surrogates (U+D800–U+DFFF) are never members: they are not
// characters a UTF-8 log line can hold.
type rxSet []rune

const (
	rxMaxRune     = unicode.MaxRune
	rxSurrogateLo = 0xD800
	rxSurrogateHi = 0xDFFF
)

// rxUniverse is every character.
var rxUniverse = rxSet{0, rxSurrogateLo - 1, rxSurrogateHi + 1, rxMaxRune}

// Sets of the class escapes. Fluent Bit's engine (Onigmo with Ruby syntax) keeps \d, \w
// and \s to ASCII, as RE2 does; its \s also holds the vertical tab, which RE2's does not.
var (
	rxDigit = rxSet{'0', '9'}
	rxWord  = rxSet{'0', '9', 'A', 'Z', '_', '_', 'a', 'z'}
	rxSpace = rxSet{'\t', '\r', ' ', ' '}
	// rxNotNewline is what . matches.
	rxNotNewline = rxSet{0, '\n' - 1, '\n' + 1, rxSurrogateLo - 1, rxSurrogateHi + 1, rxMaxRune}
)

// rxSetOf returns the set of one range.
func rxSetOf(lo, hi rune) rxSet { return rxSet{lo, hi}.clean() }

// clean sorts and merges pairs and takes surrogates out.
func (s rxSet) clean() rxSet {
	type span struct{ lo, hi rune }
	spans := make([]span, 0, len(s)/2)
	for i := 0; i+1 < len(s); i += 2 {
		lo, hi := s[i], s[i+1]
		if lo > hi {
			continue
		}
		// Cut surrogates out.
		if lo <= rxSurrogateHi && hi >= rxSurrogateLo {
			if lo < rxSurrogateLo {
				spans = append(spans, span{lo, rxSurrogateLo - 1})
			}
			if hi > rxSurrogateHi {
				spans = append(spans, span{rxSurrogateHi + 1, hi})
			}
			continue
		}
		spans = append(spans, span{lo, hi})
	}
	slices.SortFunc(spans, func(a, b span) int { return int(a.lo - b.lo) })
	out := make(rxSet, 0, 2*len(spans))
	for _, sp := range spans {
		n := len(out)
		// Merge overlapping and adjacent spans; a span never starts inside the gap
		// around the surrogates, so adjacency across it never joins them back.
		if n > 0 && sp.lo <= out[n-1]+1 {
			out[n-1] = max(out[n-1], sp.hi)
			continue
		}
		out = append(out, sp.lo, sp.hi)
	}
	return out
}

// union returns s ∪ t.
func (s rxSet) union(t rxSet) rxSet {
	return append(slices.Clone(s), t...).clean()
}

// negate returns every character not in s.
func (s rxSet) negate() rxSet {
	var out rxSet
	next := rune(0)
	for i := 0; i+1 < len(s); i += 2 {
		if s[i] > next {
			out = append(out, next, s[i]-1)
		}
		next = s[i+1] + 1
	}
	if next <= rxMaxRune {
		out = append(out, next, rxMaxRune)
	}
	return out.clean()
}

// intersects reports whether s and t share a character.
func (s rxSet) intersects(t rxSet) bool {
	i, j := 0, 0
	for i+1 < len(s) && j+1 < len(t) {
		if s[i+1] < t[j] {
			i += 2
			continue
		}
		if t[j+1] < s[i] {
			j += 2
			continue
		}
		return true
	}
	return false
}

// intersect returns s ∩ t.
func (s rxSet) intersect(t rxSet) rxSet {
	var out rxSet
	i, j := 0, 0
	for i+1 < len(s) && j+1 < len(t) {
		lo, hi := max(s[i], t[j]), min(s[i+1], t[j+1])
		if lo <= hi {
			out = append(out, lo, hi)
		}
		if s[i+1] < t[j+1] {
			i += 2
		} else {
			j += 2
		}
	}
	return out
}

// contains reports whether r is in s.
func (s rxSet) contains(r rune) bool {
	for i := 0; i+1 < len(s); i += 2 {
		if r < s[i] {
			return false
		}
		if r <= s[i+1] {
			return true
		}
	}
	return false
}

// single returns the one character of s, if s holds exactly one.
func (s rxSet) single() (rune, bool) {
	if len(s) == 2 && s[0] == s[1] {
		return s[0], true
	}
	return 0, false
}

// Bounds of the characters that have other cases (as regexp/syntax keeps them).
const (
	rxMinFold = 0x0041
	rxMaxFold = 0x1E943
)

// fold adds every simple case variant of the members, as (?i) does. Onigmo also folds
// some characters to several (ß and ss); those are left out here, which only ever makes
// the complexity analysis see fewer characters in a class, never a different syntax.
func (s rxSet) fold() rxSet {
	out := slices.Clone(s)
	for i := 0; i+1 < len(s); i += 2 {
		lo, hi := max(s[i], rxMinFold), min(s[i+1], rxMaxFold)
		for r := lo; r <= hi; r++ {
			for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
				out = append(out, f, f)
			}
		}
	}
	return out.clean()
}

// rxCasedNonASCII is every non-ASCII character with another case (computed on first
// use, not when a program that imports the package starts).
var rxCasedNonASCII = sync.OnceValue(func() rxSet {
	var out rxSet
	for r := rune(0x80); r <= rxMaxFold; r++ {
		if unicode.SimpleFold(r) != r {
			out = append(out, r, r)
		}
	}
	return out.clean()
})

// rxSetFromTable converts a Unicode table.
func rxSetFromTable(t *unicode.RangeTable) rxSet {
	var out rxSet
	for _, r := range t.R16 {
		if r.Stride == 1 {
			out = append(out, rune(r.Lo), rune(r.Hi))
			continue
		}
		for c := rune(r.Lo); c <= rune(r.Hi); c += rune(r.Stride) {
			out = append(out, c, c)
		}
	}
	for _, r := range t.R32 {
		if r.Stride == 1 {
			out = append(out, rune(r.Lo), rune(r.Hi))
			continue
		}
		for c := rune(r.Lo); c <= rune(r.Hi); c += rune(r.Stride) {
			out = append(out, c, c)
		}
	}
	return out.clean()
}
