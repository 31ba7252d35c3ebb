package render

import (
	"regexp"
	"strings"
)

// Tags. The agent's container input tags every record kube.<namespace>.<pod>.<container>
// from the log file's name, so that choosing records by namespace, pod or container is
// an output's tag match — free, unlike a filter that reads every record. Namespaces and
// container names hold no dots, so the first and last segments are unambiguous even
// though pod names may contain dots.
const (
	containerTagPrefix = "kube."
	systemdTagPrefix   = "node.systemd."
	hostFileTagPrefix  = "node.file."
)

// match is how an output selects its records: a glob (match) or a regular expression
// over tags (match_regex). Exactly one is set.
type match struct {
	glob  string
	regex string
}

// tagMatch builds one match over several tag families, each given as a regular
// expression anchored at the start of the tag. A lone family that is a plain prefix
// becomes the cheaper glob.
func tagMatch(families []tagFamily) match {
	switch len(families) {
	case 0:
		return match{}
	case 1:
		if families[0].prefix != "" {
			return match{glob: families[0].prefix + "*"}
		}
		return match{regex: "^" + families[0].regex}
	}
	rs := make([]string, len(families))
	for i, f := range families {
		rs[i] = f.regex
	}
	return match{regex: "^(?:" + strings.Join(rs, "|") + ")"}
}

// tagFamily is a set of tags: a regex, and the literal prefix it stands for when it
// is no more than that.
type tagFamily struct {
	regex  string
	prefix string
}

func prefixFamily(prefix string) tagFamily {
	return tagFamily{regex: regexp.QuoteMeta(prefix), prefix: prefix}
}

// namespaceFamily is the tags of the containers of a set of namespaces.
func namespaceFamily(ns namespaceSet) tagFamily {
	q := make([]string, 0, max(len(ns.Only), len(ns.AllExcept)))
	if ns.Only != nil {
		for _, n := range ns.Only {
			q = append(q, regexp.QuoteMeta(n))
		}
		if len(ns.Only) == 1 {
			return prefixFamily(containerTagPrefix + ns.Only[0] + ".")
		}
		return tagFamily{regex: regexp.QuoteMeta(containerTagPrefix) + "(?:" + strings.Join(q, "|") + `)\.`}
	}
	for _, n := range ns.AllExcept {
		q = append(q, regexp.QuoteMeta(n))
	}
	if len(q) == 0 {
		return prefixFamily(containerTagPrefix)
	}
	// Fluent Bit matches with Onigmo, which supports the negative lookahead.
	return tagFamily{regex: regexp.QuoteMeta(containerTagPrefix) + "(?!(?:" + strings.Join(q, "|") + `)\.)`}
}

// tagSafe reports whether a name can appear in a tag as it is.
var tagSafe = regexp.MustCompile(`^[-A-Za-z0-9_.@:]+$`).MatchString
