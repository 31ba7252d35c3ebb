package fluentbit

import (
	"strings"
	"testing"

	yaml "go.yaml.in/yaml/v3"
)

func TestMarshalOrdersKeysAndQuotesStrings(t *testing.T) {
	out := Section{Name: "http", Match: "kube.team-a.*", Alias: "lp_lpl_team-a_web_lout_api"}
	out.Set("uri", String("/ingest"))
	out.Set("port", Int(443))
	out.Set("tls", Bool(true))
	out.Set("http_passwd", Env("LP_TEAM_A_API_PASSWORD"))
	out.Set("header", List("X-Team team-a", "X-Env prod"))
	out.Set("http_user", String("")) // empty: skipped
	grep := Section{Name: "grep", Condition: &Condition{Op: "or", Rules: []Rule{
		{Field: "$kubernetes['namespace_name']", Op: OpIn, Values: []string{"team-a", "team-b"}},
		{Field: "$stream", Op: OpEq, Value: "stderr"},
	}}}
	grep.Set("exclude", String("log /healthz"))
	out.Processors = []Section{grep}

	cfg := Config{
		Service: []Param{{"http_server", Bool(true)}, {"flush", Int(1)}},
		Outputs: []Section{out},
	}
	got, err := cfg.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	want := `service:
  flush: 1
  http_server: on
pipeline:
  outputs:
    - name: "http"
      match: "kube.team-a.*"
      alias: "lp_lpl_team-a_web_lout_api"
      header:
        - "X-Team team-a"
        - "X-Env prod"
      http_passwd: "${LP_TEAM_A_API_PASSWORD}"
      port: 443
      tls: on
      uri: "/ingest"
      processors:
        logs:
          - name: "grep"
            exclude: "log /healthz"
            condition:
              op: "or"
              rules:
                - field: "$kubernetes['namespace_name']"
                  op: "in"
                  value:
                    - "team-a"
                    - "team-b"
                - field: "$stream"
                  op: "eq"
                  value: "stderr"
`
	if string(got) != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
}

func TestMarshalRefusesUnsafeOrAmbiguousInput(t *testing.T) {
	cases := []struct {
		name    string
		section Section
		wantErr string
	}{
		{"newline", Section{Name: "stdout", Params: []Param{{"format", String("json\n[OUTPUT]")}}}, "line break"},
		{"env expansion in literal", Section{Name: "http", Params: []Param{{"uri", String("/${AWS_SECRET_ACCESS_KEY}")}}}, "'${'"},
		{"env expansion in a list", Section{Name: "http", Params: []Param{{"header", List("A ${B}")}}}, "'${'"},
		{"pieces that join into an expansion", Section{Name: "http", Params: []Param{{"header", ValueList(Concat(String("X $"), String("{HOME}")))}}}, "join into"},
		{"bad env name", Section{Name: "http", Params: []Param{{"http_passwd", Env("A}${B")}}}, "environment variable name"},
		{"duplicate key", Section{Name: "http", Params: []Param{{"port", Int(1)}, {"port", Int(2)}}}, "set twice"},
		{"reserved key", Section{Name: "http", Params: []Param{{"match", String("*")}}}, "must not be set"},
		{"key with a space", Section{Name: "http", Params: []Param{{"a b", String("x")}}}, "invalid key"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Config{Outputs: []Section{tc.section}}.Marshal()
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err = %v, want it to mention %q", err, tc.wantErr)
			}
		})
	}
}

// Whatever text a user manages to put in a value, the file keeps its shape: one
// output with exactly the keys the renderer set, and the value reads back unchanged.
func FuzzValuesNeverChangeStructure(f *testing.F) {
	for _, seed := range []string{"plain", "a: b", "- x", "[OUTPUT]", "@INCLUDE /etc/passwd", "\"quoted\"",
		"key: value\nname: evil", "${HOME}", "$", "{a: 1}", "'single'", "#comment", "&anchor *ref", "\x00", "…ü"} {
		f.Add(seed, seed)
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		if a == "" {
			return // empty values are left out by design
		}
		s := Section{Name: "http", Match: a}
		s.Set("uri", String(a))
		s.Set("header", List(a, b))
		data, err := Config{Outputs: []Section{s}}.Marshal()
		if err != nil {
			if Check(a) == "" && Check(b) == "" {
				t.Fatalf("refused safe values %q, %q: %v", a, b, err)
			}
			return
		}
		var doc struct {
			Pipeline struct {
				Outputs []map[string]any `yaml:"outputs"`
			} `yaml:"pipeline"`
		}
		if err := yaml.Unmarshal(data, &doc); err != nil {
			t.Fatalf("output does not parse: %v\n%s", err, data)
		}
		if len(doc.Pipeline.Outputs) != 1 {
			t.Fatalf("want 1 output, got %d:\n%s", len(doc.Pipeline.Outputs), data)
		}
		o := doc.Pipeline.Outputs[0]
		if len(o) != 4 || o["name"] != "http" || o["uri"] != a || o["match"] != a {
			t.Fatalf("structure changed for %q:\n%s", a, data)
		}
		if h, ok := o["header"].([]any); !ok || len(h) != 2 || h[0] != a || h[1] != b {
			t.Fatalf("header list changed for %q, %q:\n%s", a, b, data)
		}
	})
}

// Pre-encoded outputs assemble into exactly what Marshal writes.
func TestMarshalWithOutputsEqualsMarshal(t *testing.T) {
	a := Section{Name: "stdout", Match: "*"}
	a.Set("format", String("json_lines"))
	b := Section{Name: "http", Match: "kube.*", Processors: []Section{{Name: "grep", Params: []Param{{"regex", List("log x")}}}}}
	b.Set("header", List("A b", "C d"))
	for _, cfg := range []Config{
		{Service: []Param{{"flush", Int(1)}}, Inputs: []Section{{Name: "dummy"}}},
		{Service: []Param{{"flush", Int(1)}}},
	} {
		whole := cfg
		whole.Outputs = []Section{a, b}
		want, err := whole.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		ea, _ := EncodeOutput(a)
		eb, _ := EncodeOutput(b)
		got, err := cfg.MarshalWithOutputs([][]byte{ea, eb})
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != string(want) {
			t.Errorf("got:\n%s\nwant:\n%s", got, want)
		}
	}
}

func TestSharedProcessorsEqualInlineOnes(t *testing.T) {
	procs := []Section{{Name: "grep", Params: []Param{{"regex", List("log x")}}}, {Name: "throttle", Params: []Param{{"rate", Int(5)}}}}
	inline := Section{Name: "stdout", Match: "*", Processors: procs}
	want, err := EncodeOutput(inline)
	if err != nil {
		t.Fatal(err)
	}
	shared, err := EncodeProcessors(procs)
	if err != nil {
		t.Fatal(err)
	}
	got, err := EncodeOutput(Section{Name: "stdout", Match: "*", SharedProcessors: shared})
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
	var e Encoder
	head, err := e.Head(Section{Name: "stdout", Match: "*", SharedProcessors: shared})
	if err != nil {
		t.Fatal(err)
	}
	if joined := string(head) + string(shared.Bytes()); joined != string(want) {
		t.Errorf("head and shared processors:\n%s\nwant:\n%s", joined, want)
	}
}
