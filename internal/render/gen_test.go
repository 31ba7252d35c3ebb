package render

import (
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"

	v1 "github.com/logplane/logplane/api/v1alpha1"
	"github.com/logplane/logplane/internal/identity"
	"github.com/logplane/logplane/internal/snapshot"
)

// gen draws a snapshot of logplane resources from fuzz input: every size, count and
// choice is a draw. Past the input's end draws continue from a generator seeded with
// the input, so that a short input makes a whole snapshot and the fuzzer's changes to
// its first bytes change the snapshot's shape. Values keep to the CRDs' rules
// (lengths, patterns, CEL), up to their maxima; the fuzz test then admits them through
// the CRDs as the API server would, which drops what the generator got wrong. Long
// strings repeat a short drawn pattern, so that a few draws reach the maxima.
type gen struct {
	data []byte
	rest *rand.Rand
	// seq makes names unique.
	seq int
	// budget is how many more characters strings may take in all: any one field can
	// reach its maximum, and a pipeline the CRD's (a megabyte), but a snapshot stays
	// small enough for the fuzzer to try many.
	budget int
}

func newGen(data []byte) *gen {
	h := fnv.New64a()
	h.Write(data)
	return &gen{data: data, rest: rand.New(rand.NewPCG(h.Sum64(), uint64(len(data)))), budget: 2 << 20}
}

func (g *gen) u8() byte {
	if len(g.data) == 0 {
		return byte(g.rest.Uint32())
	}
	b := g.data[0]
	g.data = g.data[1:]
	return b
}

// intn is in [0, n), from as few bytes as n needs.
func (g *gen) intn(n int) int {
	switch {
	case n <= 1:
		return 0
	case n <= 1<<8:
		return int(g.u8()) % n
	case n <= 1<<16:
		return (int(g.u8())<<8 | int(g.u8())) % n
	}
	return (int(g.u8())<<16 | int(g.u8())<<8 | int(g.u8())) % n
}

func (g *gen) bool() bool { return g.u8()&1 == 1 }

// some is true about one time in four.
func (g *gen) some() bool { return g.u8() < 64 }

// count is how many of something, from lo to hi: mostly a few, sometimes any, and
// sometimes the maximum.
func (g *gen) count(lo, hi int) int {
	switch b := g.u8(); {
	case hi <= lo:
		return lo
	case b < 192:
		return lo + int(b)%(min(hi-lo, 3)+1)
	case b < 232:
		return lo + g.intn(hi-lo+1)
	case b < 252:
		return hi
	default:
		return max(lo, hi-1)
	}
}

// length is how long a string is, from lo to hi characters: mostly short.
func (g *gen) length(lo, hi int) int {
	switch b := g.u8(); {
	case hi <= lo:
		return lo
	case b < 176:
		return lo + int(b)%(min(hi-lo, 12)+1)
	case b < 224:
		return lo + g.intn(hi-lo+1)
	case b < 248:
		return hi
	default:
		return max(lo, hi-1)
	}
}

func pick[T any](g *gen, items ...T) T { return items[g.intn(len(items))] }

// Alphabets. anyText is what a free-text field (ConfigString, Regex) may hold: the API
// refuses only line breaks, '${' and a leading '@' or '['; the rest is every width of
// UTF-8, control and format characters, quotes and YAML's own punctuation.
var (
	anyText = []rune("aZ09 \t\"\\'$${}[]@:#-|*.?()<>,=/%&!^~`+" +
		"\x01\x1f\x7f\u0085\u00a0\u00e9\u2028\u2029\u2211\ufeff\ufffd\U0001F600")
	lowerABC   = []rune("abcdefghijklmnopqrstuvwxyz")
	alnumLower = []rune("abcdefghijklmnopqrstuvwxyz0123456789")
	alnum      = []rune("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
	digits     = []rune("0123456789")
)

// text is n characters of a drawn pattern over alphabet.
func (g *gen) text(alphabet []rune, n int) string {
	n = min(n, max(g.budget, 1))
	g.budget -= n
	if n <= 0 {
		return ""
	}
	pattern := make([]rune, 1+g.intn(6))
	for i := range pattern {
		pattern[i] = alphabet[g.intn(len(alphabet))]
	}
	out := make([]rune, n)
	for i := range out {
		out[i] = pattern[i%len(pattern)]
	}
	return string(out)
}

// runes cuts s to n characters.
func runes(s string, n int) string {
	r := []rune(s)
	if len(r) > n {
		r = r[:n]
	}
	return string(r)
}

// freeText is text of lo to hi characters over anyText, now and then with a NUL
// (which the API admits and the renderer refuses).
func (g *gen) freeText(lo, hi int) string {
	s := g.text(anyText, g.length(lo, hi))
	if s != "" && g.u8() < 4 {
		s = "\x00" + string([]rune(s)[1:])
	}
	return s
}

// configString is a ConfigString of at most hi characters.
func (g *gen) configString(hi int) v1.ConfigString {
	s := g.freeText(0, hi)
	s = strings.NewReplacer("${", "$x").Replace(s)
	if strings.HasPrefix(s, "@") || strings.HasPrefix(s, "[") {
		s = "x" + s
	}
	return v1.ConfigString(runes(strings.ReplaceAll(s, "${", "$x"), hi))
}

func (g *gen) optConfigString(hi int) *v1.ConfigString {
	if !g.bool() {
		return nil
	}
	s := g.configString(hi)
	return &s
}

func (g *gen) regex() v1.Regex {
	s := g.freeText(1, 1024)
	return v1.Regex(runes(strings.ReplaceAll(s, "${", "$x"), 1024))
}

// dnsLabel is a DNS label of at most hi characters (a namespace, container or agent).
func (g *gen) dnsLabel(hi int) string {
	s := g.text(alnumLower, 1) + g.text([]rune("abcdefghijklmnopqrstuvwxyz0123456789-"), g.length(0, hi-2))
	if len(s) > 1 {
		s += g.text(alnumLower, 1)
	}
	if len(validation.IsDNS1123Label(s)) > 0 {
		return "x"
	}
	return s
}

// name is an object name (a DNS subdomain), unique within this snapshot.
func (g *gen) name() string {
	g.seq++
	suffix := fmt.Sprintf("-%d", g.seq)
	var labels []string
	for range g.count(1, 4) {
		labels = append(labels, g.dnsLabel(63))
	}
	s := strings.Join(labels, ".")
	if len(s)+len(suffix) > 253 {
		s = strings.TrimRight(s[:253-len(suffix)], "-.")
	}
	if len(validation.IsDNS1123Subdomain(s+suffix)) > 0 {
		return "n" + suffix
	}
	return s + suffix
}

// identifier is a field or key name: [A-Za-z0-9_][-A-Za-z0-9_.]*.
func (g *gen) identifier(hi int) string {
	return g.text([]rune("Az09_"), 1) + g.text([]rune("Az09_-."), g.length(0, hi-1))
}

func (g *gen) fieldPath() v1.FieldPath {
	if !g.bool() {
		return v1.FieldPath(g.identifier(256))
	}
	s := "$" + g.identifier(64)
	for range g.count(0, 6) {
		s += "['" + g.text([]rune("az09_-./"), g.length(1, 32)) + "']"
	}
	if len(s) > 256 {
		return v1.FieldPath(g.identifier(256))
	}
	return v1.FieldPath(s)
}

func (g *gen) optFieldPath() *v1.FieldPath {
	if !g.bool() {
		return nil
	}
	f := g.fieldPath()
	return &f
}

func (g *gen) topLevelField() v1.TopLevelField { return v1.TopLevelField(g.identifier(256)) }

func (g *gen) optTopLevelField() *v1.TopLevelField {
	if !g.bool() {
		return nil
	}
	f := g.topLevelField()
	return &f
}

func (g *gen) host() v1.Host {
	switch g.intn(4) {
	case 0:
		return v1.Host(fmt.Sprintf("10.%d.%d.%d", g.u8(), g.u8(), g.u8()))
	case 1:
		return "fd00::1"
	}
	s := g.text(alnum, 1) + g.text([]rune("az09-."), g.length(0, 251))
	return v1.Host(s + g.text(alnum, 1))
}

func (g *gen) optHost() *v1.Host {
	if !g.bool() {
		return nil
	}
	h := g.host()
	return &h
}

func (g *gen) port() v1.Port { return v1.Port(1 + g.intn(65535)) }

func (g *gen) uriPath() v1.URIPath {
	return v1.URIPath("/" + g.text([]rune("aZ09-._~!$&'()*+,;=:@/%?"), g.length(0, 1023)))
}

func (g *gen) endpointURL() *v1.EndpointURL {
	if !g.bool() {
		return nil
	}
	host := g.text(alnumLower, 1) + g.text([]rune("az09-"), g.length(0, 60)) + g.text(alnumLower, 1) + ".example.com"
	u := v1.EndpointURL(pick(g, "https://", "http://") + host + "/" + g.text(alnum, g.length(0, 200)))
	return &u
}

// stsEndpoint is https://host: Fluent Bit reaches STS with TLS on 443 only.
func (g *gen) stsEndpoint() *v1.EndpointURL {
	if !g.bool() {
		return nil
	}
	u := v1.EndpointURL("https://" + g.text(alnumLower, 1) + g.text([]rune("az09-"), g.length(0, 60)) + g.text(alnumLower, 1) + ".example.com")
	return &u
}

// secretRef refers to one of the snapshot's Secret names and keys, or now and then to
// one that is missing.
func (g *gen) secretRef(secrets []snapshot.Secret, namespace string) v1.SecretKeyRef {
	var mine []snapshot.Secret
	for _, s := range secrets {
		if s.Namespace == namespace {
			mine = append(mine, s)
		}
	}
	if len(mine) == 0 || g.u8() < 16 {
		return v1.SecretKeyRef{Name: "missing", Key: g.text([]rune("aZ09-._"), g.length(1, 253))}
	}
	s := mine[g.intn(len(mine))]
	return v1.SecretKeyRef{Name: v1.ResourceName(s.Name), Key: s.Keys[g.intn(len(s.Keys))]}
}

func (g *gen) optSecretRef(secrets []snapshot.Secret, namespace string) *v1.SecretKeyRef {
	if !g.bool() {
		return nil
	}
	r := g.secretRef(secrets, namespace)
	return &r
}

func (g *gen) keyValues(hi int, value func() v1.ConfigString) []v1.KeyValue {
	seen := map[string]bool{}
	var out []v1.KeyValue
	for range g.count(0, hi) {
		k := g.identifier(256)
		if seen[k] {
			continue
		}
		seen[k] = true
		out = append(out, v1.KeyValue{Key: k, Value: value()})
	}
	return out
}

// labelSelector is any selector the schema admits: keys, values and operators are
// free strings there.
func (g *gen) labelSelector() *metav1.LabelSelector {
	if !g.bool() {
		return nil
	}
	sel := &metav1.LabelSelector{}
	label := func() string {
		if g.some() {
			return string(g.configString(300))
		}
		return g.identifier(63)
	}
	for range g.count(0, 8) {
		if sel.MatchLabels == nil {
			sel.MatchLabels = map[string]string{}
		}
		sel.MatchLabels[label()] = label()
	}
	for range g.count(0, 4) {
		e := metav1.LabelSelectorRequirement{Key: label(),
			Operator: pick(g, metav1.LabelSelectorOpIn, metav1.LabelSelectorOpNotIn, metav1.LabelSelectorOpExists,
				metav1.LabelSelectorOpDoesNotExist, "Bogus")}
		for range g.count(0, 8) {
			e.Values = append(e.Values, label())
		}
		sel.MatchExpressions = append(sel.MatchExpressions, e)
	}
	return sel
}

func (g *gen) tls(secrets []snapshot.Secret, namespace string) *v1.TLS {
	t := &v1.TLS{InsecureSkipVerify: g.bool(), ServerName: g.optHost(), CA: g.optSecretRef(secrets, namespace)}
	if g.bool() {
		t.Cert, t.Key = ptr(g.secretRef(secrets, namespace)), ptr(g.secretRef(secrets, namespace))
	}
	return t
}

func (g *gen) headers(secrets []snapshot.Secret, namespace string) []v1.Header {
	seen := map[string]bool{}
	var out []v1.Header
	for range g.count(0, 32) {
		h := v1.Header{Name: g.text([]rune("Az09!#$%&'*+.^_|~-"), g.length(1, 128))}
		if seen[h.Name] {
			continue
		}
		seen[h.Name] = true
		if g.bool() {
			h.Value = ptr(g.configString(1024))
		} else {
			h.ValueFrom = ptr(g.secretRef(secrets, namespace))
		}
		out = append(out, h)
	}
	return out
}

func (g *gen) basicAuth(secrets []snapshot.Secret, namespace string) *v1.BasicAuth {
	if !g.bool() {
		return nil
	}
	return &v1.BasicAuth{User: g.configString(1024), Password: g.secretRef(secrets, namespace)}
}

func (g *gen) aws(secrets []snapshot.Secret, namespace string) v1.AWSAuth {
	a := v1.AWSAuth{Region: runes(g.text(lowerABC, 2)+"-"+g.text(lowerABC, g.length(1, 20))+"-"+g.text(digits, g.length(1, 3)), 32),
		StsEndpoint: g.stsEndpoint(), Endpoint: g.endpointURL()}
	if g.bool() {
		a.RoleArn = "arn:aws:iam::" + g.text(digits, 12) + ":role/" + g.text([]rune("aZ09_+=,.@/-"), g.length(1, 2000))
		if g.bool() {
			a.ExternalID = g.text([]rune("aZ09_+=,.@:/-"), g.length(2, 1224))
		}
	}
	if g.bool() {
		a.Credentials = &v1.AWSCredentials{AccessKeyID: g.secretRef(secrets, namespace), SecretAccessKey: g.secretRef(secrets, namespace)}
	}
	return a
}

func (g *gen) compression() v1.Compression { return pick(g, v1.CompressionNone, v1.CompressionGzip) }

func (g *gen) searchIndex() v1.SearchIndex {
	if g.bool() {
		return v1.SearchIndex{Index: g.text(alnumLower, 1) + g.text([]rune("az09-_."), g.length(0, 254))}
	}
	return v1.SearchIndex{DailyIndexPrefix: g.text(alnumLower, 1) + g.text([]rune("az09-_."), g.length(0, 199))}
}

func (g *gen) slashConfigString() *v1.ConfigString {
	if !g.bool() {
		return nil
	}
	s := "/" + g.configString(1023)
	return &s
}

// duration is a time between lo and hi, in a unit Go writes as the CRD's rules read
// it (whole milliseconds and up).
func (g *gen) duration(lo, hi time.Duration) *metav1.Duration {
	d := lo
	switch g.intn(4) {
	case 0:
	case 1:
		d = hi
	default:
		d = lo + (hi-lo)/(1<<24)*time.Duration(g.intn(1<<24))
	}
	return &metav1.Duration{Duration: d.Truncate(time.Millisecond)}
}

// output is an OutputSpec of a drawn type with every field drawn, following the CEL
// rules between fields.
func (g *gen) output(secrets []snapshot.Secret, namespace string, policies []v1.RetentionPolicy) v1.OutputSpec {
	o := v1.OutputSpec{Type: pick(g, v1.OutputCloudWatchLogs, v1.OutputKinesisFirehose, v1.OutputKinesisStreams, v1.OutputS3,
		v1.OutputElasticsearch, v1.OutputOpenSearch, v1.OutputLoki, v1.OutputSplunk, v1.OutputHTTP, v1.OutputSyslog,
		v1.OutputForward, v1.OutputKafka, v1.OutputDatadog, v1.OutputOTLP, v1.OutputStdout)}
	if g.some() {
		o.TLS = g.tls(secrets, namespace)
	}
	if g.bool() {
		o.Workers = ptr(int32(1 + g.intn(16)))
	}
	if len(policies) > 0 && g.bool() {
		o.RetentionPolicy = v1.ResourceName(policies[g.intn(len(policies))].Name)
	} else if g.some() {
		o.RetentionPolicy = "missing"
	}
	switch o.Type {
	case v1.OutputCloudWatchLogs:
		c := &v1.CloudWatchLogsOutput{AWS: g.aws(secrets, namespace), LogGroupName: g.text([]rune(".-_/#aZ09"), g.length(1, 512)),
			LogGroupTemplate: g.optConfigString(1024), LogKey: g.optTopLevelField(), AutoCreateGroup: g.bool()}
		stream := g.configString(512)
		stream = v1.ConfigString(strings.NewReplacer(":", "", "*", "").Replace(string(stream)))
		if g.bool() {
			c.LogStreamName = &stream
		} else {
			stream = v1.ConfigString(runes(string(stream), 256))
			c.LogStreamPrefix = &stream
		}
		if o.RetentionPolicy == "" && g.bool() {
			c.LogRetentionDays = ptr(pick[int32](g, 1, 30, 3653))
		}
		o.CloudWatchLogs = c
	case v1.OutputKinesisFirehose:
		f := &v1.KinesisFirehoseOutput{AWS: g.aws(secrets, namespace), DeliveryStream: g.text([]rune("aZ09_.-"), g.length(1, 64)),
			Compression: g.compression()}
		if g.bool() {
			f.TimeKey = g.optTopLevelField()
		} else {
			f.LogKey = g.optTopLevelField()
		}
		o.KinesisFirehose = f
	case v1.OutputKinesisStreams:
		k := &v1.KinesisStreamsOutput{AWS: g.aws(secrets, namespace), Stream: g.text([]rune("aZ09_.-"), g.length(1, 128))}
		if g.bool() {
			k.TimeKey = g.optTopLevelField()
		} else {
			k.LogKey = g.optTopLevelField()
		}
		o.KinesisStreams = k
	case v1.OutputS3:
		middle := g.text([]rune("az09.-"), g.length(1, 61))
		for strings.Contains(middle, "..") {
			middle = strings.ReplaceAll(middle, "..", "a.")
		}
		bucket := g.text(alnumLower, 1) + middle + g.text(alnumLower, 1)
		s := &v1.S3Output{AWS: g.aws(secrets, namespace), Bucket: bucket, Compression: pick[v1.S3Compression](g, "None", "Gzip", "Zstd"),
			StorageClass: pick[v1.S3StorageClass](g, "", "STANDARD", "GLACIER", "DEEP_ARCHIVE")}
		if g.bool() {
			s.KeyFormat = "/" + g.configString(1023)
		}
		if g.bool() {
			s.TotalFileSize = ptr(resource.MustParse(pick(g, "1M", "50G", "100M", "1Gi")))
		}
		if g.bool() {
			s.UploadTimeout = g.duration(time.Second, 168*time.Hour)
		}
		o.S3 = s
	case v1.OutputElasticsearch:
		e := &v1.ElasticsearchOutput{Port: g.port(), Path: g.slashConfigString(), SearchIndex: g.searchIndex(),
			Pipeline: g.optConfigString(1024), Compression: g.compression()}
		if g.bool() {
			e.Host = g.host()
		} else {
			e.CloudID = ptr(g.configString(1024))
			if g.bool() {
				e.CloudAuth = ptr(g.secretRef(secrets, namespace))
			}
		}
		if e.CloudAuth == nil {
			if g.bool() {
				e.BasicAuth = g.basicAuth(secrets, namespace)
			} else {
				e.APIKey = g.optSecretRef(secrets, namespace)
			}
		}
		o.Elasticsearch = e
	case v1.OutputOpenSearch:
		s := &v1.OpenSearchOutput{Host: g.host(), Port: g.port(), Path: g.slashConfigString(), SearchIndex: g.searchIndex(),
			Pipeline: g.optConfigString(1024), Compression: g.compression()}
		if g.bool() {
			a := g.aws(secrets, namespace)
			a.Endpoint = nil
			s.AWS, s.Serverless = &a, g.bool()
		} else {
			s.BasicAuth = g.basicAuth(secrets, namespace)
		}
		o.OpenSearch = s
	case v1.OutputLoki:
		l := &v1.LokiOutput{Host: g.host(), Port: g.port(), TenantID: g.optConfigString(1024),
			LineFormat: pick[v1.LokiLineFormat](g, "JSON", "KeyValue")}
		for _, kv := range g.keyValues(16, func() v1.ConfigString {
			return v1.ConfigString(strings.TrimLeft(strings.ReplaceAll(string(g.configString(1024)), ",", ""), "$"))
		}) {
			kv.Key = strings.NewReplacer("-", "_", ".", "_").Replace(kv.Key)
			if kv.Key[0] >= '0' && kv.Key[0] <= '9' {
				kv.Key = "_" + kv.Key[1:]
			}
			l.Labels = append(l.Labels, kv)
		}
		l.LabelKeys = uniqueFieldPaths(g, 16)
		l.RemoveKeys = uniqueFieldPaths(g, 32)
		if g.bool() {
			l.BasicAuth = g.basicAuth(secrets, namespace)
		} else {
			l.BearerToken = g.optSecretRef(secrets, namespace)
		}
		o.Loki = l
	case v1.OutputSplunk:
		o.Splunk = &v1.SplunkOutput{Host: g.host(), Port: g.port(), Token: g.secretRef(secrets, namespace),
			Index: g.optConfigString(1024), Source: g.optConfigString(1024), SourceType: g.optConfigString(1024),
			EventKey: g.optFieldPath(), Compression: g.compression()}
	case v1.OutputHTTP:
		o.HTTP = &v1.HTTPOutput{Host: g.host(), Port: g.port(), Path: g.uriPath(), Method: pick(g, "POST", "PUT"),
			Format: pick[v1.HTTPFormat](g, "JSON", "JSONLines", "MsgPack", "GELF"), Headers: g.headers(secrets, namespace),
			BasicAuth: g.basicAuth(secrets, namespace), Compression: g.compression()}
	case v1.OutputSyslog:
		s := &v1.SyslogOutput{Host: g.host(), Port: g.port(), Mode: pick[v1.SyslogMode](g, "UDP", "TCP", "TLS"),
			Format: pick[v1.SyslogFormat](g, "RFC3164", "RFC5424"), MessageKey: g.topLevelField(),
			SeverityKey: g.optTopLevelField(), HostnameKey: g.optTopLevelField(), AppNameKey: g.optTopLevelField()}
		switch {
		case s.Mode == "UDP":
			o.TLS = nil
		case s.Mode == "TLS" && o.TLS == nil:
			o.TLS = &v1.TLS{}
		}
		o.Syslog = s
	case v1.OutputForward:
		f := &v1.ForwardOutput{Host: g.host(), Port: g.port(), SelfHostname: g.optHost(), RequireAck: g.bool(), Compression: g.compression()}
		if g.bool() {
			f.SharedKey = ptr(g.secretRef(secrets, namespace))
			if o.TLS == nil {
				o.TLS = &v1.TLS{}
			}
		}
		o.Forward = f
	case v1.OutputKafka:
		k := &v1.KafkaOutput{Topic: g.text([]rune("aZ09._-"), g.length(1, 249)), MessageKey: g.optTopLevelField(),
			Format: pick[v1.KafkaFormat](g, "JSON", "MsgPack", "GELF")}
		seen := map[v1.KafkaBroker]bool{}
		for range g.count(1, 32) {
			host := strings.TrimRight(runes(string(g.host()), 250), "-.")
			b := v1.KafkaBroker(fmt.Sprintf("%s:%d", host, g.port()))
			if g.some() {
				b = v1.KafkaBroker(fmt.Sprintf("[fd00::%x]:%d", g.u8(), g.port()))
			}
			if !seen[b] && !strings.Contains(string(b), "fd00::1:") {
				seen[b] = true
				k.Brokers = append(k.Brokers, b)
			}
		}
		if len(k.Brokers) == 0 {
			k.Brokers = []v1.KafkaBroker{"kafka:9092"}
		}
		if g.bool() {
			k.SASL = &v1.KafkaSASL{Mechanism: pick[v1.SASLMechanism](g, "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"),
				Username: g.configString(1024), Password: g.secretRef(secrets, namespace)}
		}
		if o.TLS != nil {
			o.TLS.ServerName = nil
		}
		o.Kafka = k
	case v1.OutputDatadog:
		d := &v1.DatadogOutput{Host: g.host(), APIKey: g.secretRef(secrets, namespace), Service: g.optConfigString(1024),
			Source: g.optConfigString(1024), MessageKey: g.optTopLevelField(), Compression: g.compression()}
		seen := map[v1.ConfigString]bool{}
		for range g.count(0, 32) {
			tag := v1.ConfigString(strings.ReplaceAll(string(g.configString(1024)), ",", ";"))
			if !seen[tag] {
				seen[tag] = true
				d.Tags = append(d.Tags, tag)
			}
		}
		o.Datadog = d
	case v1.OutputOTLP:
		o.OTLP = &v1.OTLPOutput{Host: g.host(), Port: g.port(), Protocol: pick[v1.OTLPProtocol](g, "HTTP", "GRPC"),
			LogsPath: g.uriPath(), Headers: g.headers(secrets, namespace), Compression: g.compression()}
	case v1.OutputStdout:
		o.Stdout = &v1.StdoutOutput{Format: pick[v1.StdoutFormat](g, "JSONLines", "MsgPack")}
		o.TLS = nil
	}
	return o
}

func uniqueFieldPaths(g *gen, hi int) []v1.FieldPath {
	seen := map[v1.FieldPath]bool{}
	var out []v1.FieldPath
	for range g.count(0, hi) {
		f := g.fieldPath()
		if !seen[f] {
			seen[f] = true
			out = append(out, f)
		}
	}
	return out
}

// filters are up to 32 filters of every type, each up to its maxima.
func (g *gen) filters() []v1.Filter {
	var out []v1.Filter
	// One rule list per pipeline, reused: the maxima (32 filters of 32 rules of 1,024
	// characters) are then a few bytes of input.
	rules := func() []v1.FieldMatch {
		var rs []v1.FieldMatch
		for range g.count(1, 16) {
			rs = append(rs, v1.FieldMatch{Field: g.fieldPath(), Regex: g.regex()})
		}
		return rs
	}
	var shared []v1.FieldMatch
	throttled := false
	for range g.count(0, 32) {
		f := v1.Filter{Type: pick(g, v1.FilterGrep, v1.FilterParse, v1.FilterMultiline, v1.FilterAddFields, v1.FilterRemoveFields,
			v1.FilterThrottle)}
		if f.Type == v1.FilterThrottle && throttled {
			continue // one throttle per pipeline, as the CRD says
		}
		throttled = throttled || f.Type == v1.FilterThrottle
		switch f.Type {
		case v1.FilterGrep:
			if shared == nil || !g.some() {
				shared = rules()
			}
			f.Grep = &v1.GrepFilter{}
			if g.bool() {
				f.Grep.Include = shared
			}
			if f.Grep.Include == nil || g.bool() {
				f.Grep.Exclude = shared
			}
		case v1.FilterParse:
			p := &v1.ParseFilter{Field: g.fieldPath(), Format: pick[v1.ParseFormat](g, "JSON", "Logfmt", "Regex"),
				TimeKey: g.optFieldPath(), TimeFormat: g.optConfigString(1024), KeepOriginal: g.bool()}
			if p.Format == v1.ParseRegex {
				re := v1.Regex(runes("(?<"+g.text(lowerABC, 1)+">"+string(g.regex()), 1023) + ")")
				p.Regex = &re
			}
			f.Parse = p
		case v1.FilterMultiline:
			f.Multiline = &v1.MultilineFilter{Parser: pick[v1.MultilineParser](g, "go", "java", "python", "cri", "docker"), Field: g.fieldPath()}
		case v1.FilterAddFields:
			f.AddFields = &v1.AddFieldsFilter{Fields: g.keyValues(32, func() v1.ConfigString { return "v" + g.configString(1023) })}
			if len(f.AddFields.Fields) == 0 {
				f.AddFields.Fields = []v1.KeyValue{{Key: "k", Value: "v"}}
			}
		case v1.FilterRemoveFields:
			seen := map[string]bool{}
			f.RemoveFields = &v1.RemoveFieldsFilter{}
			for range g.count(1, 32) {
				if k := g.identifier(256); !seen[k] {
					seen[k] = true
					f.RemoveFields.Fields = append(f.RemoveFields.Fields, k)
				}
			}
		case v1.FilterThrottle:
			interval := pick(g, fmt.Sprintf("%ds", 1+g.intn(86400)), fmt.Sprintf("%dm", 1+g.intn(1440)), fmt.Sprintf("%dh", 1+g.intn(24)), "1s", "24h")
			f.Throttle = &v1.ThrottleFilter{Records: int32(1 + g.intn(1<<24)), Window: int32(1 + g.intn(1000)), Interval: interval}
			if g.some() {
				f.Throttle.Records = 1<<31 - 1
			}
		}
		out = append(out, f)
	}
	return out
}

func (g *gen) containerSelection() v1.ContainerSelection {
	c := v1.ContainerSelection{PodSelector: g.labelSelector()}
	names := func() []v1.ContainerName {
		seen := map[string]bool{}
		var out []v1.ContainerName
		for range g.count(0, 64) {
			if n := g.dnsLabel(63); !seen[n] {
				seen[n] = true
				out = append(out, v1.ContainerName(n))
			}
		}
		return out
	}
	c.Include, c.Exclude = names(), names()
	return c
}

func (g *gen) namespaceSelection(namespaces []snapshot.Namespace) v1.NamespaceSelection {
	sel := v1.NamespaceSelection{Selector: g.labelSelector()}
	names := func() []v1.NamespaceName {
		seen := map[string]bool{}
		var out []v1.NamespaceName
		for range g.count(0, 256) {
			n := g.dnsLabel(63)
			if len(namespaces) > 0 && g.bool() {
				n = namespaces[g.intn(len(namespaces))].Name
			}
			if !seen[n] {
				seen[n] = true
				out = append(out, v1.NamespaceName(n))
			}
		}
		return out
	}
	sel.Include, sel.Exclude = names(), names()
	return sel
}

func (g *gen) filePath(globInDir bool) string {
	var segs []string
	for range g.count(1, 8) {
		alphabet := []rune("aZ09-_.")
		if globInDir {
			alphabet = append(alphabet, '*')
		}
		seg := g.text(alphabet, g.length(1, 120))
		if strings.Trim(seg, ".") == "" {
			seg = "x" + seg
		}
		segs = append(segs, seg)
	}
	last := g.text([]rune("aZ09-_.*"), g.length(1, 120))
	if last == "." || last == ".." {
		last = "x"
	}
	return runes("/"+strings.Join(append(segs, last), "/"), 1024)
}

func refsTo(g *gen, names []string, hi int) []v1.ResourceName {
	seen := map[string]bool{}
	var out []v1.ResourceName
	for range g.count(1, hi) {
		n := "missing"
		if len(names) > 0 && g.u8() > 16 {
			n = names[g.intn(len(names))]
		}
		if !seen[n] {
			seen[n] = true
			out = append(out, v1.ResourceName(n))
		}
	}
	return out
}

func agentRef(g *gen, agents []v1.LogAgent) v1.AgentName {
	switch {
	case len(agents) > 0 && g.bool():
		return v1.AgentName(agents[g.intn(len(agents))].Name)
	case g.some():
		return "missing"
	}
	return v1.DefaultAgentName
}

// snapshot draws a whole snapshot: namespaces, Secrets, policies, agents, outputs and
// cluster outputs, then pipelines that refer to them (and now and then to what is
// missing).
func (g *gen) snapshot() *snapshot.Snapshot {
	s := &snapshot.Snapshot{OperatorNamespace: "logplane-system"}
	for range g.count(1, 6) {
		ns := snapshot.Namespace{Name: g.dnsLabel(63), Labels: map[string]string{}}
		for range g.count(0, 3) {
			ns.Labels[g.identifier(63)] = g.identifier(63)
		}
		ns.Labels[corev1.LabelMetadataName] = ns.Name // as the API server labels every namespace
		s.Namespaces = append(s.Namespaces, ns)
	}
	for _, ns := range append([]string{s.OperatorNamespace}, namespaceNames(s)...) {
		for range g.count(0, 3) {
			sec := snapshot.Secret{Namespace: ns, Name: g.name()}
			for range g.count(1, 4) {
				sec.Keys = append(sec.Keys, g.text([]rune("aZ09-._"), g.length(1, 253)))
			}
			s.Secrets = append(s.Secrets, sec)
		}
	}
	for range g.count(0, 3) {
		p := v1.RetentionPolicy{ObjectMeta: g.meta(""), Spec: v1.RetentionPolicySpec{
			Retention:       pick(g, "1d", "99999d", "99y", "30d"),
			AllowShortening: g.bool(),
			Delivery:        pick(g, v1.DeliveryAtLeastOnce, v1.DeliveryBestEffort),
			Buffer:          v1.RetentionBuffer{MaxSize: ptr(resource.MustParse(pick(g, "1Mi", "100Gi", "1Gi", "123456789")))},
			Retry:           v1.RetentionRetry{MaxDuration: g.duration(0, 8760*time.Hour)},
		}}
		s.Policies = append(s.Policies, p)
	}
	for range g.count(0, 2) {
		a := v1.LogAgent{ObjectMeta: g.meta("")}
		a.Name = g.dnsLabel(63)
		a.Spec.MetricsPort = int32(1024 + g.intn(65535-1024+1))
		a.Spec.ConfigReload = pick(g, v1.ConfigReloadRestart, v1.ConfigReloadHotReload)
		a.Spec.LogLevel = pick[v1.AgentLogLevel](g, "error", "warn", "info", "debug")
		s.Agents = append(s.Agents, a)
	}
	outputNames := map[string][]string{}
	for _, ns := range namespaceNames(s) {
		for range g.count(0, 4) {
			o := v1.LogOutput{ObjectMeta: g.meta(ns), Spec: g.output(s.Secrets, ns, s.Policies)}
			s.Outputs = append(s.Outputs, o)
			outputNames[ns] = append(outputNames[ns], o.Name)
		}
	}
	var clusterOutputs []string
	for range g.count(0, 4) {
		o := v1.ClusterLogOutput{ObjectMeta: g.meta(""), Spec: v1.ClusterLogOutputSpec{
			OutputSpec: g.output(s.Secrets, s.OperatorNamespace, s.Policies), AllowedNamespaces: g.labelSelector()}}
		if g.some() {
			for _, kv := range g.keyValues(32, func() v1.ConfigString { return g.configString(1024) }) {
				o.Spec.RawParameters = append(o.Spec.RawParameters, v1.RawParameter{Key: strings.ToLower(runes(kv.Key, 64)), Value: kv.Value})
			}
		}
		s.ClusterOutputs = append(s.ClusterOutputs, o)
		clusterOutputs = append(clusterOutputs, o.Name)
	}
	for _, ns := range namespaceNames(s) {
		for range g.count(0, 4) {
			p := v1.LogPipeline{ObjectMeta: g.meta(ns), Spec: v1.LogPipelineSpec{Agent: agentRef(g, s.Agents), Filters: g.filters()}}
			if g.u8() < 200 {
				p.Spec.Input.Containers = ptr(g.containerSelection())
			} else {
				p.Spec.Input.Files = &v1.FileInput{PodSelector: *ptr(metav1.LabelSelector{}), Container: v1.ContainerName(g.dnsLabel(63))}
				if sel := g.labelSelector(); sel != nil {
					p.Spec.Input.Files.PodSelector = *sel
				}
				seen := map[string]bool{}
				for range g.count(1, 16) {
					if f := g.filePath(false); !seen[f] {
						seen[f] = true
						p.Spec.Input.Files.Paths = append(p.Spec.Input.Files.Paths, v1.LogFilePath(f))
					}
				}
			}
			if g.u8() < 200 {
				p.Spec.OutputRefs = refsTo(g, outputNames[ns], 16)
			}
			if p.Spec.OutputRefs == nil || g.some() {
				p.Spec.ClusterOutputRefs = refsTo(g, clusterOutputs, 16)
			}
			s.Pipelines = append(s.Pipelines, p)
		}
	}
	for range g.count(0, 4) {
		p := v1.ClusterLogPipeline{ObjectMeta: g.meta(""), Spec: v1.ClusterLogPipelineSpec{Agent: agentRef(g, s.Agents),
			Filters: g.filters(), ClusterOutputRefs: refsTo(g, clusterOutputs, 16)}}
		in := &p.Spec.Input
		if g.bool() {
			in.Containers = &v1.ClusterContainerInput{Namespaces: g.namespaceSelection(s.Namespaces), ContainerSelection: g.containerSelection()}
		}
		if g.bool() {
			n := &v1.NodeInput{}
			seen := map[string]bool{}
			for range g.count(0, 64) {
				if u := g.text([]rune("aZ09:_.@-"), g.length(1, 256)); !seen[u] {
					seen[u] = true
					n.SystemdUnits = append(n.SystemdUnits, v1.SystemdUnit(u))
				}
			}
			for range g.count(0, 64) {
				if f := g.filePath(true); !seen[f] {
					seen[f] = true
					n.Files = append(n.Files, v1.HostFilePath(f))
				}
			}
			if len(n.SystemdUnits)+len(n.Files) == 0 {
				n.SystemdUnits = []v1.SystemdUnit{"kubelet.service"}
			}
			in.Node = n
		}
		if in.Containers == nil && in.Node == nil || g.some() {
			in.Events = &v1.EventsInput{Namespaces: g.namespaceSelection(s.Namespaces)}
		}
		s.ClusterPipelines = append(s.ClusterPipelines, p)
	}
	// Drawn last, so that the draws above mean what they meant before grants existed.
	for range g.count(0, 3) {
		s.Grants = append(s.Grants, g.grant(s))
	}
	return s
}

// grant hands some of the tenants' AWS outputs without keys what they would use (their
// role or the agent's identity), to their namespace by name or to a random selector,
// for any destination, theirs exactly, or theirs by a prefix of its name: so that such
// outputs render about as often as they are refused.
func (g *gen) grant(s *snapshot.Snapshot) v1.IdentityGrant {
	gr := v1.IdentityGrant{ObjectMeta: g.meta("")}
	gr.Name = g.dnsLabel(63)
	names := namespaceNames(s)
	if sel := g.labelSelector(); sel != nil && g.some() {
		gr.Spec.NamespaceSelector = *sel
	} else {
		gr.Spec.NamespaceSelector.MatchLabels = map[string]string{corev1.LabelMetadataName: pick(g, names...)}
	}
	seen := map[string]bool{}
	for i := range s.Outputs {
		auth, d := identity.AWS(&s.Outputs[i].Spec)
		if auth == nil || auth.Credentials != nil || !g.bool() {
			continue
		}
		var dests []v1.GrantedDestination
		if !d.Templated && g.bool() {
			dest := v1.GrantedDestination{Type: v1.AWSOutputType(d.Type), Name: d.Name}
			if g.bool() && len(d.Name) > 1 {
				dest.Name, dest.NamePrefix = "", d.Name[:1+g.intn(len(d.Name)-1)]
			}
			dests = append(dests, dest)
		}
		switch {
		case auth.RoleArn == "":
			if gr.Spec.AgentIdentity == nil {
				gr.Spec.AgentIdentity = &v1.AgentIdentityGrant{}
			}
			gr.Spec.AgentIdentity.Destinations = append(gr.Spec.AgentIdentity.Destinations, dests...)
		case !seen[auth.RoleArn] && len(gr.Spec.Roles) < 64:
			seen[auth.RoleArn] = true
			gr.Spec.Roles = append(gr.Spec.Roles, v1.RoleGrant{RoleArn: auth.RoleArn, Destinations: dests})
		}
	}
	if len(gr.Spec.Roles) == 0 && gr.Spec.AgentIdentity == nil {
		gr.Spec.AgentIdentity = &v1.AgentIdentityGrant{Destinations: []v1.GrantedDestination{
			{Type: v1.AWSOutputType(v1.OutputS3), Name: "logs"}}}
	}
	return gr
}

func (g *gen) meta(namespace string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Namespace: namespace, Name: g.name(), ResourceVersion: fmt.Sprint(1 + g.intn(3)), Generation: 1}
}

func namespaceNames(s *snapshot.Snapshot) []string {
	var out []string
	seen := map[string]bool{}
	for _, ns := range s.Namespaces {
		if !seen[ns.Name] {
			seen[ns.Name] = true
			out = append(out, ns.Name)
		}
	}
	return out
}
