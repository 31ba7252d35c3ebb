package validation

import (
	"fmt"
	"strings"
)

// rxToRE2 writes n in RE2 syntax with the meaning Fluent Bit's engine gives it, for
// tests: ^ and $ match per line, \d \w \s are ASCII (\s with the vertical tab). It
// returns false for what RE2 cannot say: look-arounds, atomic groups, possessive
// quantifiers.
func rxToRE2(n *rxNode) (string, bool) {
	var b strings.Builder
	ok := rxWriteRE2(&b, n)
	return b.String(), ok
}

func rxWriteRE2(b *strings.Builder, n *rxNode) bool {
	switch n.op {
	case rxChars:
		if r, ok := n.set.single(); ok {
			fmt.Fprintf(b, `\x{%X}`, r)
			return true
		}
		b.WriteString("[")
		for i := 0; i+1 < len(n.set); i += 2 {
			fmt.Fprintf(b, `\x{%X}-\x{%X}`, n.set[i], n.set[i+1])
		}
		b.WriteString("]")
	case rxEmpty:
		b.WriteString("(?:)")
	case rxBeginLine:
		b.WriteString("(?m:^)")
	case rxEndLine:
		b.WriteString("(?m:$)")
	case rxBeginText:
		b.WriteString(`\A`)
	case rxEndText:
		b.WriteString(`\z`)
	case rxWordBoundary:
		b.WriteString(`\b`)
	case rxNoWordBoundary:
		b.WriteString(`\B`)
	case rxCapture:
		if n.name != "" {
			b.WriteString("(?P<" + n.name + ">")
		} else {
			b.WriteString("(")
		}
		ok := rxWriteRE2(b, n.sub[0])
		b.WriteString(")")
		return ok
	case rxGroup:
		b.WriteString("(?:")
		ok := rxWriteRE2(b, n.sub[0])
		b.WriteString(")")
		return ok
	case rxAtomic, rxLookahead, rxNegLookahead, rxLookbehind, rxNegLookbehind:
		return false
	case rxRepeat:
		if n.poss {
			return false
		}
		b.WriteString("(?:")
		ok := rxWriteRE2(b, n.sub[0])
		b.WriteString(")")
		if n.max < 0 {
			fmt.Fprintf(b, "{%d,}", n.min)
		} else {
			fmt.Fprintf(b, "{%d,%d}", n.min, n.max)
		}
		if n.lazy {
			b.WriteString("?")
		}
		return ok
	case rxConcat:
		ok := true
		for _, s := range n.sub {
			b.WriteString("(?:")
			ok = rxWriteRE2(b, s) && ok
			b.WriteString(")")
		}
		return ok
	case rxAlternate:
		ok := true
		for i, s := range n.sub {
			if i > 0 {
				b.WriteString("|")
			}
			b.WriteString("(?:")
			ok = rxWriteRE2(b, s) && ok
			b.WriteString(")")
		}
		return ok
	}
	return true
}
