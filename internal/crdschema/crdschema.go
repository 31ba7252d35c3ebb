// Package crdschema does to a logplane object what the API server does to it on its way
// into storage, with the schemas of the CRDs the binary carries (config/crd): fields
// the schema does not declare are pruned, nulls dropped and schema defaults applied, by
// the API server's own code (apiextensions-apiserver's structural schema, pruning and
// defaulting). `logplane render` reads manifests through it, so that it renders the
// objects the operator will read from the cluster, not the manifests as written.
package crdschema

import (
	"fmt"
	"io/fs"
	"sync"

	apiextensionsinternal "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	structuraldefaulting "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/defaulting"
	structuralpruning "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/pruning"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/yaml"

	"github.com/logplane/logplane/config/crd"
)

// Schemas are the structural schemas of the served versions of a set of CRDs.
type Schemas struct {
	kinds map[schema.GroupVersionKind]kindSchema
}

type kindSchema struct {
	structural *structuralschema.Structural
	// status says the version has a status subresource.
	status bool
}

// Embedded returns the schemas of the CRDs in config/crd/bases, read once.
var Embedded = sync.OnceValues(func() (*Schemas, error) {
	bases, err := fs.Sub(crd.Bases, "bases")
	if err != nil {
		return nil, fmt.Errorf("failed to open the embedded CRDs: %w", err)
	}
	return Read(bases)
})

// Read reads every *.yaml file at the top of fsys as a CustomResourceDefinition.
func Read(fsys fs.FS) (*Schemas, error) {
	files, err := fs.Glob(fsys, "*.yaml")
	if err != nil {
		return nil, fmt.Errorf("failed to list CRD files: %w", err)
	}
	s := &Schemas{kinds: map[schema.GroupVersionKind]kindSchema{}}
	for _, f := range files {
		data, err := fs.ReadFile(fsys, f)
		if err != nil {
			return nil, fmt.Errorf("failed to read CRD file %s: %w", f, err)
		}
		var c apiextensionsv1.CustomResourceDefinition
		if err := yaml.UnmarshalStrict(data, &c); err != nil {
			return nil, fmt.Errorf("failed to decode CRD file %s: %w", f, err)
		}
		if err := s.add(&c); err != nil {
			return nil, fmt.Errorf("failed to read CRD %s: %w", c.Name, err)
		}
	}
	if len(s.kinds) == 0 {
		return nil, fmt.Errorf("failed to find a CRD: no YAML file holds one")
	}
	return s, nil
}

// add builds each served version's schema as the API server's CRD handler does:
// converted to the internal type, made structural, its defaults pruned.
func (s *Schemas) add(c *apiextensionsv1.CustomResourceDefinition) error {
	for _, v := range c.Spec.Versions {
		if !v.Served || v.Schema == nil {
			continue
		}
		var internal apiextensionsinternal.CustomResourceValidation
		if err := apiextensionsv1.Convert_v1_CustomResourceValidation_To_apiextensions_CustomResourceValidation(v.Schema, &internal, nil); err != nil {
			return fmt.Errorf("failed to convert schema of version %s: %w", v.Name, err)
		}
		st, err := structuralschema.NewStructural(internal.OpenAPIV3Schema)
		if err != nil {
			return fmt.Errorf("failed to build structural schema of version %s: %w", v.Name, err)
		}
		if err := structuraldefaulting.PruneDefaults(st); err != nil {
			return fmt.Errorf("failed to prune defaults of version %s: %w", v.Name, err)
		}
		gvk := schema.GroupVersionKind{Group: c.Spec.Group, Version: v.Name, Kind: c.Spec.Names.Kind}
		s.kinds[gvk] = kindSchema{structural: st, status: v.Subresources != nil && v.Subresources.Status != nil}
	}
	return nil
}

// Knows reports whether gvk is a served kind and version of the CRDs.
func (s *Schemas) Knows(gvk schema.GroupVersionKind) bool {
	_, ok := s.kinds[gvk]
	return ok
}

// Admit changes obj, a custom resource as decoded from JSON, as the API server does when
// it creates the object: status goes (a create cannot set it when the kind has a status
// subresource), fields the schema does not declare are pruned, nulls in fields that
// allow none and have no default are dropped, and the schema defaults are applied. It
// returns the paths of the pruned fields, which the API server's strict field
// validation (kubectl's default) rejects. Metadata is left as it is.
func (s *Schemas) Admit(obj map[string]any) (pruned []string, err error) {
	apiVersion, _ := obj["apiVersion"].(string)
	kind, _ := obj["kind"].(string)
	gv, err := schema.ParseGroupVersion(apiVersion)
	if err != nil {
		return nil, fmt.Errorf("failed to parse apiVersion %q: %w", apiVersion, err)
	}
	k, ok := s.kinds[gv.WithKind(kind)]
	if !ok {
		return nil, fmt.Errorf("failed to find a schema: no CRD serves %s %s", apiVersion, kind)
	}
	if k.status {
		delete(obj, "status")
	}
	// The order of the API server's decoder (unstructuredSchemaCoercer), then its defaulter.
	pruned = structuralpruning.PruneWithOptions(obj, k.structural, true,
		structuralschema.UnknownFieldPathOptions{TrackUnknownFieldPaths: true})
	structuraldefaulting.PruneNonNullableNullsWithoutDefaults(obj, k.structural)
	structuraldefaulting.Default(obj, k.structural)
	return pruned, nil
}
