package agent

// The last healthy configuration of an agent, saved in Secrets of its own so that a
// rollback does not depend on what the configuration Secrets hold now, and a
// restarted operator still has it.

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	v1 "github.com/logplane/logplane/api/v1alpha1"
	agentobjects "github.com/logplane/logplane/internal/agent"
	"github.com/logplane/logplane/internal/apply"
	"github.com/logplane/logplane/internal/render"
)

// LastHealthySecretName is the i-th Secret that saves the agent's last healthy
// configuration. Not "-config-" or "-credentials-": pruning leaves it alone.
func LastHealthySecretName(agent string, i int) string {
	name := agentobjects.ResourceName(agent) + "-last-healthy"
	if i == 0 {
		return name
	}
	return name + "-" + strconv.Itoa(i)
}

// savedMeta is the first Secret's description of the saved configuration; file
// contents are in their own keys, maybe in further Secrets.
type savedMeta struct {
	Hash   string        `json:"hash"`
	Config render.Config `json:"config"`
	Files  []savedFile   `json:"files"`
	Values []savedValue  `json:"values,omitempty"`
}

type savedFile struct {
	Name   string `json:"name"`
	Secret int    `json:"secret"`
}

type savedValue struct {
	Source render.SecretSource `json:"source"`
	Value  []byte              `json:"value"`
}

// lastHealthySecrets encodes the saved configuration and the failed rollouts into
// Secrets: every file gzip-compressed in a key of its own, as many files per Secret
// as fit in lastHealthyBudget.
func lastHealthySecrets(agent, namespace string, c *savedConfig, failed []failedRollout) ([]*corev1.Secret, error) {
	meta := savedMeta{Hash: c.Hash, Config: c.Config}
	meta.Config.Files = nil
	for src, val := range c.Values {
		meta.Values = append(meta.Values, savedValue{Source: src, Value: val})
	}
	slices.SortFunc(meta.Values, func(a, b savedValue) int {
		return strings.Compare(a.Source.Namespace+"/"+a.Source.Name+"/"+a.Source.Key, b.Source.Namespace+"/"+b.Source.Name+"/"+b.Source.Key)
	})
	files := make([][]byte, len(c.Config.Files))
	for i, f := range c.Config.Files {
		z, err := gz(f.Content)
		if err != nil {
			return nil, err
		}
		files[i] = z
	}
	// The description goes first, sized with the placement of every file in the
	// last Secret, which is as long as it gets.
	meta.Files = make([]savedFile, len(files))
	for i, f := range c.Config.Files {
		meta.Files[i] = savedFile{Name: f.Name, Secret: len(files)}
	}
	probe, err := gzJSON(meta)
	if err != nil {
		return nil, err
	}
	sizes := []int{len(probe)}
	for i := range files {
		last := len(sizes) - 1
		if sizes[last]+len(files[i]) > lastHealthyBudget && sizes[last] > 0 {
			sizes = append(sizes, 0)
			last++
		}
		sizes[last] += len(files[i])
		meta.Files[i].Secret = last
	}
	metaGz, err := gzJSON(meta)
	if err != nil {
		return nil, err
	}
	failedJSON, err := json.Marshal(failed)
	if err != nil {
		return nil, err
	}
	secrets := make([]*corev1.Secret, len(sizes))
	for i := range secrets {
		secrets[i] = &corev1.Secret{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
			ObjectMeta: metav1.ObjectMeta{Name: LastHealthySecretName(agent, i), Namespace: namespace,
				Labels: map[string]string{agentobjects.LabelAgent: agent, agentobjects.LabelManagedBy: "logplane"}},
			Type: corev1.SecretTypeOpaque, Data: map[string][]byte{}}
	}
	secrets[0].Data[metaKey] = metaGz
	secrets[0].Annotations = map[string]string{AnnotationFailedRollouts: string(failedJSON)}
	for i, f := range c.Config.Files {
		secrets[meta.Files[i].Secret].Data[f.Name+".gz"] = files[i]
	}
	return secrets, nil
}

// decodeLastHealthy reads what lastHealthySecrets wrote; get fetches a further
// Secret by its index. A configuration that cannot be read whole is nil: nothing to
// roll back to, which is safe.
func decodeLastHealthy(first *corev1.Secret, get func(i int) (*corev1.Secret, error)) (*savedConfig, []failedRollout, error) {
	var failed []failedRollout
	if a := first.Annotations[AnnotationFailedRollouts]; a != "" {
		_ = json.Unmarshal([]byte(a), &failed) // unreadable: nothing known to fail
	}
	raw, err := gunzip(first.Data[metaKey])
	if err != nil {
		return nil, failed, nil
	}
	var meta savedMeta
	if err := json.Unmarshal(raw, &meta); err != nil || meta.Hash == "" {
		return nil, failed, nil
	}
	c := &savedConfig{Hash: meta.Hash, Config: meta.Config, Values: map[render.SecretSource][]byte{}}
	for _, v := range meta.Values {
		c.Values[v.Source] = v.Value
	}
	shards := map[int]*corev1.Secret{0: first}
	for _, f := range meta.Files {
		s := shards[f.Secret]
		if s == nil {
			if s, err = get(f.Secret); err != nil {
				return nil, failed, err
			}
			if s == nil {
				return nil, failed, nil
			}
			shards[f.Secret] = s
		}
		content, err := gunzip(s.Data[f.Name+".gz"])
		if err != nil || s.Data[f.Name+".gz"] == nil {
			return nil, failed, nil
		}
		c.Config.Files = append(c.Config.Files, render.File{Name: f.Name, Content: content})
	}
	return c, failed, nil
}

// readLastHealthy reads the agent's saved configuration and failed rollouts from the
// API server (the cache holds no Secret data).
func (r *Reconciler) readLastHealthy(ctx context.Context, agent string) (*savedConfig, []failedRollout, error) {
	get := func(i int) (*corev1.Secret, error) {
		var s corev1.Secret
		err := r.Secrets.Get(ctx, client.ObjectKey{Namespace: r.Namespace, Name: LastHealthySecretName(agent, i)}, &s)
		if apierrors.IsNotFound(err) {
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("failed to get Secret %s: %w", LastHealthySecretName(agent, i), err)
		}
		return &s, nil
	}
	first, err := get(0)
	if err != nil || first == nil {
		return nil, nil, err
	}
	return decodeLastHealthy(first, get)
}

// saveLastHealthy writes the agent's last healthy configuration and failed rollouts,
// and deletes saved shards it no longer needs.
func (r *Reconciler) saveLastHealthy(ctx context.Context, agent string, owner *v1.LogAgent, st *rollbackState, existing []metav1.PartialObjectMetadata) error {
	if st.healthy == nil {
		return nil
	}
	secrets, err := lastHealthySecrets(agent, r.Namespace, st.healthy, st.failed)
	if err != nil {
		return fmt.Errorf("failed to encode the last healthy configuration: %w", err)
	}
	keep := map[string]bool{}
	for _, s := range secrets {
		keep[s.Name] = true
		if owner != nil {
			if err := controllerutil.SetOwnerReference(owner, s, r.Client.Scheme()); err != nil {
				return err
			}
		}
		if err := apply.Apply(ctx, r.Client, s); err != nil {
			return err
		}
	}
	prefix := LastHealthySecretName(agent, 0) + "-"
	for i := range existing {
		s := &existing[i]
		if keep[s.Name] || !strings.HasPrefix(s.Name, prefix) {
			continue
		}
		if err := r.Client.Delete(ctx, s); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("failed to delete stale Secret %s: %w", s.Name, err)
		}
	}
	return nil
}

func gz(data []byte) ([]byte, error) {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(data); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func gzJSON(v any) ([]byte, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return gz(data)
}

func gunzip(data []byte) ([]byte, error) {
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	return io.ReadAll(zr)
}
