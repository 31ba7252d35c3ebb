package snapshot

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/util/validation"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"

	v1 "github.com/logplane/logplane/api/v1alpha1"
)

// LoadFiles builds a snapshot from YAML manifests, as `kubectl apply -f` would read
// them: each path is a file or a directory (its *.yaml, *.yml and *.json files,
// recursively). Secrets contribute only the names of their keys. Kinds logplane does
// not read are skipped. Namespaced objects without a namespace get defaultNamespace.
func LoadFiles(paths []string, operatorNamespace, defaultNamespace string) (*Snapshot, error) {
	s := &Snapshot{OperatorNamespace: operatorNamespace}
	namespaces := map[string]map[string]string{}
	for _, p := range paths {
		files, err := manifestFiles(p)
		if err != nil {
			return nil, err
		}
		for _, f := range files {
			data, err := os.ReadFile(f)
			if err != nil {
				return nil, err
			}
			if err := s.addManifests(data, defaultNamespace, namespaces); err != nil {
				return nil, fmt.Errorf("%s: %w", f, err)
			}
		}
	}
	for _, pl := range s.Pipelines {
		if _, ok := namespaces[pl.Namespace]; !ok {
			namespaces[pl.Namespace] = nil
		}
	}
	for name, l := range namespaces {
		s.Namespaces = append(s.Namespaces, Namespace{Name: name, Labels: l})
	}
	s.Sort()
	return s, nil
}

func manifestFiles(path string) ([]string, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !info.IsDir() {
		return []string{path}, nil
	}
	var files []string
	err = filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		ext := strings.ToLower(filepath.Ext(p))
		if !d.IsDir() && (ext == ".yaml" || ext == ".yml" || ext == ".json") && d.Name() != "kustomization.yaml" {
			files = append(files, p)
		}
		return nil
	})
	slices.Sort(files)
	return files, err
}

var decoder = func() runtime.Decoder {
	scheme := runtime.NewScheme()
	_ = clientgoscheme.AddToScheme(scheme)
	_ = v1.AddToScheme(scheme)
	return serializer.NewCodecFactory(scheme, serializer.EnableStrict).UniversalDeserializer()
}()

func (s *Snapshot) addManifests(data []byte, defaultNamespace string, namespaces map[string]map[string]string) error {
	reader := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	for {
		doc, err := reader.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if isEmptyDocument(doc) {
			continue
		}
		obj, _, err := decoder.Decode(doc, nil, nil)
		if err != nil {
			if runtime.IsNotRegisteredError(err) {
				continue // a kind logplane does not read, such as a Deployment
			}
			return err
		}
		if meta, ok := obj.(interface {
			GetName() string
			GetNamespace() string
		}); ok {
			if errs := validation.IsDNS1123Subdomain(meta.GetName()); len(errs) > 0 {
				return fmt.Errorf("invalid name %q: %s", meta.GetName(), strings.Join(errs, "; "))
			}
			if n := meta.GetNamespace(); n != "" {
				if errs := validation.IsDNS1123Label(n); len(errs) > 0 {
					return fmt.Errorf("invalid namespace %q: %s", n, strings.Join(errs, "; "))
				}
			}
		}
		ns := func(n string) string {
			if n == "" {
				return defaultNamespace
			}
			return n
		}
		switch o := obj.(type) {
		case *v1.LogAgent:
			s.Agents = append(s.Agents, *o)
		case *v1.ClusterLogPipeline:
			s.ClusterPipelines = append(s.ClusterPipelines, *o)
		case *v1.LogPipeline:
			o.Namespace = ns(o.Namespace)
			s.Pipelines = append(s.Pipelines, *o)
		case *v1.LogOutput:
			o.Namespace = ns(o.Namespace)
			s.Outputs = append(s.Outputs, *o)
		case *v1.ClusterLogOutput:
			s.ClusterOutputs = append(s.ClusterOutputs, *o)
		case *v1.RetentionPolicy:
			s.Policies = append(s.Policies, *o)
		case *corev1.Namespace:
			namespaces[o.Name] = o.Labels
		case *corev1.Secret:
			keys := make([]string, 0, len(o.Data)+len(o.StringData))
			for k := range o.Data {
				keys = append(keys, k)
			}
			for k := range o.StringData {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			s.Secrets = append(s.Secrets, Secret{Namespace: ns(o.Namespace), Name: o.Name, Keys: slices.Compact(keys)})
		}
	}
}

// isEmptyDocument reports whether a YAML document holds nothing but comments and space.
func isEmptyDocument(doc []byte) bool {
	for _, line := range bytes.Split(doc, []byte("\n")) {
		line = bytes.TrimSpace(line)
		if len(line) > 0 && line[0] != '#' && !bytes.Equal(line, []byte("---")) {
			return false
		}
	}
	return true
}
