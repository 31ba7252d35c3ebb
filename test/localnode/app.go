package localnode

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// App is an application pod on the node: its object, and the CRI log files its
// containers write, where containerd writes them and links them.
type App struct {
	Pod   *corev1.Pod
	mu    sync.Mutex
	files map[string]*os.File
}

// RunApp creates a running pod with the given containers, and their log files:
// /var/log/pods/<ns>_<pod>_<uid>/<container>/0.log, linked from
// /var/log/containers/<pod>_<ns>_<container>-<container id>.log.
func (n *Node) RunApp(ctx context.Context, ns, name string, labels map[string]string, containers ...string) (*App, error) {
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: labels},
		Spec: corev1.PodSpec{NodeName: n.Name}}
	for _, c := range containers {
		pod.Spec.Containers = append(pod.Spec.Containers, corev1.Container{Name: c, Image: "app:1"})
	}
	if err := n.Client.Create(ctx, pod); err != nil {
		return nil, fmt.Errorf("failed to create pod %s/%s: %w", ns, name, err)
	}
	if err := n.setRunning(ctx, pod, true); err != nil {
		return nil, err
	}
	app := &App{Pod: pod, files: map[string]*os.File{}}
	podDir := fmt.Sprintf("/var/log/pods/%s_%s_%s", ns, name, pod.UID)
	for _, c := range containers {
		dir := filepath.Join(n.Root, podDir, c)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, err
		}
		f, err := os.OpenFile(filepath.Join(dir, "0.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return nil, err
		}
		app.files[c] = f
		sum := sha256.Sum256([]byte(string(pod.UID) + "/" + c))
		link := filepath.Join(n.Root, "var/log/containers", fmt.Sprintf("%s_%s_%s-%s.log", name, ns, c, hex.EncodeToString(sum[:])))
		// The target is the path inside the agent, which mounts the node's /var/log.
		if err := os.Symlink(podDir+"/"+c+"/0.log", link); err != nil {
			return nil, err
		}
	}
	return app, nil
}

// Write appends lines to a container's log as the runtime does: one CRI record per
// line, written whole.
func (a *App) Write(container string, lines ...string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	f, ok := a.files[container]
	if !ok {
		return fmt.Errorf("pod %s has no container %s", a.Pod.Name, container)
	}
	var buf []byte
	for _, l := range lines {
		buf = append(buf, time.Now().UTC().Format(time.RFC3339Nano)...)
		buf = append(buf, " stdout F "...)
		buf = append(buf, l...)
		buf = append(buf, '\n')
	}
	_, err := f.Write(buf)
	return err
}

// Close closes the log files.
func (a *App) Close() {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, f := range a.files {
		f.Close()
	}
}
