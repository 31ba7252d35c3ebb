package agent

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/logplane/logplane/internal/render"
)

// The canary is the agent's pod in a sandbox: nothing of the node, no token, one
// run, its log in its status, and objects named by the candidate's hash.
func TestBuildCanarySandbox(t *testing.T) {
	in := sampleInput(t)
	o := BuildCanary(in)
	ds := Build(in).DaemonSet.Spec.Template.Spec
	pod := o.Pod.Spec
	if len(pod.Volumes) != len(ds.Volumes) {
		t.Errorf("canary has %d volumes, the agent %d: every path the configuration opens must exist", len(pod.Volumes), len(ds.Volumes))
	}
	for _, v := range pod.Volumes {
		if v.HostPath != nil {
			t.Errorf("volume %s is a hostPath", v.Name)
		}
	}
	if pod.ServiceAccountName != "" || pod.AutomountServiceAccountToken == nil || *pod.AutomountServiceAccountToken {
		t.Errorf("canary may get a token: serviceAccountName %q, automount %v", pod.ServiceAccountName, pod.AutomountServiceAccountToken)
	}
	c := pod.Containers[0]
	if pod.RestartPolicy != corev1.RestartPolicyNever || c.TerminationMessagePolicy != corev1.TerminationMessageFallbackToLogsOnError ||
		c.LivenessProbe != nil || c.ReadinessProbe == nil || pod.ActiveDeadlineSeconds == nil {
		t.Errorf("canary run settings: restart %s, message %s, liveness %v, readiness %v, deadline %v",
			pod.RestartPolicy, c.TerminationMessagePolicy, c.LivenessProbe, c.ReadinessProbe, pod.ActiveDeadlineSeconds)
	}
	if c.Image != ds.Containers[0].Image || strings.Join(c.Args, " ") != strings.Join(ds.Containers[0].Args, " ") {
		t.Errorf("canary runs %s %v, the agent %s %v", c.Image, c.Args, ds.Containers[0].Image, ds.Containers[0].Args)
	}
	prefix := CanaryName(in.Name, in.Config.Hash)
	if o.Pod.Name != prefix || o.Pod.Annotations[AnnotationConfig] != in.Config.Hash {
		t.Errorf("pod %s, hash %s", o.Pod.Name, o.Pod.Annotations[AnnotationConfig])
	}
	for _, s := range append(o.ConfigSecrets, o.CredentialsSecrets...) {
		if !strings.HasPrefix(s.Name, prefix+"-") {
			t.Errorf("Secret %s is not the candidate's own", s.Name)
		}
	}
	if len(o.ConfigSecrets) != len(in.Config.Files) || o.ConfigSecrets[0].Data[render.MainFile] == nil {
		t.Errorf("config Secrets %d for %d files", len(o.ConfigSecrets), len(in.Config.Files))
	}
	np := o.NetworkPolicy.Spec
	if len(np.PolicyTypes) != 2 || len(np.Ingress) != 0 || len(np.Egress) != 0 || np.PodSelector.MatchLabels[LabelComponent] != componentCanary {
		t.Errorf("NetworkPolicy does not deny everything to canaries: %+v", np)
	}
}
