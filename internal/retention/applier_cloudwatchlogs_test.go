package retention

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"

	v1 "github.com/logplane/logplane/api/v1alpha1"
)

// Answers as CloudWatch Logs sends them (JSON 1.1 protocol).
const (
	cwGroup30 = `{"logGroups":[{"arn":"arn:aws:logs:eu-west-1:123456789012:log-group:/k8s/team-a:*","creationTime":1763900000000,` +
		`"logGroupName":"/k8s/team-a","metricFilterCount":0,"retentionInDays":30,"storedBytes":1048576,"logGroupClass":"STANDARD",` +
		`"logGroupArn":"arn:aws:logs:eu-west-1:123456789012:log-group:/k8s/team-a"}]}`
	cwGroup400   = `{"logGroups":[{"logGroupName":"/k8s/team-a","retentionInDays":400}]}`
	cwGroupNever = `{"logGroups":[{"logGroupName":"/k8s/team-a-old","retentionInDays":1},{"logGroupName":"/k8s/team-a"}]}`
	// A longer group name with the same prefix is not the group.
	cwOnlyLonger    = `{"logGroups":[{"logGroupName":"/k8s/team-a-old","retentionInDays":1}]}`
	cwDenied        = `{"__type":"AccessDeniedException","message":"User: arn:aws:sts::123456789012:assumed-role/logplane/i-0 is not authorized to perform: logs:PutRetentionPolicy on resource: arn:aws:logs:eu-west-1:123456789012:log-group:/k8s/team-a because no identity-based policy allows the logs:PutRetentionPolicy action"}`
	cwThrottled     = `{"__type":"ThrottlingException","message":"Rate exceeded"}`
	cwExists        = `{"__type":"ResourceAlreadyExistsException","message":"The specified log group already exists"}`
	cwDescribe      = "Logs_20140328.DescribeLogGroups"
	putRetention    = "Logs_20140328.PutRetentionPolicy"
	deleteRetention = "Logs_20140328.DeleteRetentionPolicy"
	createGroup     = "Logs_20140328.CreateLogGroup"
)

var jsonHeader = map[string]string{"Content-Type": "application/x-amz-json-1.1"}

func cwTarget(endpoint string, autoCreate bool) Target {
	return target("LogOutput", "team-a", "errors", v1.OutputSpec{Type: v1.OutputCloudWatchLogs, CloudWatchLogs: &v1.CloudWatchLogsOutput{
		AWS: staticAWS(endpoint), LogGroupName: "/k8s/team-a", LogStreamPrefix: ptr(v1.ConfigString("app-")), AutoCreateGroup: autoCreate}})
}

func TestCloudWatchLogsApplier(t *testing.T) {
	cases := []struct {
		name       string
		autoCreate bool
		requested  Days
		allow      bool
		script     []exchange
		wantState  v1.RetentionState
		wantErr    string
		wantBodies map[string]string // call → exact JSON body sent
	}{
		{name: "lengthened and rounded up", requested: 365, script: []exchange{
			{call: cwDescribe, status: 200, header: jsonHeader, body: cwGroup30},
			{call: putRetention, status: 200, header: jsonHeader, body: `{}`},
		}, wantState: v1.RetentionEnforced, wantBodies: map[string]string{
			cwDescribe:   `{"logGroupNamePrefix":"/k8s/team-a"}`,
			putRetention: `{"logGroupName":"/k8s/team-a","retentionInDays":365}`,
		}},
		// Issue 19 item 5: a group with no retention keeps logs forever; a 30-day policy
		// would delete everything older, so it is shortening and needs allowShortening.
		{name: "a group that never expires is not given 30 days without allowShortening", requested: 30, script: []exchange{
			{call: cwDescribe, status: 200, header: jsonHeader, body: cwGroupNever},
		}, wantState: v1.RetentionShorteningBlocked},
		{name: "audit 5y rounds to 1827 on a group that never expires, with allowShortening", requested: CloudWatchRetention(1825), allow: true, script: []exchange{
			{call: cwDescribe, status: 200, header: jsonHeader, body: cwGroupNever},
			{call: putRetention, status: 200, header: jsonHeader, body: `{}`},
		}, wantState: v1.RetentionEnforced, wantBodies: map[string]string{
			putRetention: `{"logGroupName":"/k8s/team-a","retentionInDays":1827}`,
		}},
		{name: "already enforced writes nothing", requested: 30, script: []exchange{
			{call: cwDescribe, status: 200, header: jsonHeader, body: cwGroup30},
		}, wantState: v1.RetentionEnforced},
		{name: "shortening is never applied without allowShortening", requested: 30, script: []exchange{
			{call: cwDescribe, status: 200, header: jsonHeader, body: cwGroup400},
		}, wantState: v1.RetentionShorteningBlocked},
		{name: "shortening with allowShortening", requested: 30, allow: true, script: []exchange{
			{call: cwDescribe, status: 200, header: jsonHeader, body: cwGroup400},
			{call: putRetention, status: 200, header: jsonHeader, body: `{}`},
		}, wantState: v1.RetentionEnforced, wantBodies: map[string]string{
			putRetention: `{"logGroupName":"/k8s/team-a","retentionInDays":30}`,
		}},
		{name: "beyond ten years never expires", requested: CloudWatchRetention(3660), script: []exchange{
			{call: cwDescribe, status: 200, header: jsonHeader, body: cwGroup400},
			{call: deleteRetention, status: 200, header: jsonHeader, body: `{}`},
		}, wantState: v1.RetentionEnforced, wantBodies: map[string]string{
			deleteRetention: `{"logGroupName":"/k8s/team-a"}`,
		}},
		{name: "missing group is created when the output may create it", autoCreate: true, requested: 90, script: []exchange{
			{call: cwDescribe, status: 200, header: jsonHeader, body: cwOnlyLonger},
			{call: createGroup, status: 200, header: jsonHeader, body: `{}`},
			{call: putRetention, status: 200, header: jsonHeader, body: `{}`},
		}, wantState: v1.RetentionEnforced, wantBodies: map[string]string{
			createGroup: `{"logGroupName":"/k8s/team-a"}`,
		}},
		{name: "group created by the agent in between", autoCreate: true, requested: 90, script: []exchange{
			{call: cwDescribe, status: 200, header: jsonHeader, body: `{"logGroups":[]}`},
			{call: createGroup, status: 400, header: jsonHeader, body: cwExists},
			{call: putRetention, status: 200, header: jsonHeader, body: `{}`},
		}, wantState: v1.RetentionEnforced},
		{name: "missing group is not created otherwise", requested: 90, script: []exchange{
			{call: cwDescribe, status: 200, header: jsonHeader, body: `{"logGroups":[]}`},
		}, wantState: v1.RetentionFailed, wantErr: "log group /k8s/team-a does not exist, and autoCreateGroup is off"},
		{name: "access denied is reported by its code, not the service's text", requested: 365, script: []exchange{
			{call: cwDescribe, status: 200, header: jsonHeader, body: cwGroup30},
			{call: putRetention, status: 400, header: jsonHeader, body: cwDenied},
		}, wantState: v1.RetentionFailed, wantErr: "failed to set the retention of log group /k8s/team-a: the destination answered HTTP 400 (the destination refused the request), AWS error AccessDeniedException"},
		{name: "throttling is retried by the SDK", requested: 30, script: []exchange{
			{call: cwDescribe, status: 400, header: jsonHeader, body: cwThrottled},
			{call: cwDescribe, status: 200, header: jsonHeader, body: cwGroup30},
		}, wantState: v1.RetentionEnforced},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fake := newFake(t, false, c.script...)
			a, err := NewApplier(t.Context(), cwTarget(fake.server.URL, c.autoCreate), secrets(awsKeys))
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
			for call, want := range c.wantBodies {
				r := fake.request(call)
				assertJSON(t, r.body, want)
				assertSigV4(t, r.header, "AKIDEXAMPLE", "logs")
				if ct := r.header.Get("Content-Type"); ct != "application/x-amz-json-1.1" {
					t.Errorf("Content-Type %q", ct)
				}
			}
		})
	}
}

// TestCloudWatchLogsAssumeRole: with roleArn the applier first asks STS (at
// stsEndpoint, with externalId) and then signs with the role's temporary keys.
func TestCloudWatchLogsAssumeRole(t *testing.T) {
	sts := newFake(t, false, exchange{call: "POST /", status: 200, header: map[string]string{"Content-Type": "text/xml"}, body: `<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <AssumeRoleResult>
    <AssumedRoleUser><Arn>arn:aws:sts::123456789012:assumed-role/log-retention/logplane-retention</Arn><AssumedRoleId>AROA3XFRBF535PLBIFPI4:logplane-retention</AssumedRoleId></AssumedRoleUser>
    <Credentials><AccessKeyId>ASIAIOSFODNN7EXAMPLE</AccessKeyId><SecretAccessKey>wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY</SecretAccessKey><SessionToken>FQoGZXIvYXdzEXAMPLETOKEN</SessionToken><Expiration>2099-01-01T00:00:00Z</Expiration></Credentials>
  </AssumeRoleResult>
  <ResponseMetadata><RequestId>c6104cbe-af31-11e0-8154-cbc7ccf896c7</RequestId></ResponseMetadata>
</AssumeRoleResponse>`})
	logs := newFake(t, false,
		exchange{call: cwDescribe, status: 200, header: jsonHeader, body: cwGroup30},
		exchange{call: putRetention, status: 200, header: jsonHeader, body: `{}`})
	tg := cwTarget(logs.server.URL, false)
	tg.Spec.CloudWatchLogs.AWS.RoleArn = "arn:aws:iam::123456789012:role/log-retention"
	tg.Spec.CloudWatchLogs.AWS.ExternalID = "team-a-logs"
	tg.Spec.CloudWatchLogs.AWS.StsEndpoint = ptr(v1.EndpointURL(sts.server.URL))
	a, err := NewApplier(t.Context(), tg, secrets(awsKeys))
	if err != nil {
		t.Fatal(err)
	}
	if d, err := Enforce(t.Context(), a, 90, false); err != nil || d.State != v1.RetentionEnforced {
		t.Fatalf("Enforce = %+v, %v", d, err)
	}
	sts.done()
	logs.done()
	form, err := url.ParseQuery(sts.request("POST /").body)
	if err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]string{"Action": "AssumeRole", "RoleArn": "arn:aws:iam::123456789012:role/log-retention",
		"ExternalId": "team-a-logs", "RoleSessionName": "logplane-retention"} {
		if got := form.Get(k); got != want {
			t.Errorf("AssumeRole %s = %q, want %q", k, got, want)
		}
	}
	assertSigV4(t, sts.request("POST /").header, "AKIDEXAMPLE", "sts")
	put := logs.request(putRetention)
	assertSigV4(t, put.header, "ASIAIOSFODNN7EXAMPLE", "logs")
	if tok := put.header.Get("X-Amz-Security-Token"); tok != "FQoGZXIvYXdzEXAMPLETOKEN" {
		t.Errorf("X-Amz-Security-Token %q", tok)
	}
}

func TestAWSSecretMissing(t *testing.T) {
	_, err := NewApplier(t.Context(), cwTarget("http://127.0.0.1:1", false), secrets(nil))
	if err == nil || !strings.Contains(err.Error(), "aws/id") {
		t.Fatalf("error %v, want the missing Secret key named", err)
	}
}

// assertJSON compares two JSON documents by value.
func assertJSON(t *testing.T, got, want string) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal([]byte(got), &g); err != nil {
		t.Fatalf("body %q is not JSON: %v", got, err)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatal(err)
	}
	gb, _ := json.Marshal(g)
	wb, _ := json.Marshal(w)
	if string(gb) != string(wb) {
		t.Errorf("body %s, want %s", gb, wb)
	}
}
