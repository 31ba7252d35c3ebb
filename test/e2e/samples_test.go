package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/logplane/logplane/internal/agent"
	"github.com/logplane/logplane/internal/conditions"
	"github.com/logplane/logplane/internal/sidecar"
	"github.com/logplane/logplane/test/fbrun"
	"github.com/logplane/logplane/test/localnode"
	"github.com/logplane/logplane/test/sink"
	"github.com/logplane/logplane/test/testenv"
)

// Base credentials of the agent's pods: what IRSA (or the instance profile) would give
// them in EKS. The operator does not set them; the node adds them to the pods it runs.
const (
	irsaAccessKey = "AKIAE2ESAMPLESAGENT1"
	irsaSecretKey = "e2e-samples-base-secret-key"
)

// The sample Loki tenant's credentials, as config/samples/tenant-file-sidecar.yaml sets them.
const lokiTenant, lokiUser, lokiPassword = "billing", "billing", "change-me"

// Every shipped sample starts and delivers: config/samples is applied as shipped, with
// only what points at the outside world pointed at fakes on loopback (see
// pointAtFakes), and the default agent, the events collector and the injected
// sidecar run with the real Fluent Bit. Each destination must receive exactly the
// lines its pipelines select, once: CloudWatch Logs and Kinesis Data Firehose through
// an assumed role (FireLens routing), OpenSearch signed with SigV4 through another
// (Java stack traces joined, debug pods dropped), S3 with a node file, systemd units
// of a real journal and Kubernetes events (the agent and the events collector), Loki
// with the files of a pod that got the sidecar from the webhook, timed as parsed.
func TestSamplesStartAndDeliver(t *testing.T) {
	start := time.Now()
	s := newScenarioWithoutAgent(t, "default")
	aws := startAWS(t)
	loki, err := sink.StartLoki("127.0.0.1:0", map[string][2]string{lokiTenant: {lokiUser, lokiPassword}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = loki.Close() })
	// What the cluster would give the pods: names of the AWS endpoints (DNS), the CA
	// of the fakes' certificates (the node's trust store, as a company CA), base AWS
	// credentials (IRSA), and emptyDirs on the node that the sidecar shares with the app.
	s.node.Hosts = aws.Hosts("apps")
	s.node.TrustedCAs = aws.CA
	s.node.Env = []string{"AWS_ACCESS_KEY_ID=" + irsaAccessKey, "AWS_SECRET_ACCESS_KEY=" + irsaSecretKey}
	s.node.EmptyDirsOnNode = true

	objs, err := testenv.LoadManifests(filepath.Join(testenv.RepoRoot(), "config", "samples"))
	if err != nil {
		t.Fatal(err)
	}
	pointAtFakes(t, objs, s.port, loki.Port)
	// Tenants that copy the platform's and the shop's destinations without a grant
	// (issue 19, item 3): applied with the samples, refused before the agent starts.
	intruders, err := testenv.DecodeYAML([]byte(intruderYAML))
	if err != nil {
		t.Fatal(err)
	}
	pointAtFakes(t, intruders, s.port, loki.Port)
	if err := testenv.Apply(s.ctx, s.k8s, "e2e", slices.Concat(objs, intruders)); err != nil {
		t.Fatal(err)
	}
	s.waitForIdentityRefused(intruders)
	t.Cleanup(func() { deleteAll(t, s.k8s, objs) })

	// The node file the node-and-events sample reads exists before the agent starts.
	auditLog := filepath.Join(s.node.Root, "var/log/kube-apiserver-audit.log")
	if err := os.WriteFile(auditLog, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	// So does the node's journal, which systemd-journald writes as on a node.
	journal, err := s.node.StartJournal()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		journal.Stop()
		if t.Failed() {
			t.Logf("journald log:\n%s", journal.Log())
		}
	})
	// The units have logged before the agent starts, as on any node; the agent
	// starts reading at the journal's tail (read_from_tail), so none of this is shipped.
	for _, unit := range []string{"kubelet.service", "containerd.service", "sshd.service"} {
		if err := journal.Write(unit, lines("node/"+unit+"/before-the-agent", 3, nil)...); err != nil {
			t.Fatal(err)
		}
	}
	s.startAgent(s.waitForConfig(objs))
	events := s.startEventsCollector()
	billingPod, logDirs := s.startSidecar("billing", "invoices-1", map[string]string{"app": "billing"}, "app")
	t.Logf("agent, events collector and sidecar running %s after the start", time.Since(start).Round(time.Second))

	// Container logs, written once the agent runs.
	today := time.Now().UTC().Format("2006.01.02")
	shopWeb := s.app("shop", "storefront-1", map[string]string{"app.kubernetes.io/part-of": "shop"}, "app", "istio-proxy")
	shopBatch := s.app("shop", "nightly-1", map[string]string{"app": "nightly"}, "app")
	paymentsAPI := s.app("payments", "charge-1", map[string]string{"app": "api"}, "app")
	paymentsDebug := s.app("payments", "ledger-debug-1", map[string]string{"app": "worker", "tier": "debug"}, "app")

	// The intruders' records: their pipelines are left out, so these reach no route.
	thief := s.app("intruder", "thief-1", map[string]string{"app": "thief"}, "app")
	write(t, thief, "app", lines("intruder/thief-1/app", 30, map[string]any{"level": "error"}))

	want := map[string][]entry{}
	// firelens-routing: errors and fatals to CloudWatch Logs, everything but health
	// checks to Firehose; the istio-proxy container and pods not part of the shop: nowhere.
	const cloudwatch, firehose = "cloudwatch:/shop/errors", "firehose:shop-logs-to-s3"
	levels := []string{"info", "error", "warn", "fatal", "ERROR", "debug"}
	var web []string
	for i := range 60 {
		e := entry{Src: "shop/storefront-1/app", Seq: i}
		level, msg := levels[i%len(levels)], fmt.Sprintf("order %d placed", i)
		switch i % 10 {
		case 3:
			msg = "GET /healthz HTTP/1.1 200" // never to Firehose; to CloudWatch when its level is error or fatal
		case 6:
			msg = "GET /readyz HTTP/1.1 200"
		case 9:
			msg = "GET /pingpong HTTP/1.1 200" // not a health check: \b does not match
		}
		web = append(web, message(e, map[string]any{"level": level, "msg": msg}))
		if strings.EqualFold(level, "error") || level == "fatal" {
			want[cloudwatch] = append(want[cloudwatch], e)
		}
		if !healthCheck.MatchString(msg) {
			want[firehose] = append(want[firehose], e)
		}
	}
	write(t, shopWeb, "app", web)
	write(t, shopWeb, "istio-proxy", lines("shop/storefront-1/istio-proxy", 20, map[string]any{"level": "error"}))
	write(t, shopBatch, "app", lines("shop/nightly-1/app", 20, map[string]any{"level": "error"}))

	// eks-opensearch-sigv4: namespaces labelled logging=opensearch, Java stack traces
	// joined into one record, pods labelled tier=debug dropped.
	openSearch := "opensearch:apps-" + today
	var api []string
	stackTraces := map[entry][]string{}
	for i := range 40 {
		e := entry{Src: "payments/charge-1/app", Seq: i}
		want[openSearch] = append(want[openSearch], e)
		if i%10 != 7 {
			api = append(api, message(e, map[string]any{"msg": "charged"}))
			continue
		}
		frames := []string{"\tat com.example.payments.Charge.run(Charge.java:42)", "\tat java.base/java.lang.Thread.run(Thread.java:1583)"}
		stackTraces[e] = frames
		api = append(api, fmt.Sprintf("java.lang.IllegalStateException: card declined %s", marker(e)))
		api = append(api, frames...)
	}
	write(t, paymentsAPI, "app", api)
	write(t, paymentsDebug, "app", lines("payments/ledger-debug-1/app", 20, nil))

	// node-and-events: a host file and systemd units of the node, and Kubernetes
	// events, to S3.
	const s3 = "s3:example-audit-logs"
	var audit []byte
	for i := range 25 {
		e := entry{Src: "node/kube-apiserver-audit", Seq: i}
		want[s3] = append(want[s3], e)
		audit = fmt.Appendf(audit, "%s\n", message(e, map[string]any{"apiVersion": "audit.k8s.io/v1", "verb": "get"}))
	}
	appendFile(t, auditLog, audit)
	// The agent reads from the journal's tail as its systemd input found it; one
	// entry, awaited, shows the input has positioned itself before the counted ones.
	first := entry{Src: "node/kubelet.service", Seq: -1}
	want[s3] = append(want[s3], first)
	if err := journal.Write("kubelet.service", message(first, nil)); err != nil {
		t.Fatal(err)
	}
	s.eventually(30*time.Second, "the agent to read the journal", func() (bool, string) {
		n := s.inputRecords(`lp_in_systemd`)
		return n > 0, fmt.Sprintf("%d journal records read", n)
	})
	// The systemd units it names, and one it does not.
	for unit, n := range map[string]int{"kubelet.service": 10, "containerd.service": 5, "sshd.service": 5} {
		var out []string
		for i := range n {
			e := entry{Src: "node/" + unit, Seq: i}
			out = append(out, message(e, nil))
			if unit != "sshd.service" {
				want[s3] = append(want[s3], e)
			}
		}
		if err := journal.Write(unit, out...); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 5 {
		e := entry{Src: "events/shop", Seq: i}
		want[s3] = append(want[s3], e)
		ev := &corev1.Event{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: fmt.Sprintf("storefront-1.sample-%d", i)},
			InvolvedObject: corev1.ObjectReference{Kind: "Pod", Namespace: "shop", Name: "storefront-1", UID: shopWeb.Pod.UID},
			Reason:         "SampleCheck", Message: "checked " + marker(e), Type: corev1.EventTypeNormal,
			FirstTimestamp: metav1.Now(), LastTimestamp: metav1.Now(), Count: 1, Source: corev1.EventSource{Component: "e2e"}}
		if err := s.k8s.Create(s.ctx, ev); err != nil {
			t.Fatal(err)
		}
	}

	// tenant-file-sidecar: the app's files, in the emptyDirs it shares with the sidecar.
	const lokiRoute = "loki:" + lokiTenant
	writtenAt := map[entry]time.Time{}
	fileLines := func(dir, file string, n int, declared bool) {
		var b []byte
		for i := range n {
			e := entry{Src: "billing/invoices-1/" + file, Seq: i}
			at := time.Now().Add(time.Duration(i) * time.Millisecond).Truncate(time.Millisecond)
			b = fmt.Appendf(b, "%s INFO %s\n", at.Format("2006-01-02T15:04:05.000-0700"), message(e, nil))
			if declared {
				want[lokiRoute] = append(want[lokiRoute], e)
				writtenAt[e] = at
			}
		}
		host, ok := logDirs[dir]
		if !ok {
			t.Fatalf("the app does not share %s with the sidecar; it shares %v", dir, logDirs)
		}
		appendFile(t, filepath.Join(host, file), b)
	}
	fileLines("/var/log/billing", "app.log", 30, true)
	fileLines("/var/log/billing", "jobs.log", 10, true)
	fileLines("/opt/app/logs", "audit.log", 10, true)
	fileLines("/opt/app/logs", "debug.log", 10, false) // not a declared path

	// The app created its files after the sidecar started (as it does behind a native
	// sidecar): the sidecar looks for new files every 5 s, the agent every 10 s, and S3
	// checks for due uploads every 6 s.
	written := time.Now()
	got := s.expectAt(fakes{aws, loki}, sampleEntryOf, want, 45*time.Second, 3*time.Second)
	t.Logf("counted %s after the last write (the last 3 s waiting for late extras)", time.Since(written).Round(time.Second))
	for _, route := range slices.Sorted(maps.Keys(want)) {
		c := got[route]
		t.Logf("%s: written %d, delivered %d, lost %d, duplicated %d", route, c.want, c.got-c.duplicated, c.missing, c.duplicated)
	}
	bySource := map[string]int{}
	for _, r := range aws.Records(s3) {
		e, mine := sampleEntryOf(r)
		switch {
		case mine && strings.HasSuffix(e.Src, ".service"):
			bySource["journal "+strings.TrimPrefix(e.Src, "node/")]++
		case mine:
			bySource[strings.Split(e.Src, "/")[0]]++
		case otherEvent(r):
			bySource["other events of the cluster (not counted)"]++
		}
	}
	t.Logf("%s by source: %v", s3, bySource)

	// Who wrote: the roles the samples name, assumed through STS with the pod's base
	// credentials; S3 (no role) with the base credentials themselves.
	const shopRole, searchRole = "arn:aws:iam::123456789012:role/shop-log-writer", "arn:aws:iam::123456789012:role/opensearch-writer"
	for route, signer := range map[string]string{cloudwatch: shopRole, firehose: shopRole, openSearch: searchRole, s3: "base"} {
		if signers := aws.Signers(route); len(signers) != 1 || signers[signer] == 0 {
			t.Errorf("%s: requests signed by %v, want only %s", route, signers, signer)
		}
	}
	t.Logf("AssumeRole calls: %v; CloudWatch streams: %v; S3 objects: %d", aws.AssumedRoles(), aws.LogStreams("/shop/errors"), len(aws.Objects("example-audit-logs")))
	// Nothing the intruders named was used: no record at the platform's log group (by
	// the agent's identity or any role), and the platform's role never assumed. (A
	// delivery to any route not in want, or an intruder's record at the shop's, has
	// failed expectAt already.)
	if n := len(aws.Records(platformAudit)); n > 0 {
		t.Errorf("%s received %d records (signed by %v) from outputs with no grant", platformAudit, n, aws.Signers(platformAudit))
	}
	if n := aws.AssumedRoles()[platformAuditRole]; n > 0 {
		t.Errorf("%s was assumed %d times for outputs with no grant", platformAuditRole, n)
	}
	for _, p := range append(aws.Problems(), loki.Problems()...) {
		t.Errorf("a fake refused a request: %s", p)
	}

	// What the samples' filters and fields did to the records.
	for _, r := range aws.Records(firehose) {
		if r["cluster"] != "prod-eu-west-1" || r["time"] == nil {
			t.Errorf("a Firehose record lacks cluster=prod-eu-west-1 or its time key: %v", r)
			break
		}
	}
	for _, r := range aws.Records(openSearch) {
		if e, ok := sampleEntryOf(r); ok && stackTraces[e] != nil {
			logLine, _ := r["log"].(string)
			for _, f := range stackTraces[e] {
				if !strings.Contains(logLine, strings.TrimSpace(f)) {
					t.Errorf("the stack trace of %v was not joined: record %q lacks %q", e, logLine, f)
				}
			}
		}
	}
	for _, le := range loki.Entries(lokiTenant) {
		var rec sink.Record
		_ = json.Unmarshal([]byte(le.Line), &rec)
		e, ok := sampleEntryOf(rec)
		if at, known := writtenAt[e]; ok && known && !le.Time.Equal(at) {
			t.Errorf("Loki has %v at %s, written at %s: the parse filter's timeKey was not used", e, le.Time, at)
		}
		if le.Labels["team"] != "billing" {
			t.Errorf("Loki stream labels %v lack team=billing", le.Labels)
			break
		}
	}

	for name, proc := range map[string]*fbrun.Process{"agent": s.agent.Proc, "events collector": events.Proc, "sidecar": billingPod.Proc} {
		if errs := proc.Errors(); len(errs) > 0 {
			t.Errorf("%s logged errors:\n%s", name, strings.Join(errs, "\n"))
		}
	}
	t.Logf("wall time %s", time.Since(start).Round(time.Second))
}

// intruderYAML holds the attacks of issue 19, item 3 on the samples' destinations: the
// intruder namespace copies the shop's CloudWatch output, role and all (granted to
// the shop only), and writes to the platform's log group as the agent and with the
// platform's role; the shop uses its own role, granted for /shop/ log groups, for
// the platform's group. Every one has no keys of its own, so each is refused
// (IdentityNotGranted) and its pipeline left out.
const (
	platformAudit     = "cloudwatch:/platform/audit"
	platformAuditRole = "arn:aws:iam::123456789012:role/platform-audit"
	intruderYAML      = `apiVersion: v1
kind: Namespace
metadata: {name: intruder}
---
apiVersion: logging.logplane.dev/v1alpha1
kind: LogOutput
metadata: {name: shop-errors-copy, namespace: intruder}
spec:
  type: cloudwatchLogs
  cloudwatchLogs:
    aws: {region: eu-west-1, roleArn: "arn:aws:iam::123456789012:role/shop-log-writer"}
    logGroupName: /shop/errors
    logStreamPrefix: pod-
---
apiVersion: logging.logplane.dev/v1alpha1
kind: LogOutput
metadata: {name: audit-as-agent, namespace: intruder}
spec:
  type: cloudwatchLogs
  cloudwatchLogs:
    aws: {region: eu-west-1}
    logGroupName: /platform/audit
    logStreamPrefix: pod-
    autoCreateGroup: true
---
apiVersion: logging.logplane.dev/v1alpha1
kind: LogOutput
metadata: {name: audit-role, namespace: intruder}
spec:
  type: cloudwatchLogs
  cloudwatchLogs:
    aws: {region: eu-west-1, roleArn: "` + platformAuditRole + `"}
    logGroupName: /platform/audit
    logStreamPrefix: pod-
    autoCreateGroup: true
---
apiVersion: logging.logplane.dev/v1alpha1
kind: LogPipeline
metadata: {name: steal, namespace: intruder}
spec:
  input: {containers: {}}
  outputRefs: [shop-errors-copy, audit-as-agent, audit-role]
---
apiVersion: logging.logplane.dev/v1alpha1
kind: LogOutput
metadata: {name: audit-with-shop-role, namespace: shop}
spec:
  type: cloudwatchLogs
  cloudwatchLogs:
    aws: {region: eu-west-1, roleArn: "arn:aws:iam::123456789012:role/shop-log-writer"}
    logGroupName: /platform/audit
    logStreamPrefix: pod-
    autoCreateGroup: true
---
apiVersion: logging.logplane.dev/v1alpha1
kind: LogPipeline
metadata: {name: audit-copy, namespace: shop}
spec:
  input: {containers: {}}
  outputRefs: [audit-with-shop-role]`
)

// waitForIdentityRefused waits until every LogOutput in objs reports IdentityNotGranted
// and every LogPipeline is left out for it, for their current generations: the
// configuration the agent then gets was rendered with them.
func (s *scenario) waitForIdentityRefused(objs []*unstructured.Unstructured) {
	s.t.Helper()
	messages := map[string]string{}
	s.eventually(60*time.Second, "the intruders' outputs refused", func() (bool, string) {
		for _, o := range objs {
			want := map[string]string{"LogOutput": conditions.ReasonIdentityNotGranted, "LogPipeline": conditions.ReasonOutputInvalid}[o.GetKind()]
			if want == "" {
				continue
			}
			got := &unstructured.Unstructured{}
			got.SetGroupVersionKind(o.GroupVersionKind())
			if err := s.k8s.Get(s.ctx, client.ObjectKeyFromObject(o), got); err != nil {
				return false, err.Error()
			}
			var st struct{ Conditions []metav1.Condition }
			raw, _ := json.Marshal(got.Object["status"])
			_ = json.Unmarshal(raw, &st)
			c := apimeta.FindStatusCondition(st.Conditions, conditions.TypeConfigGenerated)
			if c == nil || c.Status != metav1.ConditionFalse || c.Reason != want || c.ObservedGeneration != got.GetGeneration() {
				return false, fmt.Sprintf("%s %s: ConfigGenerated %+v, want False %s", o.GetKind(), testenv.ObjectKey(o), c, want)
			}
			messages[o.GetKind()+" "+testenv.ObjectKey(o)] = c.Message
		}
		return true, ""
	})
	for _, k := range slices.Sorted(maps.Keys(messages)) {
		s.t.Logf("%s: %s", k, messages[k])
	}
}

// pointAtFakes rewrites, in the sample objects, only what points at the outside world,
// and fails on a destination it does not know, so that a new sample gets a fake before
// it ships.
func pointAtFakes(t *testing.T, objs []*unstructured.Unstructured, agentPort, lokiPort int) {
	t.Helper()
	set := func(o *unstructured.Unstructured, value any, path ...string) {
		if err := unstructured.SetNestedField(o.Object, value, path...); err != nil {
			t.Fatal(err)
		}
		t.Logf("%s %s: %s = %v", o.GetKind(), testenv.ObjectKey(o), strings.Join(path, "."), value)
	}
	outputs := 0
	for _, o := range objs {
		switch o.GetKind() {
		case "LogAgent":
			// The events collector always serves its metrics on 2020 (as in a
			// cluster, where it has a pod of its own); here every pod shares the
			// node's address.
			set(o, int64(agentPort), "spec", "metricsPort")
		case "LogOutput", "ClusterLogOutput":
			outputs++
			typ, _, _ := unstructured.NestedString(o.Object, "spec", "type")
			stsIfRole := func(block string) {
				if role, _, _ := unstructured.NestedString(o.Object, "spec", block, "aws", "roleArn"); role != "" {
					set(o, sink.AWSEndpoint("sts"), "spec", block, "aws", "stsEndpoint")
				}
			}
			switch typ {
			case "cloudwatchLogs":
				set(o, sink.AWSEndpoint("logs"), "spec", typ, "aws", "endpoint")
				stsIfRole(typ)
			case "kinesisFirehose":
				set(o, sink.AWSEndpoint("firehose"), "spec", typ, "aws", "endpoint")
				stsIfRole(typ)
			case "s3":
				set(o, sink.AWSEndpoint("s3"), "spec", typ, "aws", "endpoint")
				stsIfRole(typ)
				// The sample uploads at 50M or after the default 10m; Fluent Bit
				// checks for due uploads every 6 s at the most often.
				set(o, "5s", "spec", typ, "uploadTimeout")
			case "opensearch":
				// The domain's name only: port 443 and TLS (verified, against the
				// CA the pods trust) stay as the sample has them.
				set(o, sink.OpenSearchHost("apps"), "spec", typ, "host")
				stsIfRole(typ)
			case "loki":
				// An in-cluster gateway on port 80, plain HTTP as in the sample.
				set(o, "127.0.0.1", "spec", typ, "host")
				set(o, int64(lokiPort), "spec", typ, "port")
			default:
				t.Fatalf("%s %s is a %s destination, which this test has no fake for: add one", o.GetKind(), testenv.ObjectKey(o), typ)
			}
		}
	}
	if outputs == 0 {
		t.Fatal("the samples have no outputs")
	}
}

// startAWS starts the AWS fake on port 443 of a loopback address of its own.
func startAWS(t *testing.T) *sink.AWS {
	t.Helper()
	var lastErr error
	for range 5 {
		addr := fmt.Sprintf("127.%d.%d.%d", 100+rand.IntN(100), rand.IntN(250), 1+rand.IntN(250))
		a, err := sink.StartAWS(addr, irsaAccessKey, irsaSecretKey)
		if err == nil {
			t.Cleanup(func() { _ = a.Close() })
			return a
		}
		lastErr = err
	}
	t.Fatalf("failed to start the AWS fake: %v", lastErr)
	return nil
}

// startEventsCollector runs the events collector's Deployment on the node once it
// ships to the outputs of every events pipeline, and waits for its health endpoint.
func (s *scenario) startEventsCollector() *localnode.AgentPod {
	s.t.Helper()
	d := &appsv1.Deployment{}
	s.eventually(30*time.Second, "the events collector's Deployment", func() (bool, string) {
		err := s.k8s.Get(s.ctx, client.ObjectKey{Namespace: operatorNamespace, Name: agent.EventsName}, d)
		if err != nil {
			return false, err.Error()
		}
		return true, ""
	})
	// The collector serves its metrics on 2020 whatever the agents do (in a cluster
	// its pod has an address of its own); here it shares the machine's.
	s.eventually(10*time.Second, "port 2020 to be free for the events collector", func() (bool, string) {
		l, err := net.Listen("tcp", "0.0.0.0:2020")
		if err != nil {
			return false, err.Error() + " (another process on this machine holds it)"
		}
		l.Close()
		return true, ""
	})
	p, err := s.node.RunDeployment(s.ctx, d)
	if err != nil {
		s.t.Fatal(err)
	}
	s.t.Cleanup(func() {
		if done, _ := p.Proc.Exited(); !done {
			if err := p.Proc.Stop(15 * time.Second); err != nil {
				s.t.Errorf("events collector: %v", err)
			}
		}
		if s.t.Failed() {
			s.t.Logf("events collector log:\n%s", p.Proc.Log())
		}
	})
	s.waitHealthyAt(p, 2020)
	return p
}

// startSidecar creates a pod in ns, which the webhook gives the sidecar, and runs the
// injected sidecar container on the node, as the kubelet runs a native sidecar
// before the app. It returns the running sidecar and, per directory the app writes its
// files to, the node directory of the emptyDir it shares with the sidecar.
func (s *scenario) startSidecar(ns, name string, labels map[string]string, container string) (*localnode.AgentPod, map[string]string) {
	s.t.Helper()
	// The webhook injects pipelines whose sidecar Secret is rendered.
	s.eventually(30*time.Second, "the sidecar Secrets of "+ns, func() (bool, string) {
		var list corev1.SecretList
		if err := s.k8s.List(s.ctx, &list, client.InNamespace(ns), client.MatchingLabels{agent.LabelComponent: sidecar.ComponentSidecar}); err != nil {
			return false, err.Error()
		}
		return len(list.Items) > 0, "none yet"
	})
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: labels},
		Spec: corev1.PodSpec{NodeName: s.node.Name, Containers: []corev1.Container{{Name: container, Image: "app:1"}}}}
	if err := s.k8s.Create(s.ctx, pod); err != nil {
		s.t.Fatal(err)
	}
	var sc *corev1.Container
	for i, c := range pod.Spec.InitContainers {
		if c.Name == sidecar.ContainerName {
			sc = &pod.Spec.InitContainers[i]
		}
	}
	if sc == nil {
		s.t.Fatalf("the webhook did not inject %s into %s/%s: init containers %v, containers %v", sidecar.ContainerName, ns, name,
			pod.Spec.InitContainers, pod.Spec.Containers)
	}
	spec, err := s.node.Container(s.ctx, pod, *sc, s.node.IP)
	if err != nil {
		s.t.Fatal(err)
	}
	proc, err := spec.Start()
	if err != nil {
		s.t.Fatal(err)
	}
	p := &localnode.AgentPod{Pod: pod, Proc: proc}
	s.t.Cleanup(func() {
		if done, _ := proc.Exited(); !done {
			if err := proc.Stop(15 * time.Second); err != nil {
				s.t.Errorf("sidecar: %v", err)
			}
		}
		if s.t.Failed() {
			s.t.Logf("sidecar log:\n%s", proc.Log())
		}
	})
	s.waitHealthyAt(p, 2021)
	// The app container's directories: the emptyDirs it shares with the sidecar.
	volumes := map[string]bool{}
	for _, v := range pod.Spec.Volumes {
		volumes[v.Name] = v.EmptyDir != nil
	}
	dirs := map[string]string{}
	for _, c := range pod.Spec.Containers {
		if c.Name != container {
			continue
		}
		for _, m := range c.VolumeMounts {
			if volumes[m.Name] {
				dirs[m.MountPath] = s.node.EmptyDir(pod, m.Name)
			}
		}
	}
	return p, dirs
}

// waitHealthyAt waits for the health endpoint of a pod of the node on port.
func (s *scenario) waitHealthyAt(p *localnode.AgentPod, port int) {
	s.t.Helper()
	saved := s.port
	s.port = port
	defer func() { s.port = saved }()
	s.waitHealthy(p)
}

// sampleEntryOf finds the entry in a delivered record: at the top level, in a JSON
// line (log, message, msg, a journal entry's MESSAGE), or by its marker in a line that is not JSON (a joined
// stack trace, an event's message).
func sampleEntryOf(r sink.Record) (entry, bool) {
	if e, ok := entryOf(r); ok {
		return e, true
	}
	for _, k := range []string{"log", "message", "msg", "MESSAGE"} {
		v, _ := r[k].(string)
		var fields map[string]any
		if json.Unmarshal([]byte(v), &fields) == nil {
			src, _ := fields["src"].(string)
			seq, ok := fields["seq"].(float64)
			if ok && src != "" {
				return entry{Src: src, Seq: int(seq)}, true
			}
		}
		if m := markerRE.FindStringSubmatch(v); m != nil {
			seq, _ := strconv.Atoi(m[2])
			return entry{Src: m[1], Seq: seq}, true
		}
	}
	return entry{}, false
}

// healthCheck is the firehose-all pipeline's exclusion, as the sample writes it.
var healthCheck = regexp.MustCompile(`GET /(healthz|readyz|livez|ping)\b`)

var markerRE = regexp.MustCompile(`\bsrc=(\S+) seq=(\d+)\b`)

// marker names an entry inside a line that is not JSON.
func marker(e entry) string { return fmt.Sprintf("src=%s seq=%d", e.Src, e.Seq) }

// fakes are the destinations of the samples together; their routes do not overlap.
type fakes struct {
	aws  *sink.AWS
	loki *sink.Loki
}

// Records leaves out, at S3, the events of the cluster that this test did not create
// (the operator's, earlier tests'): node-and-events ships every event of the last
// hour, and those are not the test's to count.
func (f fakes) Records(route string) []sink.Record {
	if strings.HasPrefix(route, "loki:") {
		return f.loki.Records(route)
	}
	recs := f.aws.Records(route)
	if strings.HasPrefix(route, "s3:") {
		recs = slices.DeleteFunc(recs, otherEvent)
	}
	return recs
}

func (f fakes) Routes() map[string]int {
	out := f.loki.Routes()
	for r, n := range f.aws.Routes() {
		if strings.HasPrefix(r, "s3:") {
			n = len(f.Records(r))
		}
		out[r] = n
	}
	return out
}

// otherEvent is a Kubernetes event the test did not create.
func otherEvent(r sink.Record) bool {
	_, isEvent := r["involvedObject"]
	_, mine := sampleEntryOf(r)
	return isEvent && !mine
}

func lines(src string, n int, fields map[string]any) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = message(entry{Src: src, Seq: i}, fields)
	}
	return out
}

func write(t *testing.T, a *localnode.App, container string, lines []string) {
	t.Helper()
	if err := a.Write(container, lines...); err != nil {
		t.Fatal(err)
	}
}

func appendFile(t *testing.T, path string, data []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(data); err != nil {
		t.Fatal(err)
	}
}

// deleteAll deletes what the test applied, so that later tests see none of it, but
// the namespaces: without a namespace controller they would stay Terminating, and
// other tests use namespaces of the same names.
func deleteAll(t *testing.T, c client.Client, objs []*unstructured.Unstructured) {
	for _, o := range slices.Backward(objs) {
		if o.GetKind() == "Namespace" {
			continue
		}
		// The test's context is over when cleanups run.
		if err := c.Delete(context.Background(), o.DeepCopy()); err != nil && !apierrors.IsNotFound(err) {
			t.Logf("failed to delete %s %s: %v", o.GetKind(), testenv.ObjectKey(o), err)
		}
	}
}
