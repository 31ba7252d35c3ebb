package retention

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// elasticsearch owns one ILM policy and one index template per output. Plain net/http
// on the documented REST API, for the same reason as openSearch.
type elasticsearch struct {
	rest    *restClient
	target  Target
	name    string
	pattern string
	// Current's read of the others' settings, for Conflict.
	settings []SearchSetting
	governed map[string]string
	keeps    map[string]Days
}

func newElasticsearch(ctx context.Context, t Target, secret SecretValue) (Applier, error) {
	es := t.Spec.Elasticsearch
	httpClient, err := newHTTPClient(ctx, t.Spec.TLS, secret)
	if err != nil {
		return nil, err
	}
	var base string
	if es.CloudID != nil {
		host, err := cloudHost(string(*es.CloudID))
		if err != nil {
			return nil, err
		}
		base = baseURL("https", host, 0, es.Path)
	} else {
		scheme := "http"
		if t.Spec.TLS != nil {
			scheme = "https"
		}
		base = baseURL(scheme, string(es.Host), int(es.Port), es.Path)
	}
	rest := &restClient{http: httpClient, base: base, authorize: noAuth}
	switch {
	case es.BasicAuth != nil:
		password, err := secret(ctx, es.BasicAuth.Password)
		if err != nil {
			return nil, err
		}
		rest.authorize = basicAuth(string(es.BasicAuth.User), password)
	case es.APIKey != nil:
		key, err := secret(ctx, *es.APIKey)
		if err != nil {
			return nil, err
		}
		rest.authorize = headerAuth("Authorization", "ApiKey "+key)
	case es.CloudAuth != nil:
		userPassword, err := secret(ctx, *es.CloudAuth)
		if err != nil {
			return nil, err
		}
		user, password, _ := strings.Cut(userPassword, ":")
		rest.authorize = basicAuth(user, password)
	}
	return &elasticsearch{rest: rest, target: t, name: t.OwnedName(), pattern: IndexPattern(es.SearchIndex)}, nil
}

// cloudHost decodes an Elastic Cloud ID (name:base64(domain$es-uuid$kibana-uuid)) to
// the Elasticsearch host, with the port when the domain carries one.
func cloudHost(id string) (string, error) {
	_, encoded, ok := strings.Cut(id, ":")
	if !ok {
		encoded = id
	}
	raw, err := base64.StdEncoding.DecodeString(encoded)
	if err != nil {
		return "", fmt.Errorf("cloudId is not an Elastic Cloud ID: %w", err)
	}
	parts := strings.Split(string(raw), "$")
	if len(parts) < 2 || parts[0] == "" || parts[1] == "" {
		return "", errors.New("cloudId is not an Elastic Cloud ID: it names no Elasticsearch host")
	}
	domain, port, hasPort := strings.Cut(parts[0], ":")
	if hasPort {
		return parts[1] + "." + domain + ":" + port, nil
	}
	return parts[1] + "." + domain, nil
}

func (e *elasticsearch) policyPath() string   { return "/_ilm/policy/" + url.PathEscape(e.name) }
func (e *elasticsearch) templatePath() string { return "/_index_template/" + url.PathEscape(e.name) }

func (e *elasticsearch) Current(ctx context.Context) (Observed, error) {
	body, err := e.rest.do(ctx, "GET", e.policyPath(), nil, true)
	if err != nil {
		return Observed{}, callError(fmt.Sprintf("read ILM policy %s", e.name), err)
	}
	obs := Observed{Days: Forever, Stale: true}
	if body != nil {
		if obs.Days, err = ILMCurrent(body, e.name); err != nil {
			return Observed{}, err
		}
	}
	tpl, err := e.rest.do(ctx, "GET", e.templatePath(), nil, true)
	if err != nil {
		return Observed{}, callError(fmt.Sprintf("read index template %s", e.name), err)
	}
	if tpl != nil {
		attached, err := IndexTemplateCurrent(tpl, e.pattern, e.name)
		if err != nil {
			return Observed{}, err
		}
		obs.Stale = !attached
	}
	return obs, e.readOthers(ctx)
}

// readOthers reads every ILM policy and index template of the cluster and the ILM
// policy of every existing index of the output's pattern, for Conflict.
func (e *elasticsearch) readOthers(ctx context.Context) error {
	body, err := e.rest.do(ctx, "GET", "/_ilm/policy", nil, false)
	if err != nil {
		return callError("read the ILM policies", err)
	}
	if e.keeps, err = ILMPolicies(body); err != nil {
		return err
	}
	if body, err = e.rest.do(ctx, "GET", "/_index_template", nil, false); err != nil {
		return callError("read the index templates", err)
	}
	if e.settings, err = IndexTemplates(body, e.keeps); err != nil {
		return err
	}
	body, err = e.rest.do(ctx, "GET", "/"+url.PathEscape(e.pattern)+"/_settings/index.lifecycle.name?allow_no_indices=true&expand_wildcards=open&flat_settings=true", nil, true)
	if err != nil {
		return callError(fmt.Sprintf("read the ILM policies of the indices %s", e.pattern), err)
	}
	e.governed = nil
	if body != nil {
		if e.governed, err = IndexLifecycles(body); err != nil {
			return err
		}
	}
	return nil
}

// Conflict names the settings of others, read by Current, that logplane's template
// and policy for days would cut short.
func (e *elasticsearch) Conflict(days Days) string {
	if c := SearchConflicts("index template", e.name, e.pattern, days, e.settings, e.governed, e.keeps); len(c) > 0 {
		return SearchConflictMessage("index template", e.name, e.pattern, days, c)
	}
	return ""
}

// Apply writes the policy, then the template that names it on new indices, then the
// same setting on the indices that exist already (a template applies only at creation).
func (e *elasticsearch) Apply(ctx context.Context, days Days) error {
	policy, err := ILMPolicy(e.target, days)
	if err != nil {
		return err
	}
	if _, err := e.rest.do(ctx, "PUT", e.policyPath(), policy, false); err != nil {
		return callError(fmt.Sprintf("write ILM policy %s", e.name), err)
	}
	tpl, err := IndexTemplate(e.target, e.pattern, e.name)
	if err != nil {
		return err
	}
	if _, err := e.rest.do(ctx, "PUT", e.templatePath(), tpl, false); err != nil {
		return callError(fmt.Sprintf("write index template %s", e.name), err)
	}
	settings := map[string]string{"index.lifecycle.name": e.name}
	if _, err := e.rest.do(ctx, "PUT", "/"+url.PathEscape(e.pattern)+"/_settings?allow_no_indices=true&expand_wildcards=open", settings, false); err != nil {
		return callError(fmt.Sprintf("attach ILM policy %s to the indices %s", e.name, e.pattern), err)
	}
	return nil
}
