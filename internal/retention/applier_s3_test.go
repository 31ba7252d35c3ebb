package retention

import (
	"strings"
	"testing"

	v1 "github.com/logplane/logplane/api/v1alpha1"
)

// Answers as S3 sends them (REST-XML).
const (
	s3Foreign = `<?xml version="1.0" encoding="UTF-8"?>
<LifecycleConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Rule><ID>archive-to-glacier</ID><Filter><Prefix>billing/</Prefix></Filter><Status>Enabled</Status><Transition><Days>30</Days><StorageClass>GLACIER</StorageClass></Transition></Rule><Rule><ID>tmp</ID><Filter><Tag><Key>tmp</Key><Value>yes</Value></Tag></Filter><Status>Disabled</Status><Expiration><Days>1</Days></Expiration></Rule></LifecycleConfiguration>`
	s3WithOwn400 = `<?xml version="1.0" encoding="UTF-8"?>
<LifecycleConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Rule><ID>archive-to-glacier</ID><Filter><Prefix>billing/</Prefix></Filter><Status>Enabled</Status><Transition><Days>30</Days><StorageClass>GLACIER</StorageClass></Transition></Rule><Rule><ID>logplane-lo.team-a.archive</ID><Filter><Prefix>logs/</Prefix></Filter><Status>Enabled</Status><Expiration><Days>400</Days></Expiration><AbortIncompleteMultipartUpload><DaysAfterInitiation>7</DaysAfterInitiation></AbortIncompleteMultipartUpload></Rule></LifecycleConfiguration>`
	s3OwnOnly = `<?xml version="1.0" encoding="UTF-8"?>
<LifecycleConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Rule><ID>logplane-lo.team-a.archive</ID><Filter><Prefix>old/</Prefix></Filter><Status>Enabled</Status><Expiration><Days>30</Days></Expiration></Rule></LifecycleConfiguration>`
	s3NoConfig = `<?xml version="1.0" encoding="UTF-8"?>
<Error><Code>NoSuchLifecycleConfiguration</Code><Message>The lifecycle configuration does not exist</Message><BucketName>team-a-logs</BucketName><RequestId>8WA0Z4B1XQMNK2RR</RequestId><HostId>Zm9vYmFy</HostId></Error>`
	s3Denied = `<?xml version="1.0" encoding="UTF-8"?>
<Error><Code>AccessDenied</Code><Message>User: arn:aws:iam::123456789012:user/fluent is not authorized to perform: s3:PutLifecycleConfiguration on resource: "arn:aws:s3:::team-a-logs" because no identity-based policy allows the s3:PutLifecycleConfiguration action</Message><RequestId>8WA0Z4B1XQMNK2RS</RequestId><HostId>Zm9vYmFy</HostId></Error>`
	s3NoBucket = `<?xml version="1.0" encoding="UTF-8"?>
<Error><Code>NoSuchBucket</Code><Message>The specified bucket does not exist</Message><BucketName>team-a-logs</BucketName><RequestId>8WA0Z4B1XQMNK2RT</RequestId><HostId>Zm9vYmFy</HostId></Error>`
	getLifecycle    = "GET /team-a-logs?lifecycle="
	putLifecycle    = "PUT /team-a-logs?lifecycle="
	deleteLifecycle = "DELETE /team-a-logs?lifecycle="
)

var (
	xmlHeader = map[string]string{"Content-Type": "application/xml"}
	// S3 reports the bucket's default for transitions; a write must carry it back.
	minSizeHeader = map[string]string{"Content-Type": "application/xml", "X-Amz-Transition-Default-Minimum-Object-Size": "varies_by_storage_class"}
)

func s3Target(endpoint string) Target {
	return target("LogOutput", "team-a", "archive", v1.OutputSpec{Type: v1.OutputS3, S3: &v1.S3Output{
		AWS: staticAWS(endpoint), Bucket: "team-a-logs", KeyFormat: "/logs/$TAG/%Y/%m/%d/%H%M%S-$UUID"}})
}

func TestS3Applier(t *testing.T) {
	cases := []struct {
		name      string
		requested Days
		allow     bool
		script    []exchange
		wantState v1.RetentionState
		wantErr   string
		// wantPut names the golden file of the lifecycle configuration written.
		wantPut string
	}{
		{name: "foreign rules are kept", requested: 90, allow: true, script: []exchange{
			{call: getLifecycle, status: 200, header: minSizeHeader, body: s3Foreign},
			{call: putLifecycle, status: 200, header: minSizeHeader},
		}, wantState: v1.RetentionEnforced, wantPut: "s3-put-foreign-kept.xml"},
		{name: "first rule in a bucket without configuration", requested: 30, allow: true, script: []exchange{
			{call: getLifecycle, status: 404, header: xmlHeader, body: s3NoConfig},
			{call: putLifecycle, status: 200, header: xmlHeader},
		}, wantState: v1.RetentionEnforced, wantPut: "s3-put-first.xml"},
		{name: "own rule lengthened in place", requested: 1827, script: []exchange{
			{call: getLifecycle, status: 200, header: xmlHeader, body: s3WithOwn400},
			{call: putLifecycle, status: 200, header: xmlHeader},
		}, wantState: v1.RetentionEnforced, wantPut: "s3-put-lengthened.xml"},
		{name: "enforced rule is not rewritten", requested: 400, script: []exchange{
			{call: getLifecycle, status: 200, header: xmlHeader, body: s3WithOwn400},
		}, wantState: v1.RetentionEnforced},
		{name: "shortening is never applied without allowShortening", requested: 30, script: []exchange{
			{call: getLifecycle, status: 200, header: xmlHeader, body: s3WithOwn400},
		}, wantState: v1.RetentionShorteningBlocked},
		{name: "rule follows a changed key prefix", requested: 30, script: []exchange{
			{call: getLifecycle, status: 200, header: xmlHeader, body: s3OwnOnly},
			{call: putLifecycle, status: 200, header: xmlHeader},
		}, wantState: v1.RetentionEnforced, wantPut: "s3-put-prefix-moved.xml"},
		{name: "access denied", requested: 90, allow: true, script: []exchange{
			{call: getLifecycle, status: 200, header: xmlHeader, body: s3Foreign},
			{call: putLifecycle, status: 403, header: xmlHeader, body: s3Denied},
		}, wantState: v1.RetentionFailed, wantErr: "failed to write the lifecycle configuration of bucket team-a-logs: the destination answered HTTP 403 (the credentials may not manage retention there), AWS error AccessDenied"},
		{name: "bucket missing", requested: 90, script: []exchange{
			{call: getLifecycle, status: 404, header: xmlHeader, body: s3NoBucket},
		}, wantState: v1.RetentionFailed, wantErr: "HTTP 404 (not found), AWS error NoSuchBucket"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fake := newFake(t, false, c.script...)
			a, err := NewApplier(t.Context(), s3Target(fake.server.URL), secrets(awsKeys))
			if err != nil {
				t.Fatal(err)
			}
			d, err := Enforce(t.Context(), a, c.requested, c.allow)
			if c.wantErr == "" && err != nil || c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)) {
				t.Fatalf("error %v, want %q", err, c.wantErr)
			}
			if d.State != c.wantState {
				t.Errorf("state %s, want %s", d.State, c.wantState)
			}
			fake.done()
			assertSigV4(t, fake.request(getLifecycle).header, "AKIDEXAMPLE", "s3")
			if c.wantPut == "" {
				return
			}
			put := fake.request(putLifecycle)
			assertSigV4(t, put.header, "AKIDEXAMPLE", "s3")
			golden(t, c.wantPut, []byte(put.body+"\n"))
			// S3 rejects a lifecycle write without an integrity checksum.
			if put.header.Get("Content-Md5") == "" && !hasChecksumHeader(put.header) {
				t.Errorf("PUT lifecycle without Content-MD5 or x-amz-checksum-*: %v", put.header)
			}
			if c.script[0].header["X-Amz-Transition-Default-Minimum-Object-Size"] != "" &&
				put.header.Get("X-Amz-Transition-Default-Minimum-Object-Size") != "varies_by_storage_class" {
				t.Errorf("the bucket's transition default was not written back: %v", put.header)
			}
		})
	}
}

func hasChecksumHeader(h map[string][]string) bool {
	for k := range h {
		if strings.HasPrefix(strings.ToLower(k), "x-amz-checksum-") {
			return true
		}
	}
	return false
}

// TestS3ForeverRemovesOnlyOwnRule: when logplane's rule was the bucket's only one,
// removing it deletes the configuration (S3 refuses an empty one).
func TestS3ForeverRemovesOnlyOwnRule(t *testing.T) {
	fake := newFake(t, false,
		exchange{call: getLifecycle, status: 200, header: xmlHeader, body: s3OwnOnly},
		exchange{call: deleteLifecycle, status: 204})
	a, err := NewApplier(t.Context(), s3Target(fake.server.URL), secrets(awsKeys))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Current(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := a.Apply(t.Context(), Forever); err != nil {
		t.Fatal(err)
	}
	fake.done()
}

// s3PlatformAudit is a shared bucket in which the platform keeps audit/ for five years.
const s3PlatformAudit = `<?xml version="1.0" encoding="UTF-8"?>
<LifecycleConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Rule><ID>platform-audit-5y</ID><Filter><Prefix>audit/</Prefix></Filter><Status>Enabled</Status><Expiration><Days>1825</Days></Expiration></Rule></LifecycleConfiguration>`

// TestS3TenantRuleOverPlatformAuditIsRefused is the attack of issue 19 item 5: a
// tenant output with keyFormat /a$TAG (key prefix "a", which reaches audit/) and a
// 30-day policy on the platform's bucket. Even with allowShortening the rule is not
// written — the bucket is only read — and the refusal names both rules.
func TestS3TenantRuleOverPlatformAuditIsRefused(t *testing.T) {
	fake := newFake(t, false, exchange{call: "GET /shared-logs?lifecycle=", status: 200, header: xmlHeader, body: s3PlatformAudit})
	tg := target("LogOutput", "shop", "archive", v1.OutputSpec{Type: v1.OutputS3, S3: &v1.S3Output{
		AWS: staticAWS(fake.server.URL), Bucket: "shared-logs", KeyFormat: "/a$TAG"}})
	a, err := NewApplier(t.Context(), tg, secrets(awsKeys))
	if err != nil {
		t.Fatal(err)
	}
	d, err := Enforce(t.Context(), a, 30, true)
	if err != nil {
		t.Fatal(err)
	}
	fake.done()
	if calls := fake.calls(); len(calls) != 1 {
		t.Errorf("calls %v; the bucket's configuration must only be read", calls)
	}
	want := `in bucket shared-logs, rule "logplane-lo.shop.archive" (prefix "a", 30d) would expire objects that rule "platform-audit-5y" (prefix "audit/", 1825d) keeps longer`
	if d.State != v1.RetentionConflict || d.Apply || !strings.HasPrefix(d.Conflict, want) {
		t.Errorf("decision %+v\nwant Conflict with %q", d, want)
	}
}

// A tenant prefix beside the platform's is written, and the platform's rule comes back as it was.
func TestS3DisjointPrefixIsWritten(t *testing.T) {
	fake := newFake(t, false,
		exchange{call: "GET /shared-logs?lifecycle=", status: 200, header: xmlHeader, body: s3PlatformAudit},
		exchange{call: "PUT /shared-logs?lifecycle=", status: 200, header: xmlHeader})
	tg := target("LogOutput", "shop", "archive", v1.OutputSpec{Type: v1.OutputS3, S3: &v1.S3Output{
		AWS: staticAWS(fake.server.URL), Bucket: "shared-logs", KeyFormat: "/teams/shop/$TAG"}})
	a, err := NewApplier(t.Context(), tg, secrets(awsKeys))
	if err != nil {
		t.Fatal(err)
	}
	if d, err := Enforce(t.Context(), a, 30, true); err != nil || d.State != v1.RetentionEnforced {
		t.Fatalf("%+v, %v", d, err)
	}
	fake.done()
	body := fake.request("PUT /shared-logs?lifecycle=").body
	for _, want := range []string{"<Rule><Expiration><Days>1825</Days></Expiration><Filter><Prefix>audit/</Prefix></Filter><ID>platform-audit-5y</ID><Status>Enabled</Status></Rule>",
		"<ID>logplane-lo.shop.archive</ID>", "<Prefix>teams/shop/</Prefix>"} {
		if !strings.Contains(body, want) {
			t.Errorf("PUT %s\nlacks %s", body, want)
		}
	}
}

// Deleting an output removes its rule by ID and writes every other rule back; a bucket
// without the rule, without a configuration, or gone, is not written.
func TestS3Remove(t *testing.T) {
	cases := []struct {
		name   string
		script []exchange
		// wantPut is the golden of the configuration written, if any.
		wantPut string
	}{
		{name: "own rule removed, others kept", script: []exchange{
			{call: getLifecycle, status: 200, header: minSizeHeader, body: s3WithOwn400},
			{call: putLifecycle, status: 200, header: xmlHeader},
		}, wantPut: "s3-put-removed.xml"},
		{name: "the last rule removed deletes the configuration", script: []exchange{
			{call: getLifecycle, status: 200, header: xmlHeader, body: s3OwnOnly},
			{call: deleteLifecycle, status: 204},
		}},
		{name: "no rule of ours", script: []exchange{{call: getLifecycle, status: 200, header: xmlHeader, body: s3Foreign}}},
		{name: "no configuration", script: []exchange{{call: getLifecycle, status: 404, header: xmlHeader, body: s3NoConfig}}},
		{name: "no bucket", script: []exchange{{call: getLifecycle, status: 404, header: xmlHeader, body: s3NoBucket}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fake := newFake(t, false, c.script...)
			a, err := NewApplier(t.Context(), s3Target(fake.server.URL), secrets(awsKeys))
			if err != nil {
				t.Fatal(err)
			}
			if err := a.(Remover).Remove(t.Context()); err != nil {
				t.Fatal(err)
			}
			fake.done()
			if c.wantPut != "" {
				put := fake.request(putLifecycle)
				golden(t, c.wantPut, []byte(put.body+"\n"))
				if strings.Contains(put.body, ownRule) || !strings.Contains(put.body, "<ID>archive-to-glacier</ID>") {
					t.Errorf("PUT %s", put.body)
				}
				if put.header.Get("X-Amz-Transition-Default-Minimum-Object-Size") != "varies_by_storage_class" {
					t.Errorf("the bucket's transition default was not written back: %v", put.header)
				}
			}
		})
	}
}

func TestS3RemoveFailureIsReported(t *testing.T) {
	fake := newFake(t, false,
		exchange{call: getLifecycle, status: 200, header: xmlHeader, body: s3WithOwn400},
		exchange{call: putLifecycle, status: 403, header: xmlHeader, body: s3Denied})
	a, err := NewApplier(t.Context(), s3Target(fake.server.URL), secrets(awsKeys))
	if err != nil {
		t.Fatal(err)
	}
	err = a.(Remover).Remove(t.Context())
	if err == nil || !strings.Contains(err.Error(), "failed to write the lifecycle configuration of bucket team-a-logs: the destination answered HTTP 403") {
		t.Errorf("error %v", err)
	}
}
