package canary

import (
	"fmt"
	"regexp"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// Outcome is what a canary run says about its configuration.
type Outcome int

const (
	// Pending: not decided yet; look again later.
	Pending Outcome = iota
	// Passed: Fluent Bit initialised every plugin and kept running.
	Passed
	// Refused: Fluent Bit exited, or ran without ever becoming ready.
	Refused
	// Inconclusive: the canary could not run (image, scheduling, configuration of the
	// pod itself): it says nothing about the resources, so nobody is blamed.
	Inconclusive
)

func (o Outcome) String() string {
	return [...]string{"Pending", "Passed", "Refused", "Inconclusive"}[o]
}

// Verdict is a canary run's outcome, with Fluent Bit's words for a refusal.
type Verdict struct {
	Outcome Outcome
	Message string
}

// Timing bounds a canary run.
type Timing struct {
	// Settle is how long Fluent Bit must stay ready: a plugin can fail in a worker
	// thread just after start.
	Settle time.Duration
	// Ready is how long a started container may take to become ready.
	Ready time.Duration
	// Start is how long the pod may take to start its container at all.
	Start time.Duration
}

// DefaultTiming is measured on Fluent Bit 5.1.1: a configuration of 50 pipelines
// answers its health endpoint about 0.2 s after start, and a plugin that refuses its
// settings ends the process about 1 s after start.
var DefaultTiming = Timing{Settle: 3 * time.Second, Ready: 30 * time.Second, Start: 90 * time.Second}

// Judge reads the canary pod's status: a chain of checks, first match wins. pod is
// nil when there is none yet.
func Judge(pod *corev1.Pod, container string, now time.Time, t Timing) Verdict {
	if pod == nil {
		return Verdict{Outcome: Pending}
	}
	var cs *corev1.ContainerStatus
	for i := range pod.Status.ContainerStatuses {
		if pod.Status.ContainerStatuses[i].Name == container {
			cs = &pod.Status.ContainerStatuses[i]
		}
	}
	// Fluent Bit ended: whatever the code, an agent would crash-loop on it. This comes
	// first, since a pod ended by its deadline also reports phase Failed.
	if cs != nil {
		for _, term := range []*corev1.ContainerStateTerminated{cs.State.Terminated, cs.LastTerminationState.Terminated} {
			if term != nil {
				return Verdict{Outcome: Refused, Message: terminated(term)}
			}
		}
	}
	// The pod failed without Fluent Bit ever running: evicted, or past its deadline
	// before it started.
	if pod.Status.Phase == corev1.PodFailed || pod.Status.Phase == corev1.PodSucceeded {
		return Verdict{Outcome: Inconclusive, Message: strings.TrimSpace(fmt.Sprintf("canary pod %s: %s %s", pod.Status.Phase, pod.Status.Reason, pod.Status.Message))}
	}
	if cs != nil && cs.State.Waiting != nil {
		switch cs.State.Waiting.Reason {
		case "ErrImagePull", "ImagePullBackOff", "InvalidImageName", "CreateContainerConfigError", "CreateContainerError":
			return Verdict{Outcome: Inconclusive, Message: "canary container cannot start: " + cs.State.Waiting.Reason + ": " + cs.State.Waiting.Message}
		}
	}
	if cs != nil && cs.State.Running != nil {
		started := cs.State.Running.StartedAt.Time
		if cs.Ready {
			since := readySince(pod, started)
			if now.Sub(since) >= t.Settle {
				return Verdict{Outcome: Passed}
			}
			return Verdict{Outcome: Pending}
		}
		if now.Sub(started) >= t.Ready {
			return Verdict{Outcome: Refused, Message: fmt.Sprintf("Fluent Bit did not report healthy within %s of starting", t.Ready)}
		}
		return Verdict{Outcome: Pending}
	}
	if now.Sub(pod.CreationTimestamp.Time) >= t.Start {
		return Verdict{Outcome: Inconclusive, Message: fmt.Sprintf("canary pod did not start within %s", t.Start)}
	}
	return Verdict{Outcome: Pending}
}

// readySince is when the pod became ready, or when the container started if the
// status does not say.
func readySince(pod *corev1.Pod, started time.Time) time.Time {
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.ContainersReady && c.Status == corev1.ConditionTrue && !c.LastTransitionTime.IsZero() {
			return c.LastTransitionTime.Time
		}
	}
	return started
}

func terminated(term *corev1.ContainerStateTerminated) string {
	if line := ErrorLine(term.Message); line != "" {
		return line
	}
	if term.Signal != 0 {
		return fmt.Sprintf("Fluent Bit was ended by signal %d (%s)", term.Signal, term.Reason)
	}
	return fmt.Sprintf("Fluent Bit exited with code %d (%s)", term.ExitCode, term.Reason)
}

// logLine is one line of Fluent Bit's log: "[time] [level] text".
var logLine = regexp.MustCompile(`^\[[0-9/: .]+\] \[ *([a-z]+)\] (.*)$`)

// ErrorLine picks the lines of Fluent Bit's log (the tail the kubelet keeps) that
// say why it refused the configuration: the error a plugin logged just before
// "failed to initialize", with that line, or else the first error that is not about
// the service account the canary deliberately lacks. Timestamps are dropped, so that
// two runs of the same refusal read the same.
func ErrorLine(log string) string {
	var errs []string
	for line := range strings.Lines(log) {
		m := logLine.FindStringSubmatch(strings.TrimSpace(line))
		if m == nil || m[1] != "error" {
			continue
		}
		errs = append(errs, m[2])
	}
	for i, e := range errs {
		// "failed initialize input" is how Fluent Bit words it for inputs.
		if strings.Contains(e, "failed to initialize") || strings.Contains(e, "failed initialize") || strings.Contains(e, "initialization failed") {
			if i > 0 && !strings.HasPrefix(errs[i-1], "[engine]") {
				return errs[i-1] + "; " + e
			}
			return e
		}
	}
	for _, e := range errs {
		if !strings.Contains(e, "serviceaccount") && !strings.HasPrefix(e, "[tls] could not create TLS backend") {
			return e
		}
	}
	return ""
}
