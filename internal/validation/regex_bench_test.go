package validation

import (
	"fmt"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/util/validation/field"

	v1 "github.com/logplane/logplane/api/v1alpha1"
)

// regexShapes build accepted patterns of about n characters in the shapes tenants
// write, long: alternations of words, parse regexes of many fields, literal text with
// classes, and counted repetitions.
var regexShapes = []struct {
	name string
	use  RegexUse
	make func(n int) string
}{
	{"alternation", RegexMatch, func(n int) string {
		var b strings.Builder
		b.WriteString("^(?:")
		for i := 0; b.Len() < n-8; i++ {
			if i > 0 {
				b.WriteByte('|')
			}
			fmt.Fprintf(&b, "word%03d", i)
		}
		b.WriteString(")$")
		return b.String()
	}},
	{"fields", RegexParse, func(n int) string {
		var b strings.Builder
		b.WriteString("^")
		for i := 0; b.Len() < n-24; i++ {
			fmt.Fprintf(&b, "(?<f%03d>[^ ]+) ", i)
		}
		b.WriteString("(?<rest>.*)$")
		return b.String()
	}},
	{"literal", RegexMatch, func(n int) string {
		var b strings.Builder
		for i := 0; b.Len() < n-12; i++ {
			fmt.Fprintf(&b, "ab[0-9]cd\\.")
		}
		return b.String()
	}},
	{"counted", RegexMatch, func(n int) string {
		var b strings.Builder
		b.WriteString("^")
		for i := 0; b.Len() < n-12; i++ {
			fmt.Fprintf(&b, "x%d\\d{1,8}-", i%10)
		}
		return b.String()
	}},
	{"csv", RegexParse, func(n int) string {
		var b strings.Builder
		b.WriteString("^")
		for i := 0; b.Len() < n-24; i++ {
			fmt.Fprintf(&b, "(?<c%03d>[^,]*),", i)
		}
		b.WriteString("(?<rest>.*)$")
		return b.String()
	}},
	{"words", RegexMatch, func(n int) string {
		var b strings.Builder
		b.WriteString("^")
		for i := 0; b.Len() < n-8; i++ {
			fmt.Fprintf(&b, "\\w+\\s")
		}
		return b.String()
	}},
	{"loop", RegexMatch, func(n int) string {
		var b strings.Builder
		b.WriteString("^(?:")
		for i := 0; b.Len() < n-8; i++ {
			fmt.Fprintf(&b, "k%d=[^ ]* ", i%10)
		}
		b.WriteString(")+$")
		return b.String()
	}},
	{"loopalt", RegexMatch, func(n int) string {
		var b strings.Builder
		b.WriteString("^(?:")
		for i := 0; b.Len() < n-8; i++ {
			if i > 0 {
				b.WriteByte('|')
			}
			fmt.Fprintf(&b, "w%03d", i)
		}
		b.WriteString(")+$")
		return b.String()
	}},
	{"optional", RegexMatch, func(n int) string {
		var b strings.Builder
		b.WriteString("^")
		for i := 0; b.Len() < n-12; i++ {
			fmt.Fprintf(&b, "(?:k%d=v)?", i%10)
		}
		b.WriteString("$")
		return b.String()
	}},
}

// BenchmarkCheckRegex checks patterns of growing length without the verdict cache;
// the time per pattern should grow about linearly with its length.
func BenchmarkCheckRegex(b *testing.B) {
	for _, shape := range regexShapes {
		for _, n := range []int{128, 256, 512, 1024} {
			pattern := shape.make(n)
			// Refused patterns count too: the webhook checks them all the same.
			verdict := "ok"
			if _, err := rxCheck(pattern, shape.use); err != nil {
				verdict = "refused"
			}
			b.Run(fmt.Sprintf("%s/%d/%s", shape.name, n, verdict), func(b *testing.B) {
				for b.Loop() {
					_, _ = rxCheck(pattern, shape.use)
				}
			})
		}
	}
}

// worstShapes are the accepted patterns of up to 1024 characters that took the
// checker longest (found by sweeping each shape's size): a run of optional classes,
// alternatives under a repetition, and alternatives of classes under one.
func worstShape(i int) string {
	switch i % 3 {
	case 0:
		return fmt.Sprintf("^%s%d$", strings.Repeat("[a-z]?", 126), i)
	case 1:
		alts := make([]string, 64)
		for a := range alts {
			alts[a] = fmt.Sprintf("w%03d", (a+i)%1000)
		}
		return "^(?:" + strings.Join(alts, "|") + ")+$"
	default:
		alts := make([]string, 80)
		for a := range alts {
			alts[a] = fmt.Sprintf("[a-z]%d%c", (a+i)%10, 'A'+(a+i)%26)
		}
		return "^(?:" + strings.Join(alts, "|") + ")+$"
	}
}

// BenchmarkCheckRegexObject checks the most regexes one LogPipeline can carry (32
// grep filters of 16 include and 16 exclude rules), every one a different pattern of
// the slowest accepted shapes, with an empty verdict cache: the webhook's worst case
// for one object.
func BenchmarkCheckRegexObject(b *testing.B) {
	var filters []v1.Filter
	for f := range 32 {
		g := &v1.GrepFilter{}
		for r := range 16 {
			g.Include = append(g.Include, v1.FieldMatch{Field: "log", Regex: v1.Regex(worstShape(f*32 + r))})
			g.Exclude = append(g.Exclude, v1.FieldMatch{Field: "log", Regex: v1.Regex(worstShape(f*32 + 16 + r))})
		}
		filters = append(filters, v1.Filter{Type: v1.FilterGrep, Grep: g})
	}
	for i := range 3 {
		if err := Regex(worstShape(i), RegexMatch); err != nil {
			b.Fatalf("shape %d is refused: %v", i, err)
		}
	}
	for b.Loop() {
		regexVerdicts.mu.Lock()
		clear(regexVerdicts.m)
		regexVerdicts.mu.Unlock()
		if errs := Filters(filters, field.NewPath("spec", "filters")); len(errs) > 0 {
			b.Fatal(errs)
		}
	}
}
