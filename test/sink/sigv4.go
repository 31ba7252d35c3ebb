package sink

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// sigv4 is one request's AWS Signature Version 4, as the Authorization header states it.
type sigv4 struct {
	AccessKey, Date, Region, Service string
	SignedHeaders                    []string
	Signature                        string
}

// parseSigV4 reads "AWS4-HMAC-SHA256 Credential=AKID/20260101/eu-west-1/logs/aws4_request,
// SignedHeaders=host;x-amz-date, Signature=hex".
func parseSigV4(auth string) (sigv4, error) {
	rest, ok := strings.CutPrefix(auth, "AWS4-HMAC-SHA256 ")
	if !ok {
		return sigv4{}, fmt.Errorf("not a SigV4 Authorization header: %q", auth)
	}
	var s sigv4
	for part := range strings.SplitSeq(rest, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "Credential":
			f := strings.Split(v, "/")
			if len(f) != 5 || f[4] != "aws4_request" {
				return sigv4{}, fmt.Errorf("malformed credential scope %q", v)
			}
			s.AccessKey, s.Date, s.Region, s.Service = f[0], f[1], f[2], f[3]
		case "SignedHeaders":
			s.SignedHeaders = strings.Split(v, ";")
		case "Signature":
			s.Signature = v
		}
	}
	if s.AccessKey == "" || len(s.SignedHeaders) == 0 || s.Signature == "" {
		return sigv4{}, fmt.Errorf("incomplete SigV4 Authorization header: %q", auth)
	}
	return s, nil
}

// verify recomputes the signature of r (whose body is body) with secret, as AWS does,
// and returns the canonical request when it does not match.
func (s sigv4) verify(r *http.Request, body []byte, secret string) error {
	if !slices.Contains(s.SignedHeaders, "host") {
		return fmt.Errorf("the host header is not signed")
	}
	amzDate := r.Header.Get("X-Amz-Date")
	if !strings.HasPrefix(amzDate, s.Date) {
		return fmt.Errorf("X-Amz-Date %q is not of the credential's day %s", amzDate, s.Date)
	}
	payload := r.Header.Get("X-Amz-Content-Sha256")
	if payload == "" {
		sum := sha256.Sum256(body)
		payload = hex.EncodeToString(sum[:])
	}
	var headers strings.Builder
	for _, h := range s.SignedHeaders {
		v := strings.Join(r.Header.Values(h), ",")
		switch {
		case h == "host":
			v = r.Host
		case h == "content-length" && v == "" && r.ContentLength >= 0:
			v = strconv.FormatInt(r.ContentLength, 10)
		}
		headers.WriteString(h + ":" + strings.Join(strings.Fields(v), " ") + "\n")
	}
	canonical := strings.Join([]string{r.Method, canonicalPath(r.URL.EscapedPath()), canonicalQuery(r.URL.RawQuery),
		headers.String(), strings.Join(s.SignedHeaders, ";"), payload}, "\n")
	scope := strings.Join([]string{s.Date, s.Region, s.Service, "aws4_request"}, "/")
	sum := sha256.Sum256([]byte(canonical))
	toSign := "AWS4-HMAC-SHA256\n" + amzDate + "\n" + scope + "\n" + hex.EncodeToString(sum[:])
	key := []byte("AWS4" + secret)
	for _, part := range []string{s.Date, s.Region, s.Service, "aws4_request"} {
		key = hmacSHA256(key, part)
	}
	if want := hex.EncodeToString(hmacSHA256(key, toSign)); !hmac.Equal([]byte(want), []byte(s.Signature)) {
		return fmt.Errorf("signature mismatch over the canonical request\n%s", canonical)
	}
	return nil
}

func hmacSHA256(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}

// canonicalPath is the path as sent, each segment in AWS's encoding (the paths the
// fakes see are plain; S3 keys are encoded once, as S3 expects).
func canonicalPath(p string) string {
	if p == "" {
		return "/"
	}
	segs := strings.Split(p, "/")
	for i, seg := range segs {
		if u, err := url.PathUnescape(seg); err == nil {
			segs[i] = awsEscape(u)
		}
	}
	return strings.Join(segs, "/")
}

// canonicalQuery sorts the parameters by name and value, each in AWS's encoding.
func canonicalQuery(raw string) string {
	if raw == "" {
		return ""
	}
	var pairs []string
	for kv := range strings.SplitSeq(raw, "&") {
		k, v, _ := strings.Cut(kv, "=")
		if uk, err := url.QueryUnescape(k); err == nil {
			k = uk
		}
		if uv, err := url.QueryUnescape(v); err == nil {
			v = uv
		}
		pairs = append(pairs, awsEscape(k)+"="+awsEscape(v))
	}
	slices.Sort(pairs)
	return strings.Join(pairs, "&")
}

// awsEscape is RFC 3986 percent-encoding of everything but the unreserved characters.
func awsEscape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~' {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}
