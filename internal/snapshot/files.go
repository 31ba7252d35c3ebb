package snapshot

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	"k8s.io/apimachinery/pkg/util/validation"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/yaml"

	v1 "github.com/logplane/logplane/api/v1alpha1"
	"github.com/logplane/logplane/internal/crdschema"
)

// LoadFiles builds a snapshot from YAML manifests, as `kubectl apply -f` would read
// them: each path is a file or a directory (its *.yaml, *.yml and *.json files,
// recursively). Secrets contribute the names of their keys and what their values are
// fit for, and the operator's salt Secret (SaltSecretName), when given, the salt of
// the names of credentials. Kinds logplane does not read are skipped. Namespaced
// objects without a namespace get defaultNamespace. logplane objects are what the API
// server would store: their CRD schemas' defaults applied, and fields the schemas do
// not declare rejected (see crdschema).
func LoadFiles(paths []string, operatorNamespace, defaultNamespace string) (*Snapshot, error) {
	schemas, err := crdschema.Embedded()
	if err != nil {
		return nil, fmt.Errorf("failed to read the CRD schemas: %w", err)
	}
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
			if err := s.addManifests(data, schemas, defaultNamespace, namespaces); err != nil {
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
		// The API server labels every namespace with its name; selectors (grants
		// above all) use that label to name one namespace.
		l = maps.Clone(l)
		if l == nil {
			l = map[string]string{}
		}
		l[corev1.LabelMetadataName] = name
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

func (s *Snapshot) addManifests(data []byte, schemas *crdschema.Schemas, defaultNamespace string, namespaces map[string]map[string]string) error {
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
		if doc, err = admit(doc, schemas); err != nil {
			return err
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
		case *v1.IdentityGrant:
			s.Grants = append(s.Grants, *o)
		case *corev1.Namespace:
			namespaces[o.Name] = o.Labels
		case *corev1.Secret:
			// As the API server stores it: stringData written over data.
			data := make(map[string][]byte, len(o.Data)+len(o.StringData))
			maps.Copy(data, o.Data)
			for k, v := range o.StringData {
				data[k] = []byte(v)
			}
			sec := NewSecret(ns(o.Namespace), o.Name, data)
			s.Secrets = append(s.Secrets, sec)
			if sec.Namespace == s.OperatorNamespace && sec.Name == SaltSecretName {
				s.Salt = data[SaltKey]
			}
		}
	}
}

// admit returns a logplane object's document as the API server would store it, in
// JSON: defaulted, and refused when it holds a field the schema does not declare, as
// strict field validation (kubectl's default) refuses it. Other documents are returned
// as they are.
func admit(doc []byte, schemas *crdschema.Schemas) ([]byte, error) {
	var tm metav1.TypeMeta
	if err := yaml.Unmarshal(doc, &tm); err != nil || !schemas.Knows(tm.GroupVersionKind()) {
		return doc, nil // not a logplane object: the decoder reads it or says what is wrong
	}
	// A key given twice is an error, as in the decoder's strict mode.
	data, err := yaml.YAMLToJSONStrict(doc)
	if err != nil {
		return nil, fmt.Errorf("failed to read %s: %w", tm.Kind, err)
	}
	u := &unstructured.Unstructured{}
	// Numbers as the API server decodes them: int64 when whole.
	if err := utiljson.Unmarshal(data, &u.Object); err != nil {
		return nil, fmt.Errorf("failed to read %s: %w", tm.Kind, err)
	}
	pruned, err := schemas.Admit(u.Object)
	if err != nil {
		return nil, err
	}
	if len(pruned) > 0 {
		fields := make([]string, len(pruned))
		for i, f := range pruned {
			fields[i] = fmt.Sprintf("unknown field %q", f)
		}
		return nil, fmt.Errorf("%s %s: strict decoding error: %s", u.GetKind(), u.GetName(), strings.Join(fields, ", "))
	}
	return json.Marshal(u.Object)
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
