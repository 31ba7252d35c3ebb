package validation

import (
	"fmt"
	"slices"
	"strings"
)

// This file bounds how long Fluent Bit's engine can take on one value. Onigmo is a
// backtracking matcher: on a value that does not match, it tries every way the pattern
// can consume the text, at every start position. The number of ways is what the
// checks below bound, on an automaton that keeps every way the pattern can match (a
// position automaton whose transitions count the distinct routes between positions,
// so that (a+)+ has two routes from a back to a where a+ has one):
//
//   - exponential: a position q that reads some text back to itself along two
//     different paths (two nested or overlapping repetitions over the same characters,
//     as in (a+)+, (a|aa)+, (\w+\s?)+). Refused outright: 12 s at 30 characters in
//     Fluent Bit, doubling with each one.
//   - polynomial: a chain of repetitions where each can take the text the next one
//     reads (\d+\d+, .*x.*y): the time grows with the length of the value to the power
//     of the chain's length. The search for a start position counts as one link when
//     the pattern is not anchored at the start of the value. A chain of two (quadratic:
//     ERROR.*Exception searched in a line) is accepted, since most useful patterns
//     have one; three or more (cubic and beyond: .*a.*b.*c, 1.3 s at 1,000 characters)
//     are refused.
//   - a repetition of something that can match the empty string ((a*)*, (a?)+) is
//     refused before both: it makes every repetition ambiguous.
//
// The checks over-approximate: they treat anchors and look-arounds as always passing,
// lazy and possessive repetitions and atomic groups like greedy ones, and a large
// range {n,m} as a repetition without end. So they refuse some patterns that are fast
// in practice; they do not accept slow ones the model can see.

const (
	// rxMaxPositions bounds the characters of a pattern once counted repetitions are
	// spelled out ((?:ab){3} is six), which also bounds what Onigmo compiles.
	rxMaxPositions = 10000
	// rxExactRange is the widest {n,m} range analysed exactly; wider ones count as
	// {n,} (their cost grows like that of a repetition without end).
	rxExactRange = 16
	// rxMaxPairs bounds the pairs of positions the exponential check visits per loop
	// (a loop of at most 256 positions), rxMaxSteps the transitions between them, and
	// rxMaxEdges the automaton's transitions, which grow with the square of a run of
	// optional parts or of the alternatives under a repetition. They keep the slowest
	// accepted pattern of MaxRegexLength characters under 2 ms (33 ms with 8× the
	// edges and 4× the pairs), so that an object carrying the most regexes the API
	// allows (1,024) is checked in about 1.3 s (BenchmarkCheckRegexObject).
	rxMaxPairs = 1 << 16
	rxMaxSteps = 1 << 19
	rxMaxEdges = 1 << 13
	// rxMaxChain is the longest accepted chain of repetitions (see above).
	rxMaxChain = 2
)

// rxSize is the number of character positions n spells out to.
func rxSize(n *rxNode) int {
	switch n.op {
	case rxChars:
		return 1
	case rxRepeat:
		k := n.max
		if k < 0 {
			k = n.min + 1
		}
		return min(rxSize(n.sub[0])*k, rxMaxPositions+1)
	}
	s := 0
	for _, c := range n.sub {
		s = min(s+rxSize(c), rxMaxPositions+1)
	}
	return s
}

// rxNullable reports whether n can match the empty string.
func rxNullable(n *rxNode) bool {
	switch n.op {
	case rxChars:
		return false
	case rxRepeat:
		return n.min == 0 || rxNullable(n.sub[0])
	case rxConcat:
		for _, c := range n.sub {
			if !rxNullable(c) {
				return false
			}
		}
		return true
	case rxAlternate:
		for _, c := range n.sub {
			if rxNullable(c) {
				return true
			}
		}
		return false
	case rxCapture, rxGroup, rxAtomic:
		return rxNullable(n.sub[0])
	}
	return true // anchors, look-arounds, empty
}

// rxUnbounded reports whether n holds a repetition the analysis treats as endless.
func rxUnbounded(n *rxNode) bool {
	if n.op == rxRepeat && (n.max < 0 || n.max-n.min > rxExactRange) {
		return true
	}
	return slices.ContainsFunc(n.sub, rxUnbounded)
}

// rxWalk calls f on n and every node below it, parents first.
func rxWalk(n *rxNode, f func(*rxNode)) {
	f(n)
	for _, c := range n.sub {
		rxWalk(c, f)
	}
}

// rxText is the source text of n.
func rxText(src string, n *rxNode) string { return src[n.pos:n.end] }

// rxStartAnchor returns how the pattern is tied to where the search starts: rxBeginText
// (only at the start of the value), rxBeginLine (only at line starts) or 0.
func rxStartAnchor(n *rxNode) rxOp {
	switch n.op {
	case rxBeginText, rxBeginLine:
		return n.op
	case rxCapture, rxGroup, rxAtomic:
		return rxStartAnchor(n.sub[0])
	case rxConcat:
		return rxStartAnchor(n.sub[0])
	case rxAlternate:
		a := rxBeginText
		for _, c := range n.sub {
			switch rxStartAnchor(c) {
			case 0:
				return 0
			case rxBeginLine:
				a = rxBeginLine
			}
		}
		return a
	}
	return 0
}

// rxCheckBacktracking refuses patterns whose matching time the rules above do not
// bound. root is the parsed pattern, src its text.
func rxCheckBacktracking(src string, root *rxNode) *RegexError {
	if rxSize(root) > rxMaxPositions {
		return &RegexError{Reason: fmt.Sprintf("the pattern is too large once its counted repetitions are spelled out (more than %d characters): use smaller counts", rxMaxPositions)}
	}
	var err *RegexError
	rxWalk(root, func(n *rxNode) {
		if err != nil || n.op != rxRepeat {
			return
		}
		if (n.max < 0 || n.max > 1) && rxNullable(n.sub[0]) {
			err = &RegexError{Pos: rxCharPos(src, n.pos), Reason: fmt.Sprintf("%s repeats something that can match the empty string, which makes the repetition ambiguous and matching slow: make the repeated part match at least one character, as in (a*)* → a*, (a?)+ → a*, (\\s*\\w)+ → (?:\\s*\\w)+ with \\w required",
				rxText(src, n))}
		}
	})
	if err != nil {
		return err
	}
	// Look-arounds: one at the start of the pattern is tried once per start position,
	// as the pattern is, and gets the same analysis; elsewhere it may run at every
	// character, so it must not hold a repetition without end.
	lead := rxLeadingLookarounds(root)
	rxWalk(root, func(n *rxNode) {
		if err != nil || !n.lookaround() || slices.Contains(lead, n) {
			return
		}
		if rxUnbounded(n.sub[0]) {
			err = &RegexError{Pos: rxCharPos(src, n.pos), Reason: fmt.Sprintf("%s repeats without bound inside a look-around that is not at the start of the pattern, where it runs again at every character: move it to the start (after ^), or bound the repetition", rxText(src, n))}
		}
	})
	if err != nil {
		return err
	}
	anchor := rxStartAnchor(root)
	if err := rxAnalyse(src, root, anchor); err != nil {
		return err
	}
	for _, la := range lead {
		if err := rxAnalyse(src, la.sub[0], anchor); err != nil {
			return err
		}
	}
	return nil
}

// rxLeadingLookarounds returns the look-aheads that open the pattern, after its anchor.
func rxLeadingLookarounds(root *rxNode) []*rxNode {
	items := []*rxNode{root}
	if root.op == rxConcat {
		items = root.sub
	}
	var out []*rxNode
	for _, it := range items {
		switch {
		case it.op == rxBeginText || it.op == rxBeginLine:
		case it.op == rxLookahead || it.op == rxNegLookahead:
			out = append(out, it)
		default:
			return out
		}
	}
	return out
}

// rxAuto is the position automaton of a pattern.
type rxAuto struct {
	sets   []rxSet
	follow []map[int]uint8 // transitions and how many routes each has (capped at 2)
	next   [][]int         // follow's targets in order, so that answers never vary
	loops  []rxLoop
	edges  int // transitions made, against rxMaxEdges
}

// rxLoop is a repetition and the positions of the copy that got its back edges.
type rxLoop struct {
	node   *rxNode
	lo, hi int // positions [lo, hi)
}

// rxGlushkov is what a sub-pattern contributes: how many ways it matches the empty
// string, and its first and last positions with their route counts.
type rxGlushkov struct {
	empty       uint8
	first, last map[int]uint8
}

func rxAdd(a, b uint8) uint8 { return min(a+b, 2) }
func rxMul(a, b uint8) uint8 { return min(a*b, 2) }

func (a *rxAuto) pos(set rxSet) int {
	a.sets = append(a.sets, set)
	a.follow = append(a.follow, map[int]uint8{})
	return len(a.sets) - 1
}

func (a *rxAuto) link(from, to map[int]uint8) {
	a.edges += len(from) * len(to)
	if a.edges > rxMaxEdges {
		return // rxAnalyse refuses the pattern
	}
	for p, cp := range from {
		for q, cq := range to {
			a.follow[p][q] = rxAdd(a.follow[p][q], rxMul(cp, cq))
		}
	}
}

func rxScaled(dst, src map[int]uint8, k uint8) {
	if k == 0 {
		return
	}
	for p, c := range src {
		dst[p] = rxAdd(dst[p], rxMul(c, k))
	}
}

func rxEpsilon() rxGlushkov {
	return rxGlushkov{empty: 1, first: map[int]uint8{}, last: map[int]uint8{}}
}

func (a *rxAuto) concat(x, y rxGlushkov) rxGlushkov {
	a.link(x.last, y.first)
	out := rxGlushkov{empty: rxMul(x.empty, y.empty), first: map[int]uint8{}, last: map[int]uint8{}}
	rxScaled(out.first, x.first, 1)
	rxScaled(out.first, y.first, x.empty)
	rxScaled(out.last, y.last, 1)
	rxScaled(out.last, x.last, y.empty)
	return out
}

func (a *rxAuto) build(n *rxNode) rxGlushkov {
	if a.edges > rxMaxEdges {
		// Refused (rxAnalyse): building further would only cost time.
		return rxEpsilon()
	}
	switch n.op {
	case rxChars:
		p := a.pos(n.set)
		return rxGlushkov{first: map[int]uint8{p: 1}, last: map[int]uint8{p: 1}}
	case rxCapture, rxGroup, rxAtomic:
		return a.build(n.sub[0])
	case rxConcat:
		// One accumulator, extended in place: folding with concat would copy its
		// first and last sets once per part, quadratic in a run of optional parts.
		g := rxEpsilon()
		for _, c := range n.sub {
			h := a.build(c)
			a.link(g.last, h.first)
			rxScaled(g.first, h.first, g.empty)
			g.empty = rxMul(g.empty, h.empty)
			if h.empty == 0 {
				g.last = h.last
				continue
			}
			if h.empty > 1 {
				for p, c := range g.last {
					g.last[p] = rxMul(c, h.empty)
				}
			}
			rxScaled(g.last, h.last, 1)
		}
		return g
	case rxAlternate:
		g := rxGlushkov{first: map[int]uint8{}, last: map[int]uint8{}}
		for _, c := range n.sub {
			h := a.build(c)
			g.empty = rxAdd(g.empty, h.empty)
			rxScaled(g.first, h.first, 1)
			rxScaled(g.last, h.last, 1)
		}
		return g
	case rxRepeat:
		return a.repeat(n)
	}
	return rxEpsilon() // anchors, look-arounds, empty
}

// repeat spells out sub{min,max}: min copies, then max-min nested optional ones, or,
// for a repetition without end (or a wide range), a copy with back edges.
func (a *rxAuto) repeat(n *rxNode) rxGlushkov {
	if n.max == 0 {
		return rxEpsilon()
	}
	loop := n.max < 0 || n.max-n.min > rxExactRange
	g := rxEpsilon()
	copies := n.min
	if loop && n.min > 0 {
		copies--
	}
	for range copies {
		g = a.concat(g, a.build(n.sub[0]))
	}
	if loop {
		lo := len(a.sets)
		x := a.build(n.sub[0])
		a.link(x.last, x.first)
		a.loops = append(a.loops, rxLoop{node: n, lo: lo, hi: len(a.sets)})
		if n.min == 0 {
			x.empty = rxAdd(x.empty, 1)
		}
		return a.concat(g, x)
	}
	tail := rxEpsilon()
	for range n.max - n.min {
		t := a.concat(a.build(n.sub[0]), tail)
		t.empty = rxAdd(t.empty, 1)
		tail = t
	}
	return a.concat(g, tail)
}

// rxAnalyse runs the exponential and polynomial checks on one pattern (or the body of
// a leading look-ahead), searched as anchor says.
func rxAnalyse(src string, root *rxNode, anchor rxOp) *RegexError {
	a := &rxAuto{}
	g := a.build(root)
	if a.edges > rxMaxEdges {
		return &RegexError{Reason: "the pattern is too complex to check for slow matching (too many ways to go from one character to the next, as with long runs of optional parts or large alternations under a repetition): simplify it"}
	}
	a.next = make([][]int, len(a.follow))
	for p, f := range a.follow {
		for q := range f {
			a.next[p] = append(a.next[p], q)
		}
		slices.Sort(a.next[p])
	}
	sccs := a.components()
	var cyclic [][]int
	for _, c := range sccs {
		if len(c) > 1 || a.follow[c[0]][c[0]] > 0 {
			cyclic = append(cyclic, c)
		}
	}
	// Tarjan returns components children first; the chain search wants them in
	// the order the text is read.
	slices.Reverse(cyclic)
	for _, c := range cyclic {
		exp, err := a.ambiguous(c)
		if err != nil {
			return &RegexError{Pos: rxCharPos(src, a.owner(c).pos), Reason: err.Error()}
		}
		if exp {
			loop := a.owner(c)
			return &RegexError{Pos: rxCharPos(src, loop.pos), Reason: fmt.Sprintf("%s can match the same text in exponentially many ways (a repetition inside a repetition, or alternatives under one, over the same characters), so a line that does not match stalls Fluent Bit's engine for seconds to hours: make each repeated part unambiguous, as in (a+)+ → a+, (a|aa)+ → a+, (\\w+\\s?)+ → \\w+(?:\\s\\w+)*",
				rxText(src, loop))}
		}
	}
	return a.chains(src, cyclic, g.first, anchor)
}

// owner is the widest repetition whose back edges lie in component c.
func (a *rxAuto) owner(c []int) *rxNode {
	var best *rxNode
	for _, l := range a.loops {
		if !slices.ContainsFunc(c, func(p int) bool { return p >= l.lo && p < l.hi }) {
			continue
		}
		if best == nil || l.node.end-l.node.pos > best.end-best.pos {
			best = l.node
		}
	}
	return best
}

// components returns the strongly connected components of the automaton (Tarjan).
func (a *rxAuto) components() [][]int {
	n := len(a.sets)
	index := make([]int, n)
	low := make([]int, n)
	on := make([]bool, n)
	for i := range index {
		index[i] = -1
	}
	var stack []int
	var out [][]int
	next := 0
	var visit func(v int)
	visit = func(v int) {
		index[v], low[v] = next, next
		next++
		stack = append(stack, v)
		on[v] = true
		for _, w := range a.next[v] {
			if index[w] < 0 {
				visit(w)
				low[v] = min(low[v], low[w])
			} else if on[w] {
				low[v] = min(low[v], index[w])
			}
		}
		if low[v] == index[v] {
			var c []int
			for {
				w := stack[len(stack)-1]
				stack = stack[:len(stack)-1]
				on[w] = false
				c = append(c, w)
				if w == v {
					break
				}
			}
			slices.Sort(c)
			out = append(out, c)
		}
	}
	for v := range n {
		if index[v] < 0 {
			visit(v)
		}
	}
	return out
}

// ambiguous reports whether some position of the component c reads a text back to
// itself along two different paths. In the product of c with itself, the pairs (q, q)
// all reach one another (walk the same path twice), so that happens exactly when a
// transition inside c has two routes, or a pair (p, r) with p ≠ r is reachable from
// the pairs (q, q) and reaches them again. A forward search from the diagonal, then a
// backward one over what it reached, answers that.
func (a *rxAuto) ambiguous(c []int) (bool, error) {
	k := len(c)
	tooComplex := fmt.Errorf("a repeated part is too complex to check for slow matching (%d characters in one loop): simplify it", k)
	if k*k > rxMaxPairs {
		return false, tooComplex
	}
	local := make(map[int]int32, k)
	for i, p := range c {
		local[p] = int32(i)
	}
	succ := make([][]int32, k)
	pred := make([][]int32, k)
	for i, p := range c {
		for q, n := range a.follow[p] {
			j, ok := local[q]
			if !ok {
				continue
			}
			if n >= 2 {
				return true, nil
			}
			succ[i] = append(succ[i], j)
			pred[j] = append(pred[j], int32(i))
		}
		slices.Sort(succ[i])
	}
	for j := range pred {
		slices.Sort(pred[j])
	}
	// meet caches whether two positions share a character: 0 unknown, 1 yes, 2 no.
	meetCache := make([]uint8, k*k)
	meet := func(i, j int32) bool {
		m := &meetCache[int(i)*k+int(j)]
		if *m == 0 {
			*m = 2
			if i == j || a.sets[c[i]].intersects(a.sets[c[j]]) {
				*m = 1
			}
		}
		return *m == 1
	}
	// sharedSucc reports a position both i and j go to: the pair (i, j) is back on
	// the diagonal in one step.
	sharedSucc := func(i, j int32) bool {
		x, y := succ[i], succ[j]
		for len(x) > 0 && len(y) > 0 {
			switch {
			case x[0] == y[0]:
				return true
			case x[0] < y[0]:
				x = x[1:]
			default:
				y = y[1:]
			}
		}
		return false
	}
	// Positions with the same successors (the ends of the alternatives of a loop all
	// go back to its starts) give the same successor pairs: a pair of successor lists
	// is expanded once, which keeps a loop over many alternatives from costing the
	// square of its size once per position.
	succGroup, succGroups := rxGroups(succ)
	predGroup, predGroups := rxGroups(pred)
	expanded := make([]bool, max(succGroups, predGroups)*max(succGroups, predGroups))
	steps := rxMaxSteps
	fwd := make([]bool, k*k)
	queue := make([]int32, 0, k)
	for i := range int32(k) {
		fwd[int(i)*k+int(i)] = true
		queue = append(queue, i*int32(k)+i)
	}
	for len(queue) > 0 {
		v := queue[0]
		queue = queue[1:]
		i, j := v/int32(k), v%int32(k)
		if g := int(succGroup[i])*succGroups + int(succGroup[j]); expanded[g] {
			continue
		} else {
			expanded[g] = true
		}
		for _, i2 := range succ[i] {
			for _, j2 := range succ[j] {
				if steps--; steps < 0 {
					return false, tooComplex
				}
				w := int(i2)*k + int(j2)
				if fwd[w] || !meet(i2, j2) {
					continue
				}
				if i2 != j2 && sharedSucc(i2, j2) {
					return true, nil
				}
				fwd[w] = true
				queue = append(queue, int32(w))
			}
		}
	}
	bwd := make([]bool, k*k)
	clear(expanded)
	for i := range int32(k) {
		bwd[int(i)*k+int(i)] = true
		queue = append(queue, i*int32(k)+i)
	}
	for len(queue) > 0 {
		v := queue[0]
		queue = queue[1:]
		i, j := v/int32(k), v%int32(k)
		if g := int(predGroup[i])*predGroups + int(predGroup[j]); expanded[g] {
			continue
		} else {
			expanded[g] = true
		}
		for _, i0 := range pred[i] {
			for _, j0 := range pred[j] {
				if steps--; steps < 0 {
					return false, tooComplex
				}
				w := int(i0)*k + int(j0)
				if !fwd[w] || bwd[w] {
					continue
				}
				if i0 != j0 {
					return true, nil
				}
				bwd[w] = true
				queue = append(queue, int32(w))
			}
		}
	}
	return false, nil
}

// rxGroups numbers the distinct lists of lists (sorted), so that equal lists get
// equal numbers, and returns how many distinct lists there are.
func rxGroups(lists [][]int32) ([]int32, int) {
	ids := map[string]int32{}
	out := make([]int32, len(lists))
	var key []byte
	for i, l := range lists {
		key = key[:0]
		for _, v := range l {
			key = append(key, byte(v), byte(v>>8), byte(v>>16), byte(v>>24))
		}
		id, ok := ids[string(key)]
		if !ok {
			id = int32(len(ids))
			ids[string(key)] = id
		}
		out[i] = id
	}
	return out, len(ids)
}

// chains finds the longest chain of loops where each can take text the next one
// reads, counting the search for a start position as a loop unless anchor is \A.
// Two loops A and B (B after A) are linked when some text v can go round A, round B,
// and from A to B: v's characters are then in both loops' alphabets, and every
// position on a path from A to B, the first included, must read one of them.
func (a *rxAuto) chains(src string, cyclic [][]int, first map[int]uint8, anchor rxOp) *RegexError {
	k := len(cyclic)
	alpha := make([]rxSet, k)
	member := make([]int, len(a.sets))
	for i := range member {
		member[i] = -1
	}
	for i, c := range cyclic {
		for _, p := range c {
			alpha[i] = alpha[i].union(a.sets[p])
			member[p] = i
		}
	}
	// Loops repeat alphabets (\w+ … \w+): the intersection of two is computed once
	// per pair of distinct alphabets, not once per pair of loops.
	ids := map[string]int{}
	alphaID := make([]int, k)
	for i := range alpha {
		key := fmt.Sprint([]rune(alpha[i]))
		id, ok := ids[key]
		if !ok {
			id = len(ids)
			ids[key] = id
		}
		alphaID[i] = id
	}
	type idPair struct{ x, y int }
	shared := map[idPair]rxSet{}
	common := func(i, j int) rxSet {
		key := idPair{alphaID[i], alphaID[j]}
		set, ok := shared[key]
		if !ok {
			set = alpha[i].intersect(alpha[j])
			shared[key] = set
		}
		return set
	}
	// reaches reports a path from the sources into component j through positions
	// that read a character of allowed. A source must read one too: a loop through a
	// position reads that position's character, and the search enters the pattern by
	// reading an entry's.
	//
	// It runs for pairs of loops, so it costs only what it visits: seen marks a
	// position with the number of the search that reached it (no clearing between
	// searches), and the queue is reused.
	seen := make([]int32, len(a.sets))
	search := int32(0)
	queue := make([]int, 0, len(a.sets))
	reaches := func(sources []int, allowed rxSet, j int) bool {
		search++
		queue = queue[:0]
		for _, s := range sources {
			if !a.sets[s].intersects(allowed) {
				continue
			}
			if member[s] == j {
				return true
			}
			seen[s] = search
			queue = append(queue, s)
		}
		for h := 0; h < len(queue); h++ {
			for _, w := range a.next[queue[h]] {
				if seen[w] == search || !a.sets[w].intersects(allowed) {
					continue
				}
				if member[w] == j {
					return true
				}
				seen[w] = search
				queue = append(queue, w)
			}
		}
		return false
	}
	// best[i] is the longest chain ending at loop i; via[i] its previous loop (-1
	// for none, -2 for the search).
	best := make([]int, k)
	via := make([]int, k)
	entries := make([]int, 0, len(first))
	for p := range first {
		entries = append(entries, p)
	}
	slices.Sort(entries)
	// candidates[j] are the loops i before j that a search from i over the positions
	// reading a character of i's alphabet reaches: a path A→B must read characters of
	// both alphabets, so a loop not reached this way is not linked to i, and the exact
	// check below runs only for candidates. One search per loop instead of one per pair
	// keeps the pass about linear where separators stop the searches (\w+\s\w+…,
	// [^,]*,[^,]*…), which is the shape of long patterns that are accepted.
	candidates := make([][]int, k)
	for i := range k {
		search++
		queue = queue[:0]
		for _, p := range cyclic[i] {
			seen[p] = search
			queue = append(queue, p)
		}
		for h := 0; h < len(queue); h++ {
			for _, w := range a.next[queue[h]] {
				if seen[w] == search || !a.sets[w].intersects(alpha[i]) {
					continue
				}
				seen[w] = search
				queue = append(queue, w)
				if m := member[w]; m > i {
					if n := len(candidates[m]); n == 0 || candidates[m][n-1] != i {
						candidates[m] = append(candidates[m], i)
					}
				}
			}
		}
	}
	for j := range k {
		best[j], via[j] = 1, -1
		if anchor != rxBeginText && (anchor != rxBeginLine || alpha[j].contains('\n')) &&
			reaches(entries, alpha[j], j) {
			best[j], via[j] = 2, -2
		}
		for _, i := range candidates[j] {
			if best[i]+1 <= best[j] {
				continue
			}
			if allowed := common(i, j); len(allowed) > 0 && reaches(cyclic[i], allowed, j) {
				best[j], via[j] = best[i]+1, i
			}
		}
		if best[j] > rxMaxChain {
			var parts []string
			for x := j; x >= 0; x = via[x] {
				parts = append(parts, "`"+rxText(src, a.owner(cyclic[x]))+"`")
			}
			fix := "make the parts between them specific (as [^ ]* instead of .*), or split the pattern into several grep rules"
			if via[rxChainStart(via, j)] == -2 {
				if anchor == rxBeginLine {
					parts = append(parts, "the search for where a match starts (^ matches after every line break in Fluent Bit's engine)")
					fix = "start the pattern with \\A instead of ^, or " + fix
				} else {
					parts = append(parts, "the search for where a match starts (the pattern is not anchored)")
					fix = "anchor the pattern with \\A, or " + fix
				}
			}
			slices.Reverse(parts)
			return &RegexError{Pos: rxCharPos(src, a.owner(cyclic[j]).pos), Reason: fmt.Sprintf("%d repetitions in a row can each take the same characters — %s — so a value that does not match costs Fluent Bit's engine time growing with its length to the power %d: %s",
				best[j], strings.Join(parts, ", "), best[j], fix)}
		}
	}
	return nil
}

// rxChainStart follows via back to the first loop of the chain ending at j.
func rxChainStart(via []int, j int) int {
	for via[j] >= 0 {
		j = via[j]
	}
	return j
}
