package validation

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/logplane/logplane/internal/fluentbit"
	"github.com/logplane/logplane/test/fbrun"
)

// These tests hold the table of regex_test.go against the real Fluent Bit: what Regex
// accepts compiles and matches as the table says; what it refuses either stops Fluent
// Bit, or is read by Fluent Bit unlike PCRE or RE2, or backtracks for seconds. They
// start six processes or so and take a few seconds.

// The field probed values sit in, and the fields that say which probe and value a
// record is.
const (
	probeField = "lp_value"
	probeKey   = "p"
	valueKey   = "i"
)

// probe is one pattern to run in Fluent Bit, with the values to try it on.
type probe struct {
	pattern string
	use     RegexUse
	values  []string
}

// outcome is what Fluent Bit did with one value: matched it (for a parse regex: made
// fields of it), and the record's fields other than the probe's own.
type outcome struct {
	matched bool
	fields  map[string]any
}

// runProbes starts one Fluent Bit with every probe and returns, per probe and value,
// what it did. Records come from one tail input; each probe has an output with its
// own processors (a grep on the probe's number, then the grep or parser under test)
// writing to a file in a host directory. want is how many records the outputs should
// write in all; Fluent Bit is stopped once they have, or after a deadline.
func runProbes(t *testing.T, bin string, probes []probe, want int) [][]outcome {
	t.Helper()
	var values bytes.Buffer
	cfg := fluentbit.Config{
		Service: []fluentbit.Param{
			{Key: "flush", Value: fluentbit.String("0.2")},
			{Key: "grace", Value: fluentbit.Int(1)},
			{Key: "log_level", Value: fluentbit.String("info")},
		},
		Parsers: []fluentbit.Section{{Name: "lp_json", Params: []fluentbit.Param{{Key: "format", Value: fluentbit.String("json")}}}},
		Inputs: []fluentbit.Section{{Name: "tail", Params: []fluentbit.Param{
			{Key: "parser", Value: fluentbit.String("lp_json")},
			{Key: "path", Value: fluentbit.String("/fluent-bit/etc/values.jsonl")},
			{Key: "read_from_head", Value: fluentbit.Bool(true)},
		}}},
	}
	for k, pr := range probes {
		for i, v := range pr.values {
			line, err := json.Marshal(map[string]string{probeKey: strconv.Itoa(k), valueKey: strconv.Itoa(i), probeField: v})
			if err != nil {
				t.Fatal(err)
			}
			values.Write(line)
			values.WriteByte('\n')
		}
		own := fmt.Sprintf("$%s ^%d$", probeKey, k)
		out := fluentbit.Section{Name: "file", Match: "*", Params: []fluentbit.Param{
			{Key: "file", Value: fluentbit.String(fmt.Sprintf("p%d.jsonl", k))},
			{Key: "format", Value: fluentbit.String("plain")},
			{Key: "path", Value: fluentbit.String("/out")},
		}}
		switch pr.use {
		case RegexMatch:
			out.Processors = []fluentbit.Section{{Name: "grep", Params: []fluentbit.Param{
				{Key: "logical_op", Value: fluentbit.String("and")},
				{Key: "regex", Value: fluentbit.List(own, "$"+probeField+" "+pr.pattern)},
			}}}
		case RegexParse:
			name := fmt.Sprintf("lp_p%d", k)
			cfg.Parsers = append(cfg.Parsers, fluentbit.Section{Name: name, Params: []fluentbit.Param{
				{Key: "format", Value: fluentbit.String("regex")},
				{Key: "regex", Value: fluentbit.String(pr.pattern)},
			}})
			out.Processors = []fluentbit.Section{
				{Name: "grep", Params: []fluentbit.Param{{Key: "regex", Value: fluentbit.List(own)}}},
				{Name: "parser", Params: []fluentbit.Param{
					{Key: "key_name", Value: fluentbit.String(probeField)},
					{Key: "parser", Value: fluentbit.String(name)},
					{Key: "reserve_data", Value: fluentbit.Bool(true)},
				}},
			}
		}
		cfg.Outputs = append(cfg.Outputs, out)
	}
	main, err := cfg.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	p, err := fbrun.Pod{Binary: bin,
		Files:  map[string][]byte{fbrun.MainConfig: main, "/fluent-bit/etc/values.jsonl": values.Bytes()},
		Mounts: []fbrun.Mount{{Path: "/out", HostDir: dir}},
	}.Start()
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) && countLines(dir) < want {
		if done, _ := p.Exited(); done {
			t.Fatalf("fluent bit exited:\n%s", p.Log())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := p.Stop(10 * time.Second); err != nil {
		t.Fatalf("%v\n%s", err, p.Log())
	}
	if errs := p.Errors(); len(errs) > 0 {
		t.Errorf("fluent bit logged errors:\n%s", strings.Join(errs, "\n"))
	}
	results := make([][]outcome, len(probes))
	for k, pr := range probes {
		results[k] = make([]outcome, len(pr.values))
		f, err := os.Open(filepath.Join(dir, fmt.Sprintf("p%d.jsonl", k)))
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			var rec map[string]any
			if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
				t.Fatalf("output of probe %d: %v: %s", k, err, sc.Text())
			}
			i, err := strconv.Atoi(fmt.Sprint(rec[valueKey]))
			if err != nil || i < 0 || i >= len(pr.values) || fmt.Sprint(rec[probeKey]) != strconv.Itoa(k) {
				t.Fatalf("output of probe %d: a record not of this probe: %s", k, sc.Text())
			}
			delete(rec, probeKey)
			delete(rec, valueKey)
			_, unparsed := rec[probeField]
			results[k][i] = outcome{matched: pr.use == RegexMatch || !unparsed, fields: rec}
		}
		f.Close()
	}
	return results
}

func countLines(dir string) int {
	n := 0
	files, _ := filepath.Glob(filepath.Join(dir, "*.jsonl"))
	for _, f := range files {
		b, _ := os.ReadFile(f)
		n += bytes.Count(b, []byte("\n"))
	}
	return n
}

// Every accepted pattern compiles in Fluent Bit and matches exactly as the table says,
// fields included; every refused pattern Fluent Bit starts with is read unlike PCRE and
// RE2 read it. One Fluent Bit runs them all.
func TestRegexCasesMatchInFluentBit(t *testing.T) {
	bin := fbrun.Binary(t)
	var probes []probe
	var cases []regexCase
	want := 0
	for _, c := range regexCases {
		switch {
		case c.refused == "":
			probes = append(probes, probe{c.pattern, c.use, append(append([]string{}, c.match...), c.noMatch...)})
			want += len(c.match)
			if c.use == RegexParse {
				want += len(c.noMatch)
			}
		case c.fb == fbDiffers:
			probes = append(probes, probe{c.pattern, c.use, []string{c.differ.input}})
			if c.differ.onigmo || c.use == RegexParse {
				want++
			}
		default:
			continue
		}
		cases = append(cases, c)
	}
	start := time.Now()
	results := runProbes(t, bin, probes, want)
	t.Logf("%d patterns, %d values: %s", len(probes), want, time.Since(start).Round(time.Millisecond))
	for k, c := range cases {
		got := results[k]
		if c.refused == "" {
			for i, v := range probes[k].values {
				wantMatch := i < len(c.match)
				if got[i].matched != wantMatch {
					t.Errorf("%s: Fluent Bit %s %q on %q, the table says the opposite", c.source, matchWord(got[i].matched), c.pattern, v)
				}
			}
			if c.fields != nil && got[0].matched {
				if g, w := fmt.Sprint(got[0].fields), fmt.Sprint(stringsToAny(c.fields)); g != w {
					t.Errorf("%s: Fluent Bit made the fields %s of %q, the table says %s", c.source, g, c.match[0], w)
				}
			}
			continue
		}
		d := c.differ
		if got[0].matched != d.onigmo {
			t.Errorf("%s: Fluent Bit %s %q on %q, the table says the opposite", c.source, matchWord(got[0].matched), c.pattern, d.input)
			continue
		}
		if d.reading != "" {
			t.Logf("%s: Fluent Bit %s %q on %q; %s", c.source, matchWord(d.onigmo), c.pattern, d.input, d.reading)
			continue
		}
		// The usual reading is RE2's.
		re, err := regexp.Compile(c.pattern)
		if err != nil {
			t.Errorf("%s: RE2 cannot compile %q (%v): say how PCRE reads it", c.source, c.pattern, err)
			continue
		}
		if re.MatchString(d.input) == d.onigmo {
			t.Errorf("%s: RE2 reads %q on %q as Fluent Bit does; the case shows no difference", c.source, c.pattern, d.input)
			continue
		}
		t.Logf("%s: Fluent Bit %s %q on %q; RE2 %s", c.source, matchWord(d.onigmo), c.pattern, d.input, matchWord(!d.onigmo))
	}
}

func matchWord(m bool) string {
	if m {
		return "matches"
	}
	return "does not match"
}

func stringsToAny(m map[string]string) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// Every refused pattern that Onigmo cannot compile keeps Fluent Bit from starting,
// with the error the table names. One small Fluent Bit per pattern, all started at
// once (t.Parallel would run only GOMAXPROCS of them at a time, and each spends a
// second shutting down).
func TestRegexCasesRefusedByFluentBit(t *testing.T) {
	bin := fbrun.Binary(t)
	type run struct {
		c regexCase
		p *fbrun.Process
	}
	var runs []run
	for _, c := range regexCases {
		if c.fb != fbRefuses {
			continue
		}
		cfg := fluentbit.Config{
			Service: []fluentbit.Param{{Key: "grace", Value: fluentbit.Int(1)}},
			Outputs: []fluentbit.Section{{Name: "null", Match: "*"}},
		}
		in := fluentbit.Section{Name: "dummy", Params: []fluentbit.Param{{Key: "samples", Value: fluentbit.Int(1)}}}
		switch c.use {
		case RegexMatch:
			in.Processors = []fluentbit.Section{{Name: "grep", Params: []fluentbit.Param{
				{Key: "regex", Value: fluentbit.List("$message " + c.pattern)}}}}
		case RegexParse:
			cfg.Parsers = []fluentbit.Section{{Name: "lp_p", Params: []fluentbit.Param{
				{Key: "format", Value: fluentbit.String("regex")},
				{Key: "regex", Value: fluentbit.String(c.pattern)},
			}}}
			in.Processors = []fluentbit.Section{{Name: "parser", Params: []fluentbit.Param{
				{Key: "key_name", Value: fluentbit.String("message")},
				{Key: "parser", Value: fluentbit.String("lp_p")},
			}}}
		}
		cfg.Inputs = []fluentbit.Section{in}
		main, err := cfg.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		p, err := fbrun.Pod{Binary: bin, Files: map[string][]byte{fbrun.MainConfig: main}}.Start()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if done, _ := p.Exited(); !done {
				p.Kill()
			}
		})
		runs = append(runs, run{c, p})
	}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		running := 0
		for _, r := range runs {
			if done, _ := r.p.Exited(); !done {
				running++
			}
		}
		if running == 0 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, r := range runs {
		t.Run(r.c.source, func(t *testing.T) {
			done, exitErr := r.p.Exited()
			if !done {
				t.Fatalf("Fluent Bit started with %q:\n%s", r.c.pattern, r.p.Log())
			}
			if exitErr == nil || !strings.Contains(r.p.Log(), r.c.fbSays) {
				t.Fatalf("Fluent Bit exited (%v) without %q for %q:\n%s", exitErr, r.c.fbSays, r.c.pattern, r.p.Log())
			}
			for _, line := range r.p.Errors() {
				if strings.Contains(line, r.c.fbSays) {
					t.Logf("%s", line[strings.Index(line, "[error]"):])
				}
			}
		})
	}
}

// The refused patterns Onigmo compiles and that backtrack do so in Fluent Bit: a short
// value holds its engine for seconds. One Fluent Bit, one threaded input per pattern
// (so that one pattern does not hold up the others) next to a control input whose
// processor does the same with a safe pattern; each input's records go to a file, and
// the test times when they arrive. It gives up on a pattern after a cap, which then
// counts as slow, so that a slower machine cannot hang the test.
func TestRegexCasesBacktrackInFluentBit(t *testing.T) {
	bin := fbrun.Binary(t)
	const limit = 12 * time.Second
	type slowCase struct {
		regexCase
		tag string
	}
	var slow []slowCase
	for _, c := range regexCases {
		if c.fb == fbSlow {
			slow = append(slow, slowCase{c, fmt.Sprintf("slow%d", len(slow))})
		}
	}
	control := slowCase{regexCase{pattern: `^a+$`, slow: strings.Repeat("a", 26) + "!"}, "control"}
	files := map[string][]byte{}
	cfg := fluentbit.Config{Service: []fluentbit.Param{
		{Key: "flush", Value: fluentbit.String("0.1")},
		{Key: "grace", Value: fluentbit.Int(1)},
		{Key: "log_level", Value: fluentbit.String("info")},
	}}
	for _, c := range append([]slowCase{control}, slow...) {
		if err := Regex(c.pattern, c.use); (err == nil) != (c.tag == "control") {
			t.Fatalf("Regex(%q) = %v", c.pattern, err)
		}
		line, _ := json.Marshal(map[string]string{probeField: c.slow})
		files["/fluent-bit/etc/"+c.tag+".jsonl"] = append(line, '\n')
		in := fluentbit.Section{Name: "tail", Params: []fluentbit.Param{
			{Key: "parser", Value: fluentbit.String("lp_json")},
			{Key: "path", Value: fluentbit.String("/fluent-bit/etc/" + c.tag + ".jsonl")},
			{Key: "read_from_head", Value: fluentbit.Bool(true)},
			{Key: "tag", Value: fluentbit.String(c.tag)},
			{Key: "threaded", Value: fluentbit.Bool(true)},
		}}
		switch c.use {
		case RegexMatch:
			// An exclude rule that does not match lets the record through, once the
			// engine has given up on it.
			in.Processors = []fluentbit.Section{{Name: "grep", Params: []fluentbit.Param{
				{Key: "exclude", Value: fluentbit.List("$" + probeField + " " + c.pattern)}}}}
		case RegexParse:
			cfg.Parsers = append(cfg.Parsers, fluentbit.Section{Name: "lp_" + c.tag, Params: []fluentbit.Param{
				{Key: "format", Value: fluentbit.String("regex")},
				{Key: "regex", Value: fluentbit.String(c.pattern)},
			}})
			in.Processors = []fluentbit.Section{{Name: "parser", Params: []fluentbit.Param{
				{Key: "key_name", Value: fluentbit.String(probeField)},
				{Key: "parser", Value: fluentbit.String("lp_" + c.tag)},
				{Key: "reserve_data", Value: fluentbit.Bool(true)},
			}}}
		}
		cfg.Inputs = append(cfg.Inputs, in)
		cfg.Outputs = append(cfg.Outputs, fluentbit.Section{Name: "file", Match: c.tag, Params: []fluentbit.Param{
			{Key: "file", Value: fluentbit.String(c.tag + ".jsonl")},
			{Key: "format", Value: fluentbit.String("plain")},
			{Key: "path", Value: fluentbit.String("/out")},
		}})
	}
	cfg.Parsers = append(cfg.Parsers, fluentbit.Section{Name: "lp_json", Params: []fluentbit.Param{{Key: "format", Value: fluentbit.String("json")}}})
	main, err := cfg.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	files[fbrun.MainConfig] = main
	dir := t.TempDir()
	p, err := fbrun.Pod{Binary: bin, Files: files, Mounts: []fbrun.Mount{{Path: "/out", HostDir: dir}}}.Start()
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	arrived := map[string]time.Duration{}
	for time.Since(start) < limit && len(arrived) < len(slow)+1 {
		for _, c := range append([]slowCase{control}, slow...) {
			if _, ok := arrived[c.tag]; ok {
				continue
			}
			if b, _ := os.ReadFile(filepath.Join(dir, c.tag+".jsonl")); len(b) > 0 {
				arrived[c.tag] = time.Since(start)
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	// Fluent Bit may still be inside a backtracking match, which no signal interrupts.
	p.Kill()
	base, ok := arrived[control.tag]
	if !ok {
		t.Fatalf("the control record never arrived:\n%s", p.Log())
	}
	t.Logf("control %q on %d characters: %s after start", control.pattern, len(control.slow), base.Round(time.Millisecond))
	for _, c := range slow {
		took, ok := arrived[c.tag]
		// RE2 answers the same question at once.
		re2 := "RE2 cannot compile it"
		if re, err := regexp.Compile(c.pattern); err == nil {
			t0 := time.Now()
			re.MatchString(c.slow)
			re2 = fmt.Sprintf("RE2 takes %s", time.Since(t0).Round(time.Microsecond))
		}
		if !ok {
			t.Logf("%s: %q on %d characters: still matching after %s, given up (%s)", c.source, c.pattern, len(c.slow), limit, re2)
			continue
		}
		if took-base < time.Second/2 {
			t.Errorf("%s: %q on %d characters took %s after the control: not slow", c.source, c.pattern, len(c.slow), (took - base).Round(time.Millisecond))
			continue
		}
		t.Logf("%s: %q on %d characters: %s after the control (%s)", c.source, c.pattern, len(c.slow), (took - base).Round(time.Millisecond), re2)
	}
}
