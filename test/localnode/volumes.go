package localnode

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/logplane/logplane/test/fbrun"
)

// volumeDir is where the node keeps a Secret or projected volume of pod (SecretSync).
func (k *Kubelet) volumeDir(pod *corev1.Pod, v corev1.Volume) string {
	kind := "kubernetes.io~secret"
	if v.Projected != nil {
		kind = "kubernetes.io~projected"
	}
	return filepath.Join(k.Root, "var/lib/kubelet/pods", string(pod.UID), "volumes", kind, v.Name)
}

// volumeFiles is the content of a Secret or projected volume now: relative path →
// bytes.
func (k *Kubelet) volumeFiles(ctx context.Context, pod *corev1.Pod, v corev1.Volume) (map[string][]byte, error) {
	// The same readers as for a container's own files, under a root of "/".
	p := fbrun.Pod{Files: map[string][]byte{}}
	var err error
	switch {
	case v.Secret != nil:
		err = k.secretFiles(ctx, pod.Namespace, v.Secret.SecretName, v.Secret.Items, "/", &p)
	case v.Projected != nil:
		for _, src := range v.Projected.Sources {
			switch {
			case src.Secret != nil:
				err = k.secretFiles(ctx, pod.Namespace, src.Secret.Name, src.Secret.Items, "/", &p)
			case src.DownwardAPI != nil:
				err = downwardFiles(pod, src.DownwardAPI.Items, "/", &p)
			default:
				err = fmt.Errorf("only Secrets and the downward API are projected here")
			}
			if err != nil {
				break
			}
		}
	}
	if err != nil {
		return nil, err
	}
	files := map[string][]byte{}
	for name, data := range p.Files {
		files[strings.TrimPrefix(name, "/")] = data
	}
	return files, nil
}

// syncVolume brings the node's copy of a Secret or projected volume up to date and
// returns its directory. Like the kubelet's atomic writer, it writes a new
// timestamped directory, swaps the "..data" link to it with one rename, and keeps a
// link per top-level name through "..data"; a reader that resolves "..data" once
// never sees two versions mixed. Unchanged content is left alone.
func (k *Kubelet) syncVolume(ctx context.Context, pod *corev1.Pod, v corev1.Volume) (string, error) {
	dir := k.volumeDir(pod, v)
	files, err := k.volumeFiles(ctx, pod, v)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	if same(filepath.Join(dir, "..data"), files) {
		return dir, nil
	}
	old, _ := os.Readlink(filepath.Join(dir, "..data"))
	stamp := ".." + time.Now().UTC().Format("2006_01_02_15_04_05.000000000")
	for name, data := range files {
		dst := filepath.Join(dir, stamp, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return "", err
		}
		if err := os.WriteFile(dst, data, 0o644); err != nil {
			return "", err
		}
	}
	if err := os.MkdirAll(filepath.Join(dir, stamp), 0o755); err != nil {
		return "", err
	}
	tmp := filepath.Join(dir, "..data_tmp")
	_ = os.Remove(tmp)
	if err := os.Symlink(stamp, tmp); err != nil {
		return "", err
	}
	if err := os.Rename(tmp, filepath.Join(dir, "..data")); err != nil {
		return "", err
	}
	tops := map[string]bool{}
	for name := range files {
		tops[strings.SplitN(name, "/", 2)[0]] = true
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return "", err
	}
	for _, e := range entries {
		if n := e.Name(); !strings.HasPrefix(n, "..") && !tops[n] {
			_ = os.Remove(filepath.Join(dir, n))
		}
	}
	for top := range tops {
		if _, err := os.Lstat(filepath.Join(dir, top)); err == nil {
			continue
		}
		if err := os.Symlink(path.Join("..data", top), filepath.Join(dir, top)); err != nil {
			return "", err
		}
	}
	if old != "" && old != stamp {
		_ = os.RemoveAll(filepath.Join(dir, old))
	}
	return dir, nil
}

// same says whether the directory at dir holds exactly files.
func same(dir string, files map[string][]byte) bool {
	n := 0
	err := filepath.WalkDir(dir+"/", func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		want, ok := files[filepath.ToSlash(rel)]
		if !ok || !bytes.Equal(want, data) {
			return fmt.Errorf("%s differs", rel)
		}
		n++
		return nil
	})
	return err == nil && n == len(files)
}
