package testenv

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"time"
)

// OperatorOptions say how to run the operator binary as its own process.
type OperatorOptions struct {
	// Command is the operator's command line, such as bin/logplane manager.
	Command []string
	// Kubeconfig points the operator at the control plane.
	Kubeconfig string
	// Namespace is the operator's namespace.
	Namespace string
	// LogPath receives the operator's stdout and stderr.
	LogPath string
	// Args are added after the defaults and win over them (the last flag counts).
	Args []string
}

// Operator is the operator running as its own process, so that it can be stopped,
// restarted and measured (its /proc entries) apart from the caller.
type Operator struct {
	cmd     *exec.Cmd
	logFile *os.File
	done    chan struct{}
	err     error
}

// StartOperator starts the operator with its readiness probe on a free local port and
// returns once /readyz answers 200.
func StartOperator(ctx context.Context, o OperatorOptions) (*Operator, error) {
	if len(o.Command) == 0 {
		return nil, errors.New("no operator command given")
	}
	probePort, err := FreePort()
	if err != nil {
		return nil, err
	}
	logFile, err := os.Create(o.LogPath)
	if err != nil {
		return nil, err
	}
	args := append(append([]string{}, o.Command[1:]...),
		"--namespace="+o.Namespace,
		"--health-probe-bind-address=127.0.0.1:"+strconv.Itoa(probePort))
	args = append(args, o.Args...)
	cmd := exec.Command(o.Command[0], args...)
	// The samples name AWS destinations; off a cloud, the retention reconciler's
	// default credential chain must not probe the instance metadata address.
	cmd.Env = append(os.Environ(), "KUBECONFIG="+o.Kubeconfig, "AWS_EC2_METADATA_DISABLED=true")
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("failed to start the operator: %w", err)
	}
	op := &Operator{cmd: cmd, logFile: logFile, done: make(chan struct{})}
	go func() {
		op.err = cmd.Wait()
		logFile.Close()
		close(op.done)
	}()
	if err := op.waitReady(ctx, probePort); err != nil {
		_ = op.Stop()
		return nil, fmt.Errorf("%w (see %s)", err, o.LogPath)
	}
	return op, nil
}

// String is the command line the operator was started with.
func (o *Operator) String() string { return o.cmd.String() }

// Pid is the operator's process id.
func (o *Operator) Pid() int { return o.cmd.Process.Pid }

// Exited is closed when the process has ended; Err then tells how.
func (o *Operator) Exited() <-chan struct{} { return o.done }

// Err is the process's exit error, valid once Exited is closed.
func (o *Operator) Err() error { return o.err }

// Stop asks the operator to shut down (SIGTERM) and kills it after 10s.
func (o *Operator) Stop() error {
	select {
	case <-o.done:
		return nil
	default:
	}
	_ = o.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-o.done:
	case <-time.After(10 * time.Second):
		_ = o.cmd.Process.Kill()
		<-o.done
	}
	return nil
}

// waitReady polls the operator's readiness endpoint until it answers 200.
func (o *Operator) waitReady(ctx context.Context, port int) error {
	url := fmt.Sprintf("http://127.0.0.1:%d/readyz", port)
	deadline := time.After(60 * time.Second)
	for {
		if resp, err := http.Get(url); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-o.done:
			return fmt.Errorf("the operator exited before it was ready: %v", o.err)
		case <-deadline:
			return errors.New("the operator was not ready within 60s")
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// FreePort returns a local TCP port nobody listens on right now.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
