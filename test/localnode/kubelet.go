// Package localnode is one node of a cluster that has no kubelet: it runs the pods
// the operator asks for (agents and the events collector) with the real Fluent Bit,
// exactly as their pod specs say — hostPath and emptyDir volumes, configuration and
// credentials projected from their Secrets, environment variables from Secrets, the
// service account's token, kubernetes.default.svc — and writes application
// containers' logs where the container runtime would. The e2e suite and `make run`
// use it; a control plane comes from test/testenv (WithInClusterAddress). A pod of
// several processes (a HotReload agent: its reloader is a native sidecar) runs under
// a Supervisor, which restarts containers, probes them and follows Secret changes as
// the kubelet does.
package localnode

import (
	"context"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/logplane/logplane/internal/agent"
	"github.com/logplane/logplane/test/fbrun"
	"github.com/logplane/logplane/test/testenv"
)

const serviceAccountDir = "/var/run/secrets/kubernetes.io/serviceaccount"

// Kubelet turns a pod spec into what its container sees.
type Kubelet struct {
	Client client.Client
	// Binary is the Fluent Bit binary every Fluent Bit image runs.
	Binary string
	// FBExec is the fbexec binary the operator image holds at /fbexec (the agent
	// pods' init container copies it); empty builds one (fbrun.BuildFBExec). Every
	// image here holds both binaries at their paths: a container runs its command,
	// or Fluent Bit without one.
	FBExec string
	// Logplane is the operator image's entry point, /logplane (the reloader of
	// HotReload agent pods runs it); empty builds one (fbrun.BuildLogplane) when a
	// container of that image starts.
	Logplane string
	// OpenFiles and OpenFilesHard, when not 0, are the soft and hard RLIMIT_NOFILE
	// of every container, as a container runtime sets them (containerd 2.x: 1024
	// and 524288).
	OpenFiles, OpenFilesHard int
	// API is how pods reach the API server as kubernetes.default.svc.
	API testenv.InCluster
	// Root is the node's own file system: hostPath volumes are directories below it.
	Root string

	// What the environment of a cloud cluster gives pods, for tests whose
	// destinations stand in for a cloud's:
	//
	// Hosts are names every pod resolves (cluster DNS, or a cloud's endpoints)
	// besides kubernetes.default.svc.
	Hosts map[string]string
	// Env is added to every pod's environment after its own, as a mutating webhook
	// of the platform does (EKS's IRSA webhook adds AWS credentials settings).
	Env []string
	// TrustedCAs are certificates every pod trusts besides the machine's (see
	// fbrun.Pod.TrustedCAs), as when the node image carries a company CA.
	TrustedCAs []byte
	// EmptyDirsOnNode keeps emptyDir volumes in directories of the node, as the
	// kubelet does (<Root>/var/lib/kubelet/pods/<uid>/volumes/kubernetes.io~empty-dir/<name>,
	// see EmptyDir), so that the containers of a pod share them and a test can write
	// into one what an application container would. Without it an emptyDir is new
	// for each container and goes with its process.
	EmptyDirsOnNode bool
	// SecretSync, when not 0, keeps Secret and projected volumes on the node
	// (<Root>/var/lib/kubelet/pods/<uid>/volumes/<kind>/<name>) laid out as the
	// kubelet's atomic writer does (files link through "..data" to a timestamped
	// directory) and, for pods a Supervisor runs, swaps "..data" to the Secret's new
	// content within SecretSync of a change, as the kubelet's volume sync does (every
	// minute or so on a real node). Without it a container gets the content at its start.
	SecretSync time.Duration
}

// EmptyDir is the node directory of a pod's emptyDir volume when EmptyDirsOnNode is set.
func (k *Kubelet) EmptyDir(pod *corev1.Pod, volume string) string {
	return filepath.Join(k.Root, "var/lib/kubelet/pods", string(pod.UID), "volumes/kubernetes.io~empty-dir", volume)
}

// Container prepares container c of pod (which has its name and namespace) the way
// the kubelet would; podIP is the pod's address.
func (k *Kubelet) Container(ctx context.Context, pod *corev1.Pod, c corev1.Container, podIP string) (fbrun.Pod, error) {
	fbexec := k.FBExec
	if fbexec == "" {
		var err error
		if fbexec, err = fbrun.BuildFBExec(); err != nil {
			return fbrun.Pod{}, err
		}
	}
	p := fbrun.Pod{
		Binary:        k.Binary,
		Binaries:      map[string]string{agent.OperatorFBExec: fbexec},
		Command:       c.Command,
		Args:          c.Args,
		OpenFiles:     k.OpenFiles,
		OpenFilesHard: k.OpenFilesHard,
		Files:         map[string][]byte{},
		Hosts:         map[string]string{"kubernetes.default.svc": k.API.Address},
		Env: []string{"HOSTNAME=" + pod.Name, "KUBERNETES_SERVICE_HOST=" + k.API.Address, "KUBERNETES_SERVICE_PORT=443",
			"PATH=/fluent-bit/bin:/usr/local/bin:/usr/bin:/bin"},
		TrustedCAs: k.TrustedCAs,
	}
	for name, ip := range k.Hosts {
		p.Hosts[name] = ip
	}
	// Only a container that runs the entry point needs it (building it takes a while).
	if operatorImage(c.Image) && (c.Command == nil || c.Command[0] == OperatorEntrypoint) {
		bin := k.Logplane
		if bin == "" {
			var err error
			if bin, err = fbrun.BuildLogplane(); err != nil {
				return fbrun.Pod{}, err
			}
		}
		p.Binaries[OperatorEntrypoint] = bin
		if p.Command == nil {
			p.Command = []string{OperatorEntrypoint}
		}
	}
	if sc := c.SecurityContext; sc != nil && sc.RunAsUser != nil {
		p.User = int(*sc.RunAsUser)
	}
	volumes := map[string]corev1.Volume{}
	for _, v := range pod.Spec.Volumes {
		volumes[v.Name] = v
	}
	for _, m := range c.VolumeMounts {
		v, ok := volumes[m.Name]
		if !ok {
			return fbrun.Pod{}, fmt.Errorf("container %s mounts volume %s, which the pod lacks", c.Name, m.Name)
		}
		if err := k.mount(ctx, pod, v, m, &p); err != nil {
			return fbrun.Pod{}, fmt.Errorf("volume %s: %w", m.Name, err)
		}
	}
	for _, e := range c.Env {
		value, err := k.envValue(ctx, pod, e, podIP)
		if err != nil {
			return fbrun.Pod{}, fmt.Errorf("env %s: %w", e.Name, err)
		}
		p.Env = append(p.Env, e.Name+"="+value)
	}
	p.Env = append(p.Env, k.Env...)
	// A pod that opts out of the token gets none (the canary: the kubernetes filter
	// starts without one).
	if sa := pod.Spec.ServiceAccountName; sa != "" && (pod.Spec.AutomountServiceAccountToken == nil || *pod.Spec.AutomountServiceAccountToken) {
		tr := &authenticationv1.TokenRequest{}
		account := &corev1.ServiceAccount{}
		if err := k.Client.Get(ctx, client.ObjectKey{Namespace: pod.Namespace, Name: sa}, account); err != nil {
			return fbrun.Pod{}, fmt.Errorf("service account %s: %w", sa, err)
		}
		if err := k.Client.SubResource("token").Create(ctx, account, tr); err != nil {
			return fbrun.Pod{}, fmt.Errorf("failed to request a token for %s: %w", sa, err)
		}
		p.Files[serviceAccountDir+"/token"] = []byte(tr.Status.Token)
		p.Files[serviceAccountDir+"/ca.crt"] = k.API.CA
		p.Files[serviceAccountDir+"/namespace"] = []byte(pod.Namespace)
	}
	return p, nil
}

func (k *Kubelet) mount(ctx context.Context, pod *corev1.Pod, v corev1.Volume, m corev1.VolumeMount, p *fbrun.Pod) error {
	switch {
	case v.HostPath != nil:
		dir := filepath.Join(k.Root, v.HostPath.Path)
		if t := v.HostPath.Type; t != nil && *t == corev1.HostPathDirectoryOrCreate {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return err
			}
		}
		if _, err := os.Stat(dir); err != nil {
			return fmt.Errorf("hostPath %s: %w", v.HostPath.Path, err)
		}
		p.Mounts = append(p.Mounts, fbrun.Mount{Path: m.MountPath, HostDir: dir, ReadOnly: m.ReadOnly})
	case v.EmptyDir != nil && (k.EmptyDirsOnNode || initMounts(pod, v.Name)):
		// Kept on the node too when an init container mounts it: what it leaves
		// there is for the containers that follow.
		dir := k.EmptyDir(pod, v.Name)
		// World-writable, as the kubelet makes them, for containers of any user.
		if err := os.MkdirAll(dir, 0o777); err != nil {
			return err
		}
		if err := os.Chmod(dir, 0o777); err != nil {
			return err
		}
		p.Mounts = append(p.Mounts, fbrun.Mount{Path: m.MountPath, HostDir: dir, ReadOnly: m.ReadOnly})
	case v.EmptyDir != nil:
		p.Mounts = append(p.Mounts, fbrun.Mount{Path: m.MountPath})
	case k.SecretSync > 0 && (v.Secret != nil || v.Projected != nil):
		dir, err := k.syncVolume(ctx, pod, v)
		if err != nil {
			return err
		}
		p.Mounts = append(p.Mounts, fbrun.Mount{Path: m.MountPath, HostDir: dir, ReadOnly: true})
	case v.Secret != nil:
		return k.secretFiles(ctx, pod.Namespace, v.Secret.SecretName, v.Secret.Items, m.MountPath, p)
	case v.Projected != nil:
		for _, src := range v.Projected.Sources {
			var err error
			switch {
			case src.Secret != nil:
				err = k.secretFiles(ctx, pod.Namespace, src.Secret.Name, src.Secret.Items, m.MountPath, p)
			case src.DownwardAPI != nil:
				err = downwardFiles(pod, src.DownwardAPI.Items, m.MountPath, p)
			default:
				err = fmt.Errorf("only Secrets and the downward API are projected here")
			}
			if err != nil {
				return err
			}
		}
	default:
		return fmt.Errorf("unsupported volume type")
	}
	return nil
}

// OperatorEntrypoint is the operator image's entry point (see the Dockerfile): a
// container of that image without a command runs it with its args.
const OperatorEntrypoint = "/logplane"

// operatorImage says whether image is the operator's (any tag or registry of
// .../logplane).
func operatorImage(image string) bool {
	repo := image
	if i := strings.LastIndex(repo, "@"); i >= 0 {
		repo = repo[:i]
	}
	if i := strings.LastIndex(repo, ":"); i > strings.LastIndex(repo, "/") {
		repo = repo[:i]
	}
	return path.Base(repo) == "logplane"
}

// RunInit runs the pod's init containers in order, each to its end, as the kubelet
// does before it starts the containers; an init container that fails fails the pod.
func (k *Kubelet) RunInit(ctx context.Context, pod *corev1.Pod, podIP string) error {
	for _, c := range pod.Spec.InitContainers {
		if c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways {
			return fmt.Errorf("init container %s is a sidecar (restartPolicy Always): run the pod with Node.SuperviseDaemonSet", c.Name)
		}
		if err := k.runInit(ctx, pod, c, podIP); err != nil {
			return err
		}
	}
	return nil
}

// runInit runs one init container to its end.
func (k *Kubelet) runInit(ctx context.Context, pod *corev1.Pod, c corev1.Container, podIP string) error {
	spec, err := k.Container(ctx, pod, c, podIP)
	if err != nil {
		return fmt.Errorf("init container %s: %w", c.Name, err)
	}
	proc, err := spec.Start()
	if err != nil {
		return fmt.Errorf("init container %s: %w", c.Name, err)
	}
	select {
	case <-ctx.Done():
		proc.Kill()
		return ctx.Err()
	case err := <-waitFor(proc):
		if err != nil {
			return fmt.Errorf("init container %s failed: %w: %s", c.Name, err, proc.Log())
		}
	}
	return nil
}

func waitFor(p *fbrun.Process) <-chan error {
	ch := make(chan error, 1)
	go func() { ch <- p.Wait() }()
	return ch
}

// initMounts reports whether an init container of pod mounts the volume.
func initMounts(pod *corev1.Pod, volume string) bool {
	for _, c := range pod.Spec.InitContainers {
		for _, m := range c.VolumeMounts {
			if m.Name == volume {
				return true
			}
		}
	}
	return false
}

// downwardFiles writes the pod fields items name as files under dir: the kubelet
// writes them as the pod is when its container starts.
func downwardFiles(pod *corev1.Pod, items []corev1.DownwardAPIVolumeFile, dir string, p *fbrun.Pod) error {
	for _, it := range items {
		if it.FieldRef == nil {
			return fmt.Errorf("downward API file %s: only fieldRef is supported here", it.Path)
		}
		value, err := podField(pod, it.FieldRef.FieldPath)
		if err != nil {
			return fmt.Errorf("downward API file %s: %w", it.Path, err)
		}
		p.Files[path.Join(dir, it.Path)] = []byte(value)
	}
	return nil
}

// podField reads a field path of the downward API: metadata.name, metadata.namespace,
// metadata.uid, spec.nodeName, or one annotation or label.
func podField(pod *corev1.Pod, fieldPath string) (string, error) {
	for prefix, m := range map[string]map[string]string{"metadata.annotations": pod.Annotations, "metadata.labels": pod.Labels} {
		if key, ok := strings.CutPrefix(fieldPath, prefix+"['"); ok && strings.HasSuffix(key, "']") {
			return m[strings.TrimSuffix(key, "']")], nil
		}
	}
	switch fieldPath {
	case "metadata.name":
		return pod.Name, nil
	case "metadata.namespace":
		return pod.Namespace, nil
	case "metadata.uid":
		return string(pod.UID), nil
	case "spec.nodeName":
		return pod.Spec.NodeName, nil
	}
	return "", fmt.Errorf("field %s is not supported here", fieldPath)
}

// secretFiles writes a Secret's keys (or the items named) as files under dir.
func (k *Kubelet) secretFiles(ctx context.Context, ns, name string, items []corev1.KeyToPath, dir string, p *fbrun.Pod) error {
	s := &corev1.Secret{}
	if err := k.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, s); err != nil {
		return fmt.Errorf("secret %s: %w", name, err)
	}
	if len(items) == 0 {
		for key := range s.Data {
			items = append(items, corev1.KeyToPath{Key: key, Path: key})
		}
	}
	for _, it := range items {
		data, ok := s.Data[it.Key]
		if !ok {
			return fmt.Errorf("secret %s has no key %s", name, it.Key)
		}
		p.Files[path.Join(dir, it.Path)] = data
	}
	return nil
}

func (k *Kubelet) envValue(ctx context.Context, pod *corev1.Pod, e corev1.EnvVar, podIP string) (string, error) {
	switch {
	case e.ValueFrom == nil:
		return e.Value, nil
	case e.ValueFrom.SecretKeyRef != nil:
		ref := e.ValueFrom.SecretKeyRef
		s := &corev1.Secret{}
		if err := k.Client.Get(ctx, client.ObjectKey{Namespace: pod.Namespace, Name: ref.Name}, s); err != nil {
			return "", err
		}
		v, ok := s.Data[ref.Key]
		if !ok {
			return "", fmt.Errorf("secret %s has no key %s", ref.Name, ref.Key)
		}
		return string(v), nil
	case e.ValueFrom.FieldRef != nil:
		if f := e.ValueFrom.FieldRef.FieldPath; f == "status.podIP" {
			return podIP, nil
		}
		return podField(pod, e.ValueFrom.FieldRef.FieldPath)
	}
	return "", fmt.Errorf("unsupported source %s", strings.TrimSpace(e.ValueFrom.String()))
}

// ContainerdOpenFiles is the RLIMIT_NOFILE containerd 2.x gives containers, 1024
// soft and 524288 hard, with the hard limit lowered to this machine's where that is
// lower (raising it takes CAP_SYS_RESOURCE): for Kubelet.OpenFiles and OpenFilesHard.
func ContainerdOpenFiles() (soft, hard int) {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		return 1024, 1024
	}
	return 1024, int(min(l.Max, 524288))
}
