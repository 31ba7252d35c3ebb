package validation

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// fbVerdict is what the real Fluent Bit does with a pattern Regex refuses; each is
// proven in regex_fluentbit_test.go.
type fbVerdict int

const (
	// fbRefuses: Fluent Bit does not start; fbSays is in its log.
	fbRefuses fbVerdict = iota + 1
	// fbDiffers: Fluent Bit starts, and on differ.input matches (or not) against what
	// a PCRE or RE2 reading of the pattern says.
	fbDiffers
	// fbSlow: Fluent Bit starts, and backtracks for a long time on slow.
	fbSlow
)

// regexCase is a pattern from a real configuration with what Regex says about it, and
// what Fluent Bit does with it.
type regexCase struct {
	source  string // where the pattern comes from
	pattern string
	use     RegexUse

	// Accepted patterns: values Fluent Bit must match and must not, and for a parse
	// regex the fields it makes of match[0].
	match, noMatch []string
	fields         map[string]string

	// Refused patterns: a part of the error, and what Fluent Bit does instead.
	refused string
	fb      fbVerdict
	fbSays  string  // fbRefuses
	differ  *differ // fbDiffers
	slow    string  // fbSlow: a value that takes long
}

// differ is a value on which Fluent Bit's reading of a pattern and the usual one part.
type differ struct {
	input  string
	onigmo bool // whether Fluent Bit matches
	// reading is the usual reading where it is PCRE's; empty, RE2's reading of the
	// pattern (Go's regexp) must differ from Fluent Bit's.
	reading string
}

// Errors Fluent Bit 5.1.1 logs for a regex Onigmo refuses.
const (
	fbGrepError  = "could not compile regex pattern"
	fbParseError = "Invalid regex pattern"
)

var regexCases = []regexCase{
	// Accepted: grep rules.
	{source: "config/samples/firelens-routing.yaml: drop health checks", pattern: `GET /(healthz|readyz|livez|ping)\b`,
		match:   []string{`10.1.2.3 - - [01/May/2024:12:00:00 +0000] "GET /healthz HTTP/1.1" 200 2`, `GET /readyz?verbose=1`, `GET /ping`},
		noMatch: []string{`GET /healthzz`, `POST /healthz`, `GET /api/ping`}},
	{source: "config/samples/firelens-routing.yaml: errors to CloudWatch", pattern: `^(?i)(error|fatal)$`,
		match: []string{"ERROR", "fatal", "Error"}, noMatch: []string{"error: disk full", "warning", "FATALITY"}},
	{source: "config/samples/eks-opensearch-sigv4.yaml: drop debug", pattern: `^debug$`,
		match: []string{"debug"}, noMatch: []string{"debugging", "x debug"}},
	{source: "issue 18: (?s)ERROR.*Exception, written for Fluent Bit", pattern: `ERROR[\s\S]*Exception`,
		match: []string{"ERROR in main\njava.lang.IllegalStateException: x", "ERROR IOException"}, noMatch: []string{"ERROR only", "Exception before ERROR"}},
	{source: "grep: error with an exception on the same line", pattern: `ERROR.*Exception`,
		match: []string{"2024 ERROR c.f.Svc - NullPointerException"}, noMatch: []string{"ERROR\nException", "ERROR"}},
	{source: "Fluent Bit multiline docs: Java stack frame", pattern: `^\s+at\s`,
		match: []string{"\tat com.example.Foo.bar(Foo.java:42)", "    at x"}, noMatch: []string{"at the start", "that"}},
	{source: "Java exception start", pattern: `^[A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*)+(?:Exception|Error)\b`,
		match: []string{"java.lang.NullPointerException: boom", "com.acme.SomeError"}, noMatch: []string{"NullPointerException", `Exception in thread "main"`}},
	{source: "Java cause line", pattern: `^Caused by: [\w.$]+`,
		match: []string{"Caused by: java.io.IOException: x"}, noMatch: []string{"caused by: x", " Caused by: x"}},
	{source: "IPv4 address", pattern: `\b(?:\d{1,3}\.){3}\d{1,3}\b`,
		match: []string{"client 10.0.12.7 connected"}, noMatch: []string{"version 1.2.3", "10.0.12"}},
	{source: "UUID (request ids)", pattern: `\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b`,
		match: []string{"req=123e4567-e89b-12d3-a456-426614174000 done"}, noMatch: []string{"123e4567-e89b-12d3-a456", "123E4567-E89B-12D3-A456-426614174000"}},
	{source: "ISO 8601 timestamp at the start", pattern: `^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})`,
		match: []string{"2024-05-01T12:00:00.123Z start", "2024-05-01T12:00:00+02:00 x"}, noMatch: []string{"2024-05-01 12:00:00", "x 2024-05-01T12:00:00Z"}},
	{source: "JSON logs: drop debug and trace", pattern: `"level":\s*"(?:debug|trace)"`,
		match: []string{`{"level":"debug","msg":"x"}`, `{"level": "trace"}`}, noMatch: []string{`{"level":"info"}`, `{"msg":"level debug"}`}},
	{source: "logfmt level", pattern: `\blevel=(?:debug|info)\b`,
		match: []string{"ts=1 level=info msg=ok"}, noMatch: []string{"level=information", "loglevel=info"}},
	{source: "bracketed level", pattern: `^\[(?:DEBUG|TRACE)\]`,
		match: []string{"[DEBUG] x"}, noMatch: []string{"DEBUG x", " [DEBUG]"}},
	{source: "Log4Shell probes", pattern: `\$\{jndi:`,
		match: []string{"user-agent: ${jndi:ldap://evil/a}"}, noMatch: []string{"$jndi", "{jndi:"}},
	{source: "look-arounds: a number that is not part of a longer one", pattern: `(?<!\d)\d{3}-\d{2}-\d{4}(?!\d)`,
		match: []string{"ssn 123-45-6789."}, noMatch: []string{"1123-45-67890"}},
	{source: "everything but health checks, in one include rule", pattern: `^(?!.*\b(?:healthz|readyz)\b).*$`,
		match: []string{"GET /api/orders"}, noMatch: []string{"GET /healthz"}},
	{source: "timeouts", pattern: `\btimeout\b|\bdeadline exceeded\b`,
		match: []string{"rpc error: context deadline exceeded", "read timeout"}, noMatch: []string{"timeouts=3"}},
	{source: "nginx error log levels", pattern: `^\d{4}/\d{2}/\d{2} \d{2}:\d{2}:\d{2} \[(?:error|crit|alert|emerg)\]`,
		match: []string{"2024/05/01 12:00:00 [error] 7#7: *1 open() failed"}, noMatch: []string{"2024/05/01 12:00:00 [warn] 7#7: x"}},
	{source: "access log: 4xx and 5xx", pattern: `" [45]\d{2} `,
		match: []string{`"GET / HTTP/1.1" 503 12`}, noMatch: []string{`"GET / HTTP/1.1" 200 12`}},
	{source: "non-ASCII text", pattern: `[^\x00-\x7F]`,
		match: []string{"café"}, noMatch: []string{"cafe"}},
	{source: "secrets in logs", pattern: `(?i)\b(?:password|passwd|secret)=\S+`,
		match: []string{"login user=a PASSWORD=hunter2"}, noMatch: []string{"password reset", "secret_santa"}},
	{source: "namespaces to leave out (fluent-operator style)", pattern: `^kube-(?:system|public|node-lease)$`,
		match: []string{"kube-system"}, noMatch: []string{"kube-systems", "my-kube-system"}},
	{source: "Kubernetes events: OOM kills (\\b counts é as a word character)", pattern: `\bOOMKilled\b`,
		match: []string{"reason=OOMKilled"}, noMatch: []string{"OOMKilledX", "éOOMKilled"}},
	{source: "^ matches at every line of a joined record", pattern: `^ERROR `,
		match: []string{"started\nERROR failed"}, noMatch: []string{"xERROR "}},
	{source: "case-insensitive part", pattern: `(?i:warn(?:ing)?)\b`,
		match: []string{"WARNING: x", "Warn x"}, noMatch: []string{"warned"}},
	{source: "possessive and atomic", pattern: `^(?>\d+)\.\d*+ms$`,
		match: []string{"12.5ms", "7.ms"}, noMatch: []string{"12ms"}},
	{source: "Unicode script", pattern: `\p{Han}+`,
		match: []string{"错误: 连接失败"}, noMatch: []string{"error"}},
	{source: "a character by code point", pattern: `\x{2192}`,
		match: []string{"a → b"}, noMatch: []string{"a -> b"}},
	{source: "lazy", pattern: `"msg":"(.*?)"`,
		match: []string{`{"msg":"a","x":"b"}`}, noMatch: []string{`{"msg":1}`}},
	{source: "a path with a leading slash, escaped", pattern: `\/api/v1/`,
		match: []string{"GET /api/v1/orders"}, noMatch: []string{"GET api/v1x"}},

	// Accepted: parse filters.
	{source: "Fluent Bit parsers.conf: cri", use: RegexParse, pattern: `^(?<time>[^ ]+) (?<stream>stdout|stderr) (?<logtag>[^ ]*) (?<log>.*)$`,
		match:   []string{"2024-05-01T12:00:00.123456789Z stdout F hello world"},
		fields:  map[string]string{"time": "2024-05-01T12:00:00.123456789Z", "stream": "stdout", "logtag": "F", "log": "hello world"},
		noMatch: []string{"hello", "2024-05-01T12:00:00Z stdin F x"}},
	{source: "config/samples/tenant-file-sidecar.yaml", use: RegexParse, pattern: `^(?<time>[^ ]+) (?<level>[A-Z]+) (?<msg>.*)$`,
		match:  []string{"2024-05-01T12:00:00Z INFO started"},
		fields: map[string]string{"time": "2024-05-01T12:00:00Z", "level": "INFO", "msg": "started"}, noMatch: []string{"started"}},
	{source: "Fluent Bit parsers.conf: apache2", use: RegexParse,
		pattern: `^(?<host>[^ ]*) [^ ]* (?<user>[^ ]*) \[(?<time>[^\]]*)\] "(?<method>\S+)(?: +(?<path>[^ ]*) +\S*)?" (?<code>[^ ]*) (?<size>[^ ]*)(?: "(?<referer>[^\"]*)" "(?<agent>.*)")?$`,
		match:   []string{`192.168.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326 "http://www.example.com/start.html" "Mozilla/4.08 [en] (Win98; I ;Nav)"`},
		fields: map[string]string{"host": "192.168.0.1", "user": "frank", "time": "10/Oct/2000:13:55:36 -0700", "method": "GET", "path": "/apache_pb.gif",
			"code": "200", "size": "2326", "referer": "http://www.example.com/start.html", "agent": "Mozilla/4.08 [en] (Win98; I ;Nav)"},
		noMatch: []string{"not an access log"}},
	{source: "Fluent Bit parsers.conf: apache_error (a group that took no part in the match makes no field)", use: RegexParse,
		pattern: `^\[[^ ]* (?<time>[^\]]*)\] \[(?<level>[^\]]*)\](?: \[pid (?<pid>[^\]]*)\])?( \[client (?<client>[^\]]*)\])? (?<message>.*)$`,
		match:   []string{"[Wed Oct 11 14:32:52 2000] [error] [client 127.0.0.1] client denied by server configuration"},
		fields:  map[string]string{"time": "Oct 11 14:32:52 2000", "level": "error", "client": "127.0.0.1", "message": "client denied by server configuration"},
		noMatch: []string{"[error] x"}},
	{source: "Fluent Bit parsers.conf: syslog-rfc5424", use: RegexParse,
		pattern: `^\<(?<pri>[0-9]{1,5})\>1 (?<time>[^ ]+) (?<host>[^ ]+) (?<ident>[^ ]+) (?<pid>[-0-9]+) (?<msgid>[^ ]+) (?<extradata>(\[(.*?)\]|-)) (?<message>.+)$`,
		match:   []string{"<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - 'su root' failed for lonvick on /dev/pts/8"},
		fields:  map[string]string{"pri": "34", "time": "2003-10-11T22:14:15.003Z", "host": "mymachine.example.com", "ident": "su", "pid": "-", "msgid": "ID47", "extradata": "-", "message": "'su root' failed for lonvick on /dev/pts/8"},
		noMatch: []string{"<34>Oct 11 22:14:15 su: x"}},
	{source: "Fluent Bit parsers.conf: syslog-rfc3164-local", use: RegexParse,
		pattern: `^\<(?<pri>[0-9]+)\>(?<time>[^ ]* {1,2}[^ ]* [^ ]*) (?<ident>[a-zA-Z0-9_\/\.\-]*)(?:\[(?<pid>[0-9]+)\])?(?:[^\:]*\:)? *(?<message>.*)$`,
		match:   []string{"<34>Oct 11 22:14:15 su[123]: 'su root' failed for lonvick"},
		fields:  map[string]string{"pri": "34", "time": "Oct 11 22:14:15", "ident": "su", "pid": "123", "message": "'su root' failed for lonvick"},
		noMatch: []string{"Oct 11 22:14:15 su: x"}},
	{source: "Fluent Bit parsers.conf: docker-daemon", use: RegexParse, pattern: `time="(?<time>[^ ]*)" level=(?<level>[^ ]*) msg="(?<msg>[^ ].*)"`,
		match:   []string{`time="2024-05-01T12:00:00.000000000Z" level=info msg="Loading containers: done."`},
		fields:  map[string]string{"time": "2024-05-01T12:00:00.000000000Z", "level": "info", "msg": "Loading containers: done."},
		noMatch: []string{`level=info msg="x"`}},
	{source: "Kubernetes components (klog)", use: RegexParse,
		pattern: `^(?<severity>[IWEF])(?<time>\d{4} \d{2}:\d{2}:\d{2}\.\d{6})\s+(?<pid>\d+) (?<source>[^ \]]+)\] (?<message>.*)$`,
		match:   []string{`I0501 12:00:00.123456       1 main.go:42] "Starting" version="v1.30"`},
		fields:  map[string]string{"severity": "I", "time": "0501 12:00:00.123456", "pid": "1", "source": "main.go:42", "message": `"Starting" version="v1.30"`},
		noMatch: []string{"X0501 12:00:00.123456 1 main.go:42] x"}},
	{source: "Spring Boot", use: RegexParse,
		pattern: `^(?<time>\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{3})\s+(?<level>[A-Z]+) (?<pid>\d+) --- \[(?<thread>[^\]]+)\] (?<logger>[^ ]+)\s+: (?<message>.*)$`,
		match:   []string{"2024-05-01 12:00:00.123  INFO 1 --- [           main] o.s.b.StartupInfoLogger                  : Starting App v1.0"},
		fields:  map[string]string{"time": "2024-05-01 12:00:00.123", "level": "INFO", "pid": "1", "thread": "           main", "logger": "o.s.b.StartupInfoLogger", "message": "Starting App v1.0"},
		noMatch: []string{"Starting App"}},
	{source: "Fluent Bit regex parser docs", use: RegexParse, pattern: `^(?<INT>[^ ]+) (?<FLOAT>[^ ]+) (?<BOOL>[^ ]+) (?<STRING>.+)$`,
		match:  []string{"1 0.5 true This is an example"},
		fields: map[string]string{"INT": "1", "FLOAT": "0.5", "BOOL": "true", "STRING": "This is an example"}, noMatch: []string{"1 0.5"}},
	{source: "logfmt: one field", use: RegexParse, pattern: `\blevel=(?<level>\w+)`,
		match: []string{"ts=1 level=warn msg=x"}, fields: map[string]string{"level": "warn"}, noMatch: []string{"loglevel=warn"}},

	// Refused, and Fluent Bit does not start.
	{source: "issue 18: Python named group", use: RegexParse, pattern: `^(?P<level>\w+) (?P<msg>.*)$`,
		refused: "Python syntax: write (?<name>…)", fb: fbRefuses, fbSays: fbParseError},
	{source: "issue 18: group name with -", use: RegexParse, pattern: `^(?<log-level>\w+) `,
		refused: "not a valid field name", fb: fbRefuses, fbSays: fbParseError},
	{source: "issue 18: group name with a leading digit", use: RegexParse, pattern: `^(?<1st>\w+) `,
		refused: "not a valid field name", fb: fbRefuses, fbSays: fbParseError},
	{source: "issue 18: (?s)", pattern: `(?s)ERROR.*Exception`,
		refused: "(?s) is not Ruby syntax", fb: fbRefuses, fbSays: fbGrepError},
	{source: "issue 18: (?U)", pattern: `(?U)ERROR.*Exception`,
		refused: "(?U) is not Ruby syntax", fb: fbRefuses, fbSays: fbGrepError},
	{source: "issue 18: unbalanced (", pattern: `GET /(healthz|readyz`,
		refused: "( without closing )", fb: fbRefuses, fbSays: fbGrepError},
	{source: "unbalanced [", pattern: `level=[a-z`,
		refused: "[ without closing ]", fb: fbRefuses, fbSays: fbGrepError},
	{source: "look-behind of variable length", pattern: `(?<=user=\w+) failed`,
		refused: "fixed length", fb: fbRefuses, fbSays: fbGrepError},
	{source: "group that captures in a negative look-behind", pattern: `(?<!(foo))bar`,
		refused: "cannot hold a group that captures", fb: fbRefuses, fbSays: fbGrepError},
	{source: `\z in a look-behind`, pattern: `(?<=done\z)x`,
		refused: `\z cannot be inside a look-behind`, fb: fbRefuses, fbSays: fbGrepError},
	{source: "backreference to a group that does not exist", pattern: `(a)\2`,
		refused: "backreferences", fb: fbRefuses, fbSays: fbGrepError},
	{source: "reversed range", pattern: `[z-a]`,
		refused: "is reversed", fb: fbRefuses, fbSays: fbGrepError},
	{source: "reversed count", pattern: `x{3,2}`,
		refused: "upper bound is below", fb: fbRefuses, fbSays: fbGrepError},
	{source: "a file glob taken for a regex", pattern: `*.log`,
		refused: "nothing to repeat", fb: fbRefuses, fbSays: fbGrepError},
	{source: "property name Onigmo does not know", pattern: `\p{IsLatin}`,
		refused: "not a supported property", fb: fbRefuses, fbSays: fbGrepError},
	{source: "Python backreference by name", pattern: `(?P<q>['"]).*(?P=q)`,
		refused: "Python syntax", fb: fbRefuses, fbSays: fbGrepError},
	{source: "Windows path with a trailing backslash", pattern: `C:\\logs\`,
		refused: "ends with a lone \\", fb: fbRefuses, fbSays: fbGrepError},
	{source: "unterminated inline flag", pattern: `(?i`,
		refused: "not a group", fb: fbRefuses, fbSays: fbGrepError},
	{source: "empty class", pattern: `x[]`,
		refused: "literal ]", fb: fbRefuses, fbSays: fbGrepError},

	// Refused: Fluent Bit starts but reads the pattern unlike PCRE or RE2.
	{source: "issue 18: (?m) is dot-all in Ruby", pattern: `(?m)^BEGIN.*END$`,
		refused: "(?m) makes . match line breaks", fb: fbDiffers, differ: &differ{input: "BEGIN\nEND", onigmo: true}},
	{source: `\h is a hex digit in Ruby`, pattern: `^\h+$`,
		refused: `\h is a hex digit`, fb: fbDiffers, differ: &differ{input: "cafe", onigmo: true, reading: `PCRE: \h is horizontal space, so "cafe" does not match`}},
	{source: `\xE9 is a byte in Onigmo`, pattern: `caf\xE9`,
		refused: "is one byte", fb: fbDiffers, differ: &differ{input: "café", onigmo: false}},
	{source: "{,n} is {0,n} in Ruby", pattern: `^x{,3}y$`,
		refused: "means {0,3}", fb: fbDiffers, differ: &differ{input: "xxy", onigmo: true}},
	{source: "{n}? is optional in Ruby", pattern: `^ab{2}?c$`,
		refused: "optional", fb: fbDiffers, differ: &differ{input: "ac", onigmo: true}},
	{source: "{n,m}+ repeats in Ruby", pattern: `^ab{1,2}+c$`,
		refused: "repeats the repetition", fb: fbDiffers, differ: &differ{input: "abbbbc", onigmo: true, reading: `PCRE: b{1,2}+ is possessive, so at most two b match`}},
	{source: "(?i) after other items swallows later alternatives", pattern: `^foo(?i)bar|baz`,
		refused: "reaching to the end of the enclosing one", fb: fbDiffers, differ: &differ{input: "BAZ", onigmo: false}},
	{source: "&& in a class is an intersection in Ruby", pattern: `^[a-z&&[^aeiou]]+$`,
		refused: "&& inside a class", fb: fbDiffers, differ: &differ{input: "xyz", onigmo: true}},
	{source: "POSIX class is Unicode in Ruby", pattern: `^[[:alpha:]]+$`,
		refused: "POSIX classes", fb: fbDiffers, differ: &differ{input: "café", onigmo: true}},
	{source: `\pL without braces is the letters pL in Ruby`, pattern: `\pL`,
		refused: "read as a letter", fb: fbDiffers, differ: &differ{input: "x", onigmo: false}},
	{source: "logging-operator/Fluentd style /pattern/", pattern: `/^5\d\d$/`,
		refused: "Ruby regex literal", fb: fbDiffers, differ: &differ{input: "503", onigmo: true}},
	{source: "a Ruby or JavaScript literal with a flag", pattern: `/error/i`,
		refused: "applies i as flags", fb: fbDiffers, differ: &differ{input: "ERROR", onigmo: true}},
	{source: "a path that starts and ends with /", pattern: `/api/v1/`,
		refused: "removes the slashes", fb: fbDiffers, differ: &differ{input: "GET api/v1x", onigmo: true}},
	{source: "(?i) and non-ASCII letters in a class", pattern: `(?i)^[à-ÿ]+$`,
		refused: "non-ASCII letters in a class", fb: fbDiffers, differ: &differ{input: "ÉÀ", onigmo: false}},
	{source: `(?i) and \p{…}`, pattern: `(?i)^\p{Lu}+$`,
		refused: "only for ASCII letters", fb: fbDiffers, differ: &differ{input: "été", onigmo: false}},
	{source: `\v is the vertical tab alone in Ruby`, pattern: `a\vb`,
		refused: `\v is the vertical tab alone`, fb: fbDiffers, differ: &differ{input: "a\nb", onigmo: false, reading: `PCRE: \v is any vertical space, so a line break matches`}},

	// Refused: Fluent Bit starts and backtracks for seconds.
	{source: "issue 18: nested quantifier", pattern: `^(a+)+$`,
		refused: "exponentially many ways", fb: fbSlow, slow: strings.Repeat("a", 27) + "!"},
	{source: "words with optional spaces (a classic)", pattern: `^(\w+\s?)+$`,
		refused: "exponentially many ways", fb: fbSlow, slow: strings.Repeat("a", 26) + "!"},
	{source: "Fluent Bit parsers.conf: apache (cubic)", use: RegexParse,
		pattern: `^(?<host>[^ ]*) [^ ]* (?<user>[^ ]*) \[(?<time>[^\]]*)\] "(?<method>\S+)(?: +(?<path>[^\"]*?)(?: +\S*)?)?" (?<code>[^ ]*) (?<size>[^ ]*)(?: "(?<referer>[^\"]*)" "(?<agent>[^\"]*)")?$`,
		refused: "to the power 3", fb: fbSlow, slow: `1.2.3.4 - - [x] "GET` + strings.Repeat(" ", 1000) + "x"},
}

func TestRegexCases(t *testing.T) {
	if len(regexCases) < 40 {
		t.Fatalf("the table has %d patterns; it should hold at least 40", len(regexCases))
	}
	for _, c := range regexCases {
		t.Run(c.source, func(t *testing.T) {
			err := Regex(c.pattern, c.use)
			if c.refused == "" {
				if err != nil {
					t.Fatalf("Regex(%q) = %v, want nil", c.pattern, err)
				}
				if len(c.match) == 0 || len(c.noMatch) == 0 {
					t.Errorf("an accepted case needs values that match and values that do not")
				}
				if c.use == RegexParse && c.fields == nil {
					t.Errorf("an accepted parse case needs the fields of its first match")
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.refused) {
				t.Fatalf("Regex(%q) = %v, want an error with %q", c.pattern, err, c.refused)
			}
			switch {
			case c.fb == fbRefuses && c.fbSays == "",
				c.fb == fbDiffers && c.differ == nil,
				c.fb == fbSlow && c.slow == "",
				c.fb == 0:
				t.Errorf("a refused case needs what Fluent Bit does with it")
			}
		})
	}
}

// The table's expectations hold for the tree Regex reads (in RE2, with Onigmo's
// meaning: regex_translate_test.go), so that a mistake in the table shows here before
// Fluent Bit runs; and where Go's regexp compiles the pattern as written, it agrees on
// one-line ASCII values: the accepted dialect reads as RE2 reads it.
func TestRegexCasesMatchAsWritten(t *testing.T) {
	for _, c := range regexCases {
		if c.refused != "" {
			continue
		}
		root, _, err := rxParse(c.pattern)
		if err != nil {
			t.Fatal(err)
		}
		tr, ok := rxToRE2(root)
		var model *regexp.Regexp
		if ok {
			model = regexp.MustCompile(tr)
		}
		re2, re2Err := regexp.Compile(c.pattern)
		for _, in := range append(append([]string{}, c.match...), c.noMatch...) {
			want := slicesContains(c.match, in)
			// RE2 has no word boundary that counts é as a word character, as Onigmo does.
			exact := !strings.Contains(c.pattern, `\b`) || utf8.RuneCountInString(in) == len(in)
			if model != nil && exact && model.MatchString(in) != want {
				t.Errorf("%s: %q on %q: the tree says %v, the table %v", c.source, c.pattern, in, !want, want)
			}
			if re2Err == nil && asciiLine(in) && re2.MatchString(in) != want {
				t.Errorf("%s: %q on %q: RE2 reads %v, the table (Fluent Bit) %v", c.source, c.pattern, in, !want, want)
			}
		}
		if c.fields != nil && model != nil {
			// Fluent Bit makes a field of every named group that took part in the match.
			m := model.FindStringSubmatchIndex(c.match[0])
			got := map[string]string{}
			for i, name := range model.SubexpNames() {
				if name != "" && m[2*i] >= 0 {
					got[name] = c.match[0][m[2*i]:m[2*i+1]]
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(c.fields) {
				t.Errorf("%s: fields %v, the table says %v", c.source, got, c.fields)
			}
		}
	}
}

func slicesContains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// asciiLine reports a value on which Onigmo and RE2 agree for accepted patterns: one
// line of ASCII without the vertical tab (see Regex, Remaining differences).
func asciiLine(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 || s[i] == '\n' || s[i] == '\v' {
			return false
		}
	}
	return true
}

// Each refusal says where and what to write instead; the first problem wins.
func TestRegexErrors(t *testing.T) {
	for _, c := range []struct {
		pattern string
		use     RegexUse
		pos     int
		want    string
	}{
		{"", RegexMatch, 0, "empty"},
		{strings.Repeat("a", MaxRegexLength+1), RegexMatch, 0, "more than 1024"},
		{"a\xffb", RegexMatch, 0, "not valid UTF-8"},
		{"^${HOSTNAME}$", RegexMatch, 2, "environment variable"},
		{"a\tb", RegexMatch, 2, `control character U+0009: write it as \t`},
		{"a\u200bb", RegexMatch, 2, `invisible character U+200B: write it as \x{200B}`},
		{"/foo/", RegexMatch, 1, "removes the slashes;"},
		{"/foo/mi", RegexMatch, 1, "applies mi as flags"},
		{"/api/health", RegexMatch, 0, ""}, // one slash after the first: literal
		{"/", RegexMatch, 0, ""},
		{"/a/o", RegexMatch, 0, ""}, // 'o' alone is no flag: Fluent Bit keeps it
		{"(?P<level>x)", RegexParse, 1, "(?P<name>…) is Python syntax: write (?<name>…)"},
		{"ab(?s)c", RegexMatch, 3, "write [\\s\\S]"},
		{"x(?m)", RegexMatch, 2, "(?m) makes . match line breaks"},
		{"(?x)a b", RegexMatch, 1, "(?x) extended mode"},
		{"(?u)\\w", RegexMatch, 1, "ASCII only"},
		{"(?J)", RegexMatch, 1, "the only inline flag is (?i)"},
		{"(?'n'a)", RegexMatch, 1, "write (?<name>…)"},
		{"(?#note)a", RegexMatch, 1, "comments"},
		{"(?(1)a|b)", RegexMatch, 1, "conditional"},
		{"(?~abc)", RegexMatch, 1, "absence operator"},
		{"(?R)", RegexMatch, 1, "recursion"},
		{"a)", RegexMatch, 2, "unmatched )"},
		{"a{2}{3}", RegexMatch, 5, "follows the quantifier {2}"},
		{"a**", RegexMatch, 3, "follows the quantifier *"},
		{"a{1,2}+", RegexMatch, 7, "repeats the repetition"},
		{"^*", RegexMatch, 2, "matches a position"},
		{"(?=a)+", RegexMatch, 6, "matches a position"},
		{"a{1001}", RegexMatch, 2, "at most 1000"},
		{"a{01}", RegexMatch, 2, "without leading zeros: Fluent Bit's engine reads 01 as a count"},
		{"a{1,010}", RegexMatch, 2, "without leading zeros"},
		{"a{99999}", RegexMatch, 2, "at most 1000"},
		{"{json}", RegexMatch, 1, `write \{ for a literal {`},
		{"a{1, 2}", RegexMatch, 2, `write \{ for a literal {`},
		{"a{,}", RegexMatch, 2, `write \{ for a literal {`},
		{"[a-z-0]", RegexMatch, 5, `write \- for a literal -`},
		{`[\w-z]`, RegexMatch, 4, "one character at each end"},
		{"[[a]", RegexMatch, 2, "nested class"},
		{"[[:alpha:]]", RegexMatch, 2, "POSIX classes such as [:alpha:]"},
		{`[\b]`, RegexMatch, 2, "backspace"},
		{`[^\x00-\x{10FFFF}]`, RegexMatch, 1, "matches no character"},
		{`\x9`, RegexMatch, 1, "two hex digits"},
		{`\x{110000}`, RegexMatch, 1, "is not a character"},
		{`\x{D800}`, RegexMatch, 1, "is not a character"},
		{`\x{}`, RegexMatch, 1, "1 to 8 hex digits"},
		{`\u00e9`, RegexMatch, 1, `write \x{HHHH}`},
		{`\012`, RegexMatch, 1, "octal"},
		{`\1`, RegexMatch, 1, "backreferences"},
		{`(?<n>a)\k<n>`, RegexMatch, 8, "backreferences"},
		{`\g<n>`, RegexMatch, 1, "subroutine"},
		{`\Qa.b\E`, RegexMatch, 1, `\Q…\E quoting`},
		{`\y`, RegexMatch, 1, `\y is not an escape`},
		{`\K`, RegexMatch, 1, `\K is not supported`},
		{`\Z`, RegexMatch, 1, `write \z`},
		{`\é`, RegexMatch, 1, "without \\"},
		{`\p{^L}`, RegexMatch, 1, `write \P{L}`},
		{`(?i)[éa]`, RegexMatch, 5, "list both cases"},
		{`(?<n>a)(?<n>b)`, RegexParse, 8, "used twice"},
		{`(?<a.b>x)`, RegexParse, 1, "not a valid field name"},
		{`(?<` + strings.Repeat("a", 65) + `>x)`, RegexParse, 1, "not a valid field name"},
		{`(?<=a(?:b|cd))x`, RegexMatch, 1, "fixed length"},
		{`(?<=a|(?<n>b))x`, RegexMatch, 1, "cannot hold a group that captures"},
		{`(?<=(?=a)a)x`, RegexMatch, 1, "look-arounds"},
		{`^\w+$`, RegexParse, 0, "needs named groups"},
		{`(?=(?<lvl>\w+))`, RegexParse, 4, "inside a look-around"},
		{`(a*)*`, RegexMatch, 1, "can match the empty string"},
		{`(a?)+b`, RegexMatch, 1, "can match the empty string"},
		{`(?:\b)+`, RegexMatch, 1, "can match the empty string"},
		{`x(a|aa)+y`, RegexMatch, 2, "exponentially many ways"},
		{`(?:\d+\.?)+x`, RegexMatch, 1, "exponentially many ways"},
		{`\d+\d+x`, RegexMatch, 4, "the search for where a match starts (the pattern is not anchored), `\\d+`, `\\d+`"},
		{`^(.*) (.*) (.*)x$`, RegexMatch, 13, "3 repetitions in a row"},
		{`^[^ ]*\s+\w+x`, RegexMatch, 7, "^ matches after every line break"},
		{`a(?=.*x)`, RegexMatch, 2, "look-around that is not at the start"},
		{`(?:(?:ab){100}){101}`, RegexMatch, 0, "too large"},
	} {
		err := Regex(c.pattern, c.use)
		if c.want == "" {
			if err != nil {
				t.Errorf("Regex(%q) = %v, want nil", c.pattern, err)
			}
			continue
		}
		var re *RegexError
		if !errors.As(err, &re) {
			t.Errorf("Regex(%.40q) = %v, want a *RegexError with %q", c.pattern, err, c.want)
			continue
		}
		if re.Pos != c.pos || !strings.Contains(re.Reason, c.want) {
			t.Errorf("Regex(%.40q) = %v (at %d), want %q at %d", c.pattern, err, re.Pos, c.want, c.pos)
		}
	}
}

// The backtracking rules, pattern by pattern: what is accepted is fast in Onigmo
// whatever the value (exponential and cubic patterns are refused; quadratic ones,
// which most useful searches are, are accepted).
func TestRegexBacktracking(t *testing.T) {
	for _, c := range []struct {
		pattern string
		ok      bool
	}{
		{`(a+)+`, false}, {`(a*)*`, false}, {`(a|aa)+`, false}, {`(.*)*`, false}, {`(a|a)*b`, false},
		{`(\w+\s?)+$`, false}, {`(?:a+){2,}`, false}, {`(?:a{1,20})+`, false}, {`(?:a{1,16})+$`, false},
		{`(?:x+x+)+y`, false}, {`(?>(a+)+)b`, false}, {`(?:a|b|ab)+c`, false},
		{`\d+\d+x`, false}, {`.*a.*b`, false}, {`^(.*) (.*) (.*)x$`, false}, {`\s*\s*\s*x`, false},
		{`(?:(?:ab){100}){101}`, false}, {`(?!.*a.*b)`, false},
		// Unambiguous repetitions, however nested.
		{`(\d+\.)+`, true}, {`(?:\d{1,3}\.){3}\d{1,3}`, true}, {`(?:\\.|[^"\\])*"`, true}, {`(?:ab|a)+`, true},
		{`(?:a|b)+`, true}, {`(?:[a-z]+-)*[a-z]+`, true}, {`[a-z0-9](?:[-a-z0-9]*[a-z0-9])?`, true},
		{`(?:[^"]|\\")*"`, true}, // \" read as two characters leaves the loop: not ambiguous
		// Quadratic: one loop after the search, or two anchored loops.
		{`ERROR.*Exception`, true}, {`\s+$`, true}, {`^(.*) (.*)$`, true}, {`^.*a.*b`, true}, {`^(?!.*healthz).*$`, true},
		{`(?:a{2}b{1,16})+$`, true}, // counted ranges up to 16 are spelled out exactly
		{`\A\d+\d+x`, true},         // no search: anchored at the start of the value
	} {
		err := Regex(c.pattern, RegexMatch)
		if (err == nil) != c.ok {
			t.Errorf("Regex(%q) = %v, want accepted: %v", c.pattern, err, c.ok)
		}
	}
}

func TestRegexFields(t *testing.T) {
	got, err := RegexFields(`^(?<time>[^ ]+) (?:(?<level>[A-Z]+) )?(?<msg>.*)$`)
	if err != nil || strings.Join(got, ",") != "time,level,msg" {
		t.Errorf("RegexFields = %v, %v; want [time level msg]", got, err)
	}
	if _, err := RegexFields(`^\w+$`); err == nil {
		t.Errorf("RegexFields accepted a regex without named groups")
	}
	// A grep regex may have named groups; they capture nothing that is used.
	if err := Regex(`(?<x>a)`, RegexMatch); err != nil {
		t.Errorf("a named group in a grep regex: %v", err)
	}
}

// Every accepted pattern of the table reads back from its canonical form.
func TestRegexCanonicalForm(t *testing.T) {
	for _, c := range regexCases {
		if c.refused != "" {
			continue
		}
		root, _, _ := rxParse(c.pattern)
		s := root.String()
		again, _, err := rxParse(s)
		if err != nil {
			t.Errorf("%q: canonical form %q: %v", c.pattern, s, err)
			continue
		}
		if again.String() != s {
			t.Errorf("%q: canonical form %q reads back as %q", c.pattern, s, again.String())
		}
	}
}

// The checker's own cost is bounded whatever the pattern: the worst shapes within the
// length limit answer within milliseconds (the bound here leaves room for slow CI).
func TestRegexCheckIsCheap(t *testing.T) {
	worst := []string{
		"(?:" + strings.Repeat("a|", 500) + "a)+",
		strings.Repeat("a*", 512),
		strings.Repeat("(?:a*b)*", 128),
		"(?:" + strings.Repeat("[ab]{1,16}", 60) + ")+",
		strings.Repeat("(", 60) + "a" + strings.Repeat(")*", 60),
		"[" + strings.Repeat(`\p{L}`, 200) + "]",
		strings.Repeat("(?i)k", 200),
		strings.Repeat(`(?:\d+\.)?`, 100),
		"(?:" + strings.Repeat("[a-z]{1,16}-", 30) + ")+$",
	}
	for _, p := range worst {
		if utf8.RuneCountInString(p) > MaxRegexLength {
			p = p[:MaxRegexLength]
		}
		start := time.Now()
		err := Regex(p, RegexMatch)
		if d := time.Since(start); d > time.Second/2 {
			t.Errorf("Regex(%.40q…) took %s (%v)", p, d, err)
		}
	}
}
