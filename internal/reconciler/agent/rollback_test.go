package agent

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"reflect"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	agentobjects "github.com/logplane/logplane/internal/agent"
	"github.com/logplane/logplane/internal/render"
)

// fluentBitTail is what the kubelet keeps of Fluent Bit's log as the termination
// message (FallbackToLogsOnError) when a tail input cannot open its database.
const fluentBitTail = `[2026/12/05 00:00:01] [ info] [fluent bit] version=5.1.1
[2026/12/05 00:00:01] [error] [sqldb] cannot open database /var/lib/logplane/default/tail.db
[2026/12/05 00:00:01] [error] [input:tail:tail.0] could not open/create database
[2026/12/05 00:00:01] [error] failed initialize input tail.0
[2026/12/05 00:00:01] [error] [engine] input initialization failed
`

func rolloutDS(hash string, desired, updated, ready int32) *appsv1.DaemonSet {
	d := ds(2, 2, desired, ready, updated)
	d.Spec.Template.Annotations = map[string]string{agentobjects.AnnotationConfig: hash}
	return d
}

type podState func(*corev1.ContainerStatus)

func agentPod(name, node, hash string, state podState) corev1.Pod {
	cs := corev1.ContainerStatus{Name: render.AgentContainerName}
	state(&cs)
	return corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Annotations: map[string]string{agentobjects.AnnotationConfig: hash}},
		Spec: corev1.PodSpec{NodeName: node}, Status: corev1.PodStatus{ContainerStatuses: []corev1.ContainerStatus{cs}}}
}

func TestJudgeRollout(t *testing.T) {
	now := time.Date(2026, 12, 5, 0, 10, 0, 0, time.UTC)
	deadline := 3 * time.Minute
	running := func(ago time.Duration) podState {
		return func(cs *corev1.ContainerStatus) {
			cs.State.Running = &corev1.ContainerStateRunning{StartedAt: metav1.NewTime(now.Add(-ago))}
		}
	}
	ready := func(cs *corev1.ContainerStatus) { running(time.Hour)(cs); cs.Ready = true }
	crashLoop := func(cs *corev1.ContainerStatus) {
		cs.RestartCount = 1
		cs.State.Waiting = &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}
		cs.LastTerminationState.Terminated = &corev1.ContainerStateTerminated{ExitCode: 1, Reason: "Error", Message: fluentBitTail}
	}
	restarted := func(n int32, code int32) podState {
		return func(cs *corev1.ContainerStatus) {
			running(10 * time.Second)(cs)
			cs.RestartCount = n
			cs.LastTerminationState.Terminated = &corev1.ContainerStateTerminated{ExitCode: code, Reason: "OOMKilled"}
		}
	}
	pulling := func(cs *corev1.ContainerStatus) {
		cs.State.Waiting = &corev1.ContainerStateWaiting{Reason: "ImagePullBackOff"}
	}
	dbError := "[input:tail:tail.0] could not open/create database; failed initialize input tail.0 (exit code 1)"
	cases := []struct {
		name    string
		ds      *appsv1.DaemonSet
		pods    []corev1.Pod
		want    rolloutOutcome
		nodes   []string
		cause   string
		recheck time.Duration
	}{
		{name: "no DaemonSet", want: rolloutProgressing},
		{name: "every pod ready with the template's hash", ds: rolloutDS("N", 2, 2, 2),
			pods: []corev1.Pod{agentPod("a", "n1", "N", ready), agentPod("b", "n2", "N", ready)}, want: rolloutHealthy},
		{name: "a pod still runs the old hash", ds: rolloutDS("N", 2, 1, 2),
			pods: []corev1.Pod{agentPod("a", "n1", "N", ready), agentPod("b", "n2", "H", ready)}, want: rolloutProgressing},
		{name: "DaemonSet status not observed", ds: func() *appsv1.DaemonSet { d := rolloutDS("N", 1, 1, 1); d.Generation = 3; return d }(),
			pods: []corev1.Pod{agentPod("a", "n1", "N", ready)}, want: rolloutProgressing},
		{name: "crash loop on one node, named with Fluent Bit's error", ds: rolloutDS("N", 3, 3, 2),
			pods: []corev1.Pod{agentPod("a", "n1", "N", ready), agentPod("b", "n2", "N", crashLoop), agentPod("c", "n3", "N", ready)},
			want: rolloutFailed, nodes: []string{"n2"}, cause: dbError},
		{name: "an old pod crashing says nothing about the new hash", ds: rolloutDS("N", 2, 1, 1),
			pods: []corev1.Pod{agentPod("a", "n1", "N", ready), agentPod("b", "n2", "H", crashLoop)}, want: rolloutProgressing},
		{name: "two error exits", ds: rolloutDS("N", 1, 1, 0),
			pods: []corev1.Pod{agentPod("a", "n1", "N", restarted(2, 137))}, want: rolloutFailed, nodes: []string{"n1"},
			cause: "Fluent Bit exited (exit code 137, OOMKilled)"},
		{name: "one error exit is not yet a failure", ds: rolloutDS("N", 1, 1, 0),
			pods: []corev1.Pod{agentPod("a", "n1", "N", restarted(1, 1))}, want: rolloutProgressing, recheck: deadline - 10*time.Second},
		{name: "not ready within the deadline", ds: rolloutDS("N", 2, 2, 1),
			pods: []corev1.Pod{agentPod("a", "n1", "N", ready), agentPod("b", "n2", "N", running(deadline))},
			want: rolloutFailed, nodes: []string{"n2"}, cause: "did not report healthy within 3m0s"},
		{name: "starting, deadline ahead", ds: rolloutDS("N", 1, 1, 0),
			pods: []corev1.Pod{agentPod("a", "n1", "N", running(time.Minute))}, want: rolloutProgressing, recheck: 2 * time.Minute},
		{name: "an image pull is not the configuration's fault", ds: rolloutDS("N", 1, 1, 0),
			pods: []corev1.Pod{agentPod("a", "n1", "N", pulling)}, want: rolloutProgressing},
		{name: "several nodes, sorted", ds: rolloutDS("N", 3, 3, 1),
			pods: []corev1.Pod{agentPod("c", "n3", "N", crashLoop), agentPod("a", "n1", "N", ready), agentPod("b", "n2", "N", crashLoop)},
			want: rolloutFailed, nodes: []string{"n2", "n3"}, cause: dbError},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v := judgeRollout(tc.ds, tc.pods, now, deadline)
			if v.outcome != tc.want || !reflect.DeepEqual(v.nodes, tc.nodes) || !strings.Contains(v.cause, tc.cause) || v.recheck != tc.recheck {
				t.Errorf("got outcome %d nodes %v cause %q recheck %s; want %d %v %q %s", v.outcome, v.nodes, v.cause, v.recheck,
					tc.want, tc.nodes, tc.cause, tc.recheck)
			}
		})
	}
}

// A saved configuration reads back byte for byte, sharded across Secrets when its
// compressed files do not fit in one, with the failed rollouts; a missing shard
// reads as nothing saved rather than as a partial configuration.
func TestLastHealthyRoundTrip(t *testing.T) {
	incompressible := func(n int) []byte {
		b := make([]byte, n/2)
		_, _ = rand.Read(b)
		return []byte(hex.EncodeToString(b)) // hex of random bytes: gzip halves it, no more
	}
	cases := []struct {
		name    string
		files   []render.File
		secrets int
	}{
		{"small", []render.File{{Name: render.MainFile, Content: []byte("service:\n  flush: 1\n")}}, 1},
		{"sharded", []render.File{
			{Name: render.MainFile, Content: incompressible(1 << 20)},
			{Name: "outputs-001.yaml", Content: incompressible(1 << 20)},
			{Name: "outputs-002.yaml", Content: incompressible(1 << 20)},
		}, 3},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			src := render.SecretSource{Namespace: "t-1", Name: "token", Key: "value"}
			saved := &savedConfig{Hash: "abc-def", Config: render.Config{Hash: "abc", Files: tc.files,
				Env: []render.EnvVar{{Name: "LP_TOKEN", Source: src}}, ReadsJournal: true},
				Values: map[render.SecretSource][]byte{src: []byte("s3cr3t")}}
			failed := []failedRollout{{Hash: "bad-def", Nodes: []string{"n2"}, Cause: "could not open/create database"}}
			secrets, err := lastHealthySecrets("default", "ns", saved, failed)
			if err != nil {
				t.Fatal(err)
			}
			if len(secrets) != tc.secrets {
				t.Fatalf("%d Secrets; want %d", len(secrets), tc.secrets)
			}
			for i, s := range secrets {
				if s.Name != LastHealthySecretName("default", i) || s.Labels[agentobjects.LabelAgent] != "default" {
					t.Errorf("Secret %d: %s %v", i, s.Name, s.Labels)
				}
				size := 0
				for _, d := range s.Data {
					size += len(d)
				}
				if size > lastHealthyBudget {
					t.Errorf("Secret %s holds %d bytes, over %d", s.Name, size, lastHealthyBudget)
				}
			}
			get := func(i int) (*corev1.Secret, error) {
				if i >= len(secrets) {
					return nil, nil
				}
				return secrets[i], nil
			}
			got, gotFailed, err := decodeLastHealthy(secrets[0], get)
			if err != nil || got == nil {
				t.Fatalf("decode: %v, %v", got, err)
			}
			if got.Hash != saved.Hash || got.Config.Hash != "abc" || !got.Config.ReadsJournal || !reflect.DeepEqual(got.Config.Env, saved.Config.Env) ||
				!bytes.Equal(got.Values[src], []byte("s3cr3t")) || !reflect.DeepEqual(gotFailed, failed) {
				t.Errorf("decoded %+v, failed %+v", got, gotFailed)
			}
			if len(got.Config.Files) != len(tc.files) {
				t.Fatalf("%d files; want %d", len(got.Config.Files), len(tc.files))
			}
			for i, f := range tc.files {
				if got.Config.Files[i].Name != f.Name || !bytes.Equal(got.Config.Files[i].Content, f.Content) {
					t.Errorf("file %d (%s) differs", i, f.Name)
				}
			}
			if len(secrets) > 1 {
				lost := func(i int) (*corev1.Secret, error) {
					if i == len(secrets)-1 {
						return nil, nil
					}
					return get(i)
				}
				if c, _, err := decodeLastHealthy(secrets[0], lost); c != nil || err != nil {
					t.Errorf("a lost shard decoded as %v, %v", c != nil, err)
				}
			}
		})
	}
}

func TestRolledBackMessageNamesEverything(t *testing.T) {
	f := &failedRollout{Hash: "n1-c", Nodes: []string{"a", "b", "c", "d", "e"}, Cause: "could not open/create database (exit code 1)"}
	msg := rolledBackMessage(f, "h1-c", "pods are starting")
	for _, want := range []string{"node a, b, c (and 2 more)", "configuration n1-c", "could not open/create database", "(h1-c)", "Its pods: pods are starting."} {
		if !strings.Contains(msg, want) {
			t.Errorf("%q lacks %q", msg, want)
		}
	}
	if long := bounded(strings.Repeat("é", 300), maxCauseLen); len(long) > maxCauseLen+len("…") || !strings.HasSuffix(long, "…") {
		t.Errorf("bounded: %d bytes", len(long))
	}
}
