package retention

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"time"

	v1 "github.com/logplane/logplane/api/v1alpha1"
)

// openSearch owns one ISM policy per output, attached to the output's daily indices.
// Plain net/http on the documented REST API: the official opensearch-go client adds a
// module tree for four calls, and SigV4 comes from the AWS SDK either way.
type openSearch struct {
	rest    *restClient
	target  Target
	id      string
	pattern string
	// Current's read, for a conditional update (if_seq_no/if_primary_term).
	exists           bool
	seqNo, primaryTm int64
	// Current's read of the others' settings, for Conflict.
	settings []SearchSetting
	governed map[string]string
	keeps    map[string]Days
}

func newOpenSearch(ctx context.Context, t Target, secret SecretValue) (Applier, error) {
	o := t.Spec.OpenSearch
	httpClient, err := newHTTPClient(ctx, t.Spec.TLS, secret)
	if err != nil {
		return nil, err
	}
	// As in the renderer: Amazon OpenSearch is HTTPS only, otherwise TLS follows the tls block.
	scheme := "http"
	if t.Spec.TLS != nil || o.AWS != nil {
		scheme = "https"
	}
	rest := &restClient{http: httpClient, base: baseURL(scheme, string(o.Host), int(o.Port), o.Path), authorize: noAuth}
	switch {
	case o.AWS != nil:
		awsClient, err := newAWSHTTPClient(ctx, t.Spec.TLS, secret)
		if err != nil {
			return nil, err
		}
		cfg, err := awsConfig(ctx, o.AWS, secret, awsClient)
		if err != nil {
			return nil, err
		}
		rest.authorize = sigV4(cfg.Credentials, "es", o.AWS.Region, time.Now)
	case o.BasicAuth != nil:
		password, err := secret(ctx, o.BasicAuth.Password)
		if err != nil {
			return nil, err
		}
		rest.authorize = basicAuth(string(o.BasicAuth.User), password)
	}
	return &openSearch{rest: rest, target: t, id: t.OwnedName(), pattern: IndexPattern(o.SearchIndex)}, nil
}

func baseURL(scheme, host string, port int, path *v1.ConfigString) string {
	u := url.URL{Scheme: scheme, Host: host}
	if port != 0 {
		u.Host = host + ":" + strconv.Itoa(port)
	}
	if path != nil {
		u.Path = string(*path)
	}
	s := u.String()
	for len(s) > 0 && s[len(s)-1] == '/' {
		s = s[:len(s)-1]
	}
	return s
}

func (o *openSearch) policyPath() string { return "/_plugins/_ism/policies/" + url.PathEscape(o.id) }

func (o *openSearch) Current(ctx context.Context) (Observed, error) {
	body, err := o.rest.do(ctx, "GET", o.policyPath(), nil, true)
	if err != nil {
		return Observed{}, callError(fmt.Sprintf("read ISM policy %s", o.id), err)
	}
	if body == nil {
		return Observed{Days: Forever, Stale: true}, o.readOthers(ctx)
	}
	var meta struct {
		SeqNo       int64 `json:"_seq_no"`
		PrimaryTerm int64 `json:"_primary_term"`
	}
	if err := json.Unmarshal(body, &meta); err != nil {
		return Observed{}, fmt.Errorf("failed to read ISM policy %s: %w", o.id, errNotPolicy)
	}
	o.exists, o.seqNo, o.primaryTm = true, meta.SeqNo, meta.PrimaryTerm
	obs, err := ISMCurrent(body, o.pattern)
	if err != nil {
		return Observed{}, err
	}
	return obs, o.readOthers(ctx)
}

// ismPageSize is the number of policies asked for per page; a cluster's policies are
// few, so one page is the rule and ten thousand (the search window) the limit.
const ismPageSize = 1000

// readOthers reads every ISM policy of the cluster and the policy of every existing
// index of the output's pattern, for Conflict. What cannot be read whole fails the
// attempt: a conflict that was not looked for must not read as none.
func (o *openSearch) readOthers(ctx context.Context) error {
	o.settings, o.keeps = nil, map[string]Days{}
	for from := 0; ; from += ismPageSize {
		if from >= 10*ismPageSize {
			return fmt.Errorf("failed to read the ISM policies: there are more than %d", from)
		}
		q := url.Values{"size": {strconv.Itoa(ismPageSize)}, "from": {strconv.Itoa(from)}}
		body, err := o.rest.do(ctx, "GET", "/_plugins/_ism/policies?"+q.Encode(), nil, false)
		if err != nil {
			return callError("read the ISM policies", err)
		}
		page, total, err := ISMPolicies(body)
		if err != nil {
			return err
		}
		o.settings = append(o.settings, page...)
		if len(page) < ismPageSize || len(o.settings) >= total {
			break
		}
	}
	for _, s := range o.settings {
		o.keeps[s.ID] = s.Keeps
	}
	body, err := o.rest.do(ctx, "GET", "/_plugins/_ism/explain/"+url.PathEscape(o.pattern), nil, true)
	if err != nil {
		return callError(fmt.Sprintf("read the ISM policies of the indices %s", o.pattern), err)
	}
	o.governed = nil
	if body != nil {
		governed, whole, err := ISMExplain(body)
		if err != nil {
			return err
		}
		if !whole {
			return fmt.Errorf("failed to read the ISM policies of the indices %s: the answer does not hold every managed index", o.pattern)
		}
		o.governed = governed
	}
	return nil
}

// Conflict names the settings of others, read by Current, that logplane's policy for
// days would cut short.
func (o *openSearch) Conflict(days Days) string {
	if c := SearchConflicts("ISM policy", o.id, o.pattern, days, o.settings, o.governed, o.keeps); len(c) > 0 {
		return SearchConflictMessage("ISM policy", o.id, o.pattern, days, c)
	}
	return ""
}

// Apply writes the policy (conditionally on the version Current read, so a concurrent
// edit fails this attempt instead of being overwritten blindly), attaches it to the
// existing indices that have no policy yet, and moves indices on an older version of
// it to the new one: ISM indices keep the policy version they started with otherwise.
func (o *openSearch) Apply(ctx context.Context, days Days) error {
	doc, err := ISMPolicy(o.target, o.pattern, days)
	if err != nil {
		return err
	}
	path := o.policyPath()
	if o.exists {
		path += "?" + url.Values{"if_seq_no": {strconv.FormatInt(o.seqNo, 10)}, "if_primary_term": {strconv.FormatInt(o.primaryTm, 10)}}.Encode()
	}
	if _, err := o.rest.do(ctx, "PUT", path, doc, false); err != nil {
		return callError(fmt.Sprintf("write ISM policy %s", o.id), err)
	}
	attach := map[string]string{"policy_id": o.id}
	// Indices that already have a policy are reported as failures by add; that is expected.
	if _, err := o.rest.do(ctx, "POST", "/_plugins/_ism/add/"+url.PathEscape(o.pattern), attach, true); err != nil {
		return callError(fmt.Sprintf("attach ISM policy %s to %s", o.id, o.pattern), err)
	}
	if o.exists {
		if _, err := o.rest.do(ctx, "POST", "/_plugins/_ism/change_policy/"+url.PathEscape(o.pattern), attach, true); err != nil {
			return callError(fmt.Sprintf("move %s to the new ISM policy %s", o.pattern, o.id), err)
		}
	}
	return nil
}
