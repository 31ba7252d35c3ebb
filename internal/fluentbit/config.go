package fluentbit

import (
	"bytes"
	"fmt"
	"regexp"
	"strings"

	yaml "go.yaml.in/yaml/v3"
)

// Config is one Fluent Bit YAML configuration file.
type Config struct {
	Service []Param
	// Includes are further files, relative to this one, merged into the configuration.
	Includes         []string
	Parsers          []Section
	MultilineParsers []Section
	Inputs           []Section
	Filters          []Section
	Outputs          []Section
}

var keyRE = regexp.MustCompile(`^[a-z][a-z0-9_.-]*$`)

// Marshal writes the file. Every string is double-quoted, so that no value — whatever
// characters it holds — can start a new key, section or document. Literal text is
// checked once more (see Check); a failure names the section and key.
func (c Config) Marshal() ([]byte, error) {
	root := mapping()
	if len(c.Includes) > 0 {
		seq := &yaml.Node{Kind: yaml.SequenceNode}
		for _, inc := range c.Includes {
			if why := Check(inc); why != "" {
				return nil, fmt.Errorf("include %q: %s", inc, why)
			}
			seq.Content = append(seq.Content, quoted(inc))
		}
		appendPair(root, "includes", seq)
	}
	if len(c.Service) > 0 {
		svc := mapping()
		params, err := Section{Name: "service", Params: c.Service}.sortedParams()
		if err != nil {
			return nil, err
		}
		if err := addParams(svc, "service", params); err != nil {
			return nil, err
		}
		appendPair(root, "service", svc)
	}
	for _, group := range []struct {
		key      string
		sections []Section
	}{{"parsers", c.Parsers}, {"multiline_parsers", c.MultilineParsers}} {
		if len(group.sections) > 0 {
			seq, err := sequence(group.sections)
			if err != nil {
				return nil, err
			}
			appendPair(root, group.key, seq)
		}
	}
	pipeline := mapping()
	for _, group := range []struct {
		key      string
		sections []Section
	}{{"inputs", c.Inputs}, {"filters", c.Filters}, {"outputs", c.Outputs}} {
		if len(group.sections) > 0 {
			seq, err := sequence(group.sections)
			if err != nil {
				return nil, err
			}
			appendPair(pipeline, group.key, seq)
		}
	}
	if len(pipeline.Content) > 0 {
		appendPair(root, "pipeline", pipeline)
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(root); err != nil {
		return nil, fmt.Errorf("failed to encode YAML: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func sequence(sections []Section) (*yaml.Node, error) {
	seq := &yaml.Node{Kind: yaml.SequenceNode}
	for _, s := range sections {
		n, err := sectionNode(s)
		if err != nil {
			return nil, err
		}
		seq.Content = append(seq.Content, n)
	}
	return seq, nil
}

func sectionNode(s Section) (*yaml.Node, error) {
	m := mapping()
	head := []Param{{"name", String(s.Name)}}
	if s.Match != "" {
		head = append(head, Param{"match", String(s.Match)})
	}
	if s.Alias != "" {
		head = append(head, Param{"alias", String(s.Alias)})
	}
	if err := addParams(m, s.Name, head); err != nil {
		return nil, err
	}
	params, err := s.sortedParams()
	if err != nil {
		return nil, err
	}
	for _, p := range params {
		if p.Key == "name" || p.Key == "match" || p.Key == "alias" || p.Key == "processors" || p.Key == "condition" {
			return nil, fmt.Errorf("section %s: %q must not be set as a parameter", s.Name, p.Key)
		}
	}
	if err := addParams(m, s.Name, params); err != nil {
		return nil, err
	}
	if s.Condition != nil {
		n, err := conditionNode(s.Condition)
		if err != nil {
			return nil, fmt.Errorf("section %s: %w", s.Name, err)
		}
		appendPair(m, "condition", n)
	}
	if len(s.Processors) > 0 {
		seq, err := sequence(s.Processors)
		if err != nil {
			return nil, err
		}
		logs := mapping()
		appendPair(logs, "logs", seq)
		appendPair(m, "processors", logs)
	}
	return m, nil
}

func addParams(m *yaml.Node, section string, params []Param) error {
	for _, p := range params {
		if !keyRE.MatchString(p.Key) {
			return fmt.Errorf("section %s: invalid key %q", section, p.Key)
		}
		n, err := valueNode(p.Value)
		if err != nil {
			return fmt.Errorf("section %s, key %s: %w", section, p.Key, err)
		}
		appendPair(m, p.Key, n)
	}
	return nil
}

var envNameRE = regexp.MustCompile(`^[A-Z_][A-Z0-9_]*$`)

func valueNode(v Value) (*yaml.Node, error) {
	switch v.kind {
	case kindText:
		text, err := v.text()
		if err != nil {
			return nil, err
		}
		return quoted(text), nil
	case kindNumber, kindBool:
		return &yaml.Node{Kind: yaml.ScalarNode, Value: v.scalar}, nil
	case kindList:
		seq := &yaml.Node{Kind: yaml.SequenceNode}
		for _, item := range v.items {
			if item.kind != kindText {
				return nil, fmt.Errorf("list items must be text")
			}
			n, err := valueNode(item)
			if err != nil {
				return nil, err
			}
			seq.Content = append(seq.Content, n)
		}
		return seq, nil
	}
	return nil, fmt.Errorf("unknown value kind %d", v.kind)
}

// text joins the parts of a text value, checking literal pieces for anything unsafe
// and environment names for validity.
func (v Value) text() (string, error) {
	var b strings.Builder
	for _, p := range v.parts {
		if p.env != "" {
			if !envNameRE.MatchString(p.env) {
				return "", fmt.Errorf("invalid environment variable name %q", p.env)
			}
			b.WriteString("${" + p.env + "}")
			continue
		}
		if why := Check(p.literal); why != "" {
			return "", fmt.Errorf("unsafe value: %s", why)
		}
		b.WriteString(p.literal)
	}
	// Two safe pieces can still meet as "$" + "{"; only our own references may expand.
	envs := 0
	for _, p := range v.parts {
		if p.env != "" {
			envs++
		}
	}
	if strings.Count(b.String(), "${") != envs {
		return "", fmt.Errorf("unsafe value: pieces join into '${'")
	}
	return b.String(), nil
}

func mapping() *yaml.Node { return &yaml.Node{Kind: yaml.MappingNode} }

func quoted(s string) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Style: yaml.DoubleQuotedStyle, Value: s}
}

func appendPair(m *yaml.Node, key string, value *yaml.Node) {
	m.Content = append(m.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: key}, value)
}
