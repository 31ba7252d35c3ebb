package sink

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/logplane/logplane/test/testcerts"
)

// AWSDomain holds the names the AWS fake answers to: sts., logs., firehose. and s3.
// for the services, and search-<domain>. for Amazon OpenSearch domains. Pods resolve
// them to the fake's address (AWS.Hosts); tests point outputs at them with
// aws.endpoint and aws.stsEndpoint, which must be https URLs on port 443: STS is
// always dialled on 443, and cloudwatch_logs takes no port from its endpoint.
const AWSDomain = "aws.test"

// AWSEndpoint is the https URL of service (sts, logs, firehose, s3) at the fake.
func AWSEndpoint(service string) string { return "https://" + service + "." + AWSDomain }

// OpenSearchHost is the host name of the fake Amazon OpenSearch domain called domain.
func OpenSearchHost(domain string) string { return "search-" + domain + "." + AWSDomain }

// AWS answers, over HTTPS on port 443 of one loopback address, the calls Fluent Bit
// 5.1.1's AWS outputs make, and nothing else (anything else is a Problem):
//
//   - STS AssumeRole (GET, query parameters; the XML answer), signed by the base
//     credentials, issuing temporary credentials for the role;
//   - CloudWatch Logs CreateLogGroup, CreateLogStream, PutRetentionPolicy and
//     PutLogEvents (JSON 1.1 with X-Amz-Target), with the real service's errors for
//     groups and streams that exist or do not; route "cloudwatch:<group>";
//   - Data Firehose PutRecordBatch; route "firehose:<delivery stream>";
//   - S3 PutObject (path-style, gzip or not, JSON lines); route "s3:<bucket>";
//   - OpenSearch _bulk (NDJSON, gzip or not); route "opensearch:<index>".
//
// Every request must carry a valid SigV4 signature for the service and region, from
// the base credentials or from credentials STS issued (whose session token it must
// also carry); Signers tells which identity wrote to each route.
type AWS struct {
	store
	// Addr is the loopback address listening on 443.
	Addr string
	// CA signed the fake's certificate; pods must trust it.
	CA []byte

	baseKey, baseSecret string
	srv                 *http.Server

	mu      sync.Mutex
	issued  map[string]issuedCreds // access key → what STS issued
	assumed map[string]int         // role ARN → AssumeRole calls
	signers map[string]map[string]int
	groups  map[string]map[string]bool // log group → streams
	objects map[string][]string        // bucket → keys
}

type issuedCreds struct{ secret, token, role string }

// StartAWS listens on addr:443 (a loopback address of its own; port 443 needs root)
// and accepts requests signed with the base credentials accessKey and secret, as the
// agent's pod would have them from its platform (IRSA, instance profile).
func StartAWS(addr, accessKey, secret string) (*AWS, error) {
	names := []string{"*." + AWSDomain}
	for _, svc := range []string{"sts", "logs", "firehose", "s3"} {
		names = append(names, svc+"."+AWSDomain)
	}
	certs, err := testcerts.New(names...)
	if err != nil {
		return nil, err
	}
	tlsConfig, err := certs.ServerConfig()
	if err != nil {
		return nil, err
	}
	l, err := net.Listen("tcp", net.JoinHostPort(addr, "443"))
	if err != nil {
		return nil, err
	}
	a := &AWS{store: newStore(), Addr: addr, CA: certs.CA, baseKey: accessKey, baseSecret: secret,
		issued: map[string]issuedCreds{}, assumed: map[string]int{}, signers: map[string]map[string]int{},
		groups: map[string]map[string]bool{}, objects: map[string][]string{}}
	a.srv = &http.Server{Handler: a, TLSConfig: tlsConfig, ErrorLog: discardLog()}
	go func() { _ = a.srv.ServeTLS(l, "", "") }()
	return a, nil
}

// Close stops listening.
func (a *AWS) Close() error { return a.srv.Close() }

// Hosts maps the names the fake answers to its address, for pods' hosts files.
func (a *AWS) Hosts(openSearchDomains ...string) map[string]string {
	h := map[string]string{}
	for _, svc := range []string{"sts", "logs", "firehose", "s3"} {
		h[svc+"."+AWSDomain] = a.Addr
	}
	for _, d := range openSearchDomains {
		h[OpenSearchHost(d)] = a.Addr
	}
	return h
}

// AssumedRoles counts AssumeRole calls per role ARN.
func (a *AWS) AssumedRoles() map[string]int {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := map[string]int{}
	for k, v := range a.assumed {
		out[k] = v
	}
	return out
}

// Signers counts, per route, the requests that delivered records by identity: a role
// ARN for credentials STS issued, "base" for the base credentials.
func (a *AWS) Signers(route string) map[string]int {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := map[string]int{}
	for k, v := range a.signers[route] {
		out[k] = v
	}
	return out
}

// LogStreams lists the streams of a log group.
func (a *AWS) LogStreams(group string) []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []string
	for s := range a.groups[group] {
		out = append(out, s)
	}
	return out
}

// Objects lists the keys written to bucket, in order.
func (a *AWS) Objects(bucket string) []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.objects[bucket]...)
}

func (a *AWS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// Every AWS answer names its request; cloudwatch_logs refuses one without.
	id := randomHex(16)
	w.Header().Set("X-Amzn-RequestId", id)
	w.Header().Set("X-Amz-Request-Id", id)
	body, err := readBody(r)
	if err != nil {
		a.refuse(w, r, http.StatusBadRequest, "MalformedRequest", err.Error())
		return
	}
	host, _, _ := strings.Cut(r.Host, ":")
	name, ok := strings.CutSuffix(host, "."+AWSDomain)
	if !ok {
		a.refuse(w, r, http.StatusBadRequest, "UnknownHost", "no service at "+r.Host)
		return
	}
	service := name
	if strings.HasPrefix(name, "search-") {
		service = "es"
	}
	who, err := a.authenticate(r, body, service)
	if err != nil {
		a.refuse(w, r, http.StatusForbidden, "SignatureDoesNotMatch", err.Error())
		return
	}
	switch service {
	case "sts":
		a.sts(w, r, who)
	case "logs":
		a.cloudWatchLogs(w, r, body, who)
	case "firehose":
		a.firehose(w, r, body, who)
	case "s3":
		a.s3(w, r, body, who)
	case "es":
		a.openSearch(w, r, body, who)
	default:
		a.refuse(w, r, http.StatusBadRequest, "UnknownService", "no service "+name)
	}
}

// authenticate checks the request's signature and returns who signed it.
func (a *AWS) authenticate(r *http.Request, body []byte, service string) (string, error) {
	sig, err := parseSigV4(r.Header.Get("Authorization"))
	if err != nil {
		return "", err
	}
	if sig.Service != service {
		return "", fmt.Errorf("signed for service %q, sent to %s", sig.Service, service)
	}
	secret, who := a.baseSecret, "base"
	if sig.AccessKey != a.baseKey {
		a.mu.Lock()
		c, ok := a.issued[sig.AccessKey]
		a.mu.Unlock()
		if !ok {
			return "", fmt.Errorf("unknown access key %s", sig.AccessKey)
		}
		if got := r.Header.Get("X-Amz-Security-Token"); got != c.token {
			return "", fmt.Errorf("access key %s came without its session token", sig.AccessKey)
		}
		secret, who = c.secret, c.role
	}
	if err := sig.verify(r, body, secret); err != nil {
		return "", err
	}
	return who, nil
}

func (a *AWS) delivered(route, who string, recs []Record) {
	a.add(route, recs...)
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.signers[route] == nil {
		a.signers[route] = map[string]int{}
	}
	a.signers[route][who]++
}

// refuse answers an error in the JSON shape the JSON services use (S3 and STS
// clients only read the status here) and keeps it as a problem.
func (a *AWS) refuse(w http.ResponseWriter, r *http.Request, status int, code, msg string) {
	a.problem("%s %s%s (%s): %s: %s", r.Method, r.Host, r.URL.RequestURI(), r.Header.Get("X-Amz-Target"), code, msg)
	awsError(w, status, code, msg)
}

func awsError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"__type": code, "message": msg})
}

func (a *AWS) sts(w http.ResponseWriter, r *http.Request, who string) {
	q := r.URL.Query()
	if q.Get("Action") != "AssumeRole" || q.Get("Version") != "2011-06-15" || q.Get("RoleArn") == "" || q.Get("RoleSessionName") == "" {
		a.refuse(w, r, http.StatusBadRequest, "InvalidAction", "only AssumeRole with RoleArn and RoleSessionName is served")
		return
	}
	if who != "base" {
		a.refuse(w, r, http.StatusForbidden, "AccessDenied", "role chaining is not expected here")
		return
	}
	role, session := q.Get("RoleArn"), q.Get("RoleSessionName")
	c := issuedCreds{secret: randomHex(20), token: randomHex(32), role: role}
	key := "ASIA" + strings.ToUpper(randomHex(8))
	a.mu.Lock()
	a.issued[key] = c
	a.assumed[role]++
	a.mu.Unlock()
	account := strings.Split(role, ":")[4]
	roleName := role[strings.LastIndex(role, "/")+1:]
	w.Header().Set("Content-Type", "text/xml")
	fmt.Fprintf(w, `<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <AssumeRoleResult>
    <AssumedRoleUser>
      <AssumedRoleId>AROA%s:%s</AssumedRoleId>
      <Arn>arn:aws:sts::%s:assumed-role/%s/%s</Arn>
    </AssumedRoleUser>
    <Credentials>
      <AccessKeyId>%s</AccessKeyId>
      <SecretAccessKey>%s</SecretAccessKey>
      <SessionToken>%s</SessionToken>
      <Expiration>%s</Expiration>
    </Credentials>
  </AssumeRoleResult>
  <ResponseMetadata><RequestId>%s</RequestId></ResponseMetadata>
</AssumeRoleResponse>
`, strings.ToUpper(randomHex(8)), xmlText(session), account, xmlText(roleName), xmlText(session), key, c.secret, c.token,
		time.Now().Add(time.Hour).UTC().Format(time.RFC3339), randomHex(16))
}

func (a *AWS) cloudWatchLogs(w http.ResponseWriter, r *http.Request, body []byte, who string) {
	var req struct {
		LogGroupName  string `json:"logGroupName"`
		LogStreamName string `json:"logStreamName"`
		LogEvents     []struct {
			Timestamp int64  `json:"timestamp"`
			Message   string `json:"message"`
		} `json:"logEvents"`
		RetentionInDays int `json:"retentionInDays"`
	}
	if err := json.Unmarshal(body, &req); err != nil || req.LogGroupName == "" {
		a.refuse(w, r, http.StatusBadRequest, "InvalidParameterException", fmt.Sprintf("body %q: %v", body, err))
		return
	}
	a.mu.Lock()
	streams, groupExists := a.groups[req.LogGroupName]
	a.mu.Unlock()
	ok := func(v any) {
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		_ = json.NewEncoder(w).Encode(v)
	}
	switch target := r.Header.Get("X-Amz-Target"); target {
	case "Logs_20140328.CreateLogGroup":
		if groupExists {
			// The real service's answer, which Fluent Bit takes as success.
			awsError(w, http.StatusBadRequest, "ResourceAlreadyExistsException", "The specified log group already exists")
			return
		}
		a.mu.Lock()
		a.groups[req.LogGroupName] = map[string]bool{}
		a.mu.Unlock()
		ok(struct{}{})
	case "Logs_20140328.PutRetentionPolicy":
		if !groupExists {
			a.refuse(w, r, http.StatusBadRequest, "ResourceNotFoundException", "The specified log group does not exist.")
			return
		}
		ok(struct{}{})
	case "Logs_20140328.CreateLogStream":
		switch {
		case !groupExists:
			// Fluent Bit creates the group on this answer (auto_create_group).
			awsError(w, http.StatusBadRequest, "ResourceNotFoundException", "The specified log group does not exist.")
		case streams[req.LogStreamName]:
			awsError(w, http.StatusBadRequest, "ResourceAlreadyExistsException", "The specified log stream already exists")
		default:
			a.mu.Lock()
			a.groups[req.LogGroupName][req.LogStreamName] = true
			a.mu.Unlock()
			ok(struct{}{})
		}
	case "Logs_20140328.PutLogEvents":
		if !groupExists || !streams[req.LogStreamName] {
			a.refuse(w, r, http.StatusBadRequest, "ResourceNotFoundException", "The specified log group or stream does not exist.")
			return
		}
		recs := make([]Record, 0, len(req.LogEvents))
		for i, e := range req.LogEvents {
			// The service refuses a batch out of chronological order.
			if i > 0 && e.Timestamp < req.LogEvents[i-1].Timestamp {
				a.refuse(w, r, http.StatusBadRequest, "InvalidParameterException", "Log events in a single PutLogEvents request must be in chronological order.")
				return
			}
			var rec Record
			if err := json.Unmarshal([]byte(e.Message), &rec); err != nil {
				rec = Record{"message": e.Message}
			}
			recs = append(recs, rec)
		}
		a.delivered("cloudwatch:"+req.LogGroupName, who, recs)
		ok(map[string]string{"nextSequenceToken": randomHex(28)})
	default:
		a.refuse(w, r, http.StatusBadRequest, "UnknownOperationException", "operation "+target+" is not served")
	}
}

func (a *AWS) firehose(w http.ResponseWriter, r *http.Request, body []byte, who string) {
	if target := r.Header.Get("X-Amz-Target"); target != "Firehose_20150804.PutRecordBatch" {
		a.refuse(w, r, http.StatusBadRequest, "UnknownOperationException", "operation "+target+" is not served")
		return
	}
	var req struct {
		DeliveryStreamName string
		Records            []struct{ Data []byte }
	}
	if err := json.Unmarshal(body, &req); err != nil || req.DeliveryStreamName == "" || len(req.Records) == 0 || len(req.Records) > 500 {
		a.refuse(w, r, http.StatusBadRequest, "InvalidArgumentException", fmt.Sprintf("a batch of 1 to 500 records to a named stream: %v", err))
		return
	}
	type response struct{ RecordId string }
	resp := struct {
		Encrypted        bool
		FailedPutCount   int
		RequestResponses []response
	}{}
	var recs []Record
	for _, rec := range req.Records {
		got, err := jsonLines(rec.Data)
		if err != nil {
			a.refuse(w, r, http.StatusBadRequest, "InvalidArgumentException", err.Error())
			return
		}
		recs = append(recs, got...)
		resp.RequestResponses = append(resp.RequestResponses, response{RecordId: randomHex(16)})
	}
	a.delivered("firehose:"+req.DeliveryStreamName, who, recs)
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	_ = json.NewEncoder(w).Encode(resp) // compact: Fluent Bit looks for "FailedPutCount":0
}

func (a *AWS) s3(w http.ResponseWriter, r *http.Request, body []byte, who string) {
	bucket, key, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	if r.Method != http.MethodPut || bucket == "" || key == "" || r.URL.RawQuery != "" {
		a.refuse(w, r, http.StatusBadRequest, "NotImplemented", "only PutObject (path-style) is served")
		return
	}
	recs, err := jsonLines(body)
	if err != nil {
		a.refuse(w, r, http.StatusBadRequest, "InvalidObject", err.Error())
		return
	}
	a.mu.Lock()
	a.objects[bucket] = append(a.objects[bucket], key)
	a.mu.Unlock()
	a.delivered("s3:"+bucket, who, recs)
	w.Header().Set("ETag", `"`+randomHex(16)+`"`)
	w.WriteHeader(http.StatusOK)
}

func (a *AWS) openSearch(w http.ResponseWriter, r *http.Request, body []byte, who string) {
	if r.Method != http.MethodPost || r.URL.Path != "/_bulk" {
		a.refuse(w, r, http.StatusBadRequest, "illegal_argument_exception", "only POST /_bulk is served")
		return
	}
	lines, err := jsonLines(body)
	if err != nil || len(lines)%2 != 0 {
		a.refuse(w, r, http.StatusBadRequest, "illegal_argument_exception", fmt.Sprintf("bulk body of action and document pairs: %v", err))
		return
	}
	type item map[string]map[string]any
	var items []item
	byIndex := map[string][]Record{}
	for i := 0; i < len(lines); i += 2 {
		action, meta := "", map[string]any(nil)
		for k, v := range lines[i] {
			action = k
			meta, _ = v.(map[string]any)
		}
		index, _ := meta["_index"].(string)
		if (action != "create" && action != "index") || index == "" {
			a.refuse(w, r, http.StatusBadRequest, "illegal_argument_exception", fmt.Sprintf("action %v", lines[i]))
			return
		}
		byIndex[index] = append(byIndex[index], lines[i+1])
		items = append(items, item{action: {"_index": index, "_id": randomHex(10), "status": 201, "result": "created"}})
	}
	for index, recs := range byIndex {
		a.delivered("opensearch:"+index, who, recs)
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"took": 1, "errors": false, "items": items})
}

// readBody reads the request body, gunzipped when Content-Encoding says gzip.
func readBody(r *http.Request) ([]byte, error) {
	raw, err := io.ReadAll(r.Body)
	if err != nil {
		return nil, err
	}
	r.Body = io.NopCloser(bytes.NewReader(raw))
	return raw, nil
}

func gunzip(data []byte) ([]byte, error) {
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	return io.ReadAll(zr)
}

// jsonLines decodes JSON lines, gzip-compressed or not (S3 objects and OpenSearch
// bodies may be).
func jsonLines(data []byte) ([]Record, error) {
	if len(data) > 2 && data[0] == 0x1f && data[1] == 0x8b {
		var err error
		if data, err = gunzip(data); err != nil {
			return nil, fmt.Errorf("gzip: %w", err)
		}
	}
	var recs []Record
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		var rec Record
		if err := json.Unmarshal(line, &rec); err != nil {
			return nil, fmt.Errorf("json line %q: %w", line, err)
		}
		recs = append(recs, rec)
	}
	return recs, sc.Err()
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func xmlText(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}

// discardLog keeps TLS handshake noise (clients probing, closing early) out of test output.
func discardLog() *log.Logger { return log.New(io.Discard, "", 0) }
