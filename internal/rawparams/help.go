package rawparams

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// Sections of `fluent-bit -o <plugin> -h` that list properties, one per line at the
// start of a line, its description indented below it.
var propertySections = map[string]bool{"GLOBAL_OPTIONS": true, "OPTIONS": true, "NETWORKING": true, "NETWORK_TLS": true}

var (
	ansiRE   = regexp.MustCompile("\x1b\\[[0-9;]*m")
	headerRE = regexp.MustCompile(`^[A-Z][A-Z_]*$`)
	keyRE    = regexp.MustCompile(`^[a-z0-9][a-z0-9_.]*$`)
)

// ParseHelp reads the keys that `fluent-bit -o <plugin> -h` prints, sorted and once
// each. A key that stands for a family (rdkafka.) keeps its trailing dot.
func ParseHelp(help string) ([]string, error) {
	var keys []string
	section := ""
	for _, line := range strings.Split(ansiRE.ReplaceAllString(help, ""), "\n") {
		line = strings.TrimRight(line, " \r")
		switch {
		case line == "" || line[0] == ' ':
			continue // a description, or the space between properties
		case headerRE.MatchString(line):
			section = line
			continue
		case !propertySections[section]:
			continue
		}
		key := strings.Fields(line)[0]
		if !keyRE.MatchString(key) {
			return nil, fmt.Errorf("section %s: %q does not start with a property name", section, line)
		}
		keys = append(keys, key)
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("no properties in the help text")
	}
	slices.Sort(keys)
	return slices.Compact(keys), nil
}
