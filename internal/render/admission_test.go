package render

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"reflect"
	"sync"
	"testing"

	apiextensionsinternal "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/cel"
	structuraldefaulting "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/defaulting"
	structuralpruning "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/pruning"
	apiextensionsvalidation "k8s.io/apiextensions-apiserver/pkg/apiserver/validation"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	"k8s.io/apimachinery/pkg/util/validation/field"
	celconfig "k8s.io/apiserver/pkg/apis/cel"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/logplane/logplane/config/crd"
)

// admission does to an object what the API server does when it is created: prune,
// default, and validate against the CRD's OpenAPI schema and its CEL rules, with the
// API server's own code. The fuzz test keeps only what it admits, so that whatever it
// finds is something a tenant can apply.
type admission struct {
	kinds map[string]*admissionKind
}

type admissionKind struct {
	structural *structuralschema.Structural
	openAPI    apiextensionsvalidation.SchemaValidator
	cel        *cel.Validator
}

var loadAdmission = sync.OnceValues(func() (*admission, error) {
	bases, err := fs.Sub(crd.Bases, "bases")
	if err != nil {
		return nil, err
	}
	files, err := fs.Glob(bases, "*.yaml")
	if err != nil {
		return nil, err
	}
	a := &admission{kinds: map[string]*admissionKind{}}
	for _, f := range files {
		data, err := fs.ReadFile(bases, f)
		if err != nil {
			return nil, err
		}
		var c apiextensionsv1.CustomResourceDefinition
		if err := yaml.Unmarshal(data, &c); err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		v := c.Spec.Versions[0]
		var internal apiextensionsinternal.CustomResourceValidation
		if err := apiextensionsv1.Convert_v1_CustomResourceValidation_To_apiextensions_CustomResourceValidation(v.Schema, &internal, nil); err != nil {
			return nil, err
		}
		st, err := structuralschema.NewStructural(internal.OpenAPIV3Schema)
		if err != nil {
			return nil, err
		}
		if err := structuraldefaulting.PruneDefaults(st); err != nil {
			return nil, err
		}
		openAPI, _, err := apiextensionsvalidation.NewSchemaValidator(internal.OpenAPIV3Schema)
		if err != nil {
			return nil, err
		}
		a.kinds[c.Spec.Names.Kind] = &admissionKind{structural: st, openAPI: openAPI,
			cel: cel.NewValidator(st, true, celconfig.PerCallLimit)}
	}
	return a, nil
})

func admissionFor(t testing.TB) *admission {
	t.Helper()
	a, err := loadAdmission()
	if err != nil {
		t.Fatalf("failed to load the CRDs: %v", err)
	}
	return a
}

// admit replaces obj's spec with what the API server would store, or returns why it
// would refuse obj.
func (a *admission) admit(obj client.Object, kind string) field.ErrorList {
	k := a.kinds[kind]
	if k == nil {
		return field.ErrorList{field.InternalError(nil, fmt.Errorf("no CRD for %s", kind))}
	}
	data, err := json.Marshal(obj)
	if err != nil {
		return field.ErrorList{field.InternalError(nil, err)}
	}
	var u map[string]any
	// Numbers as the API server decodes them: int64 when whole.
	if err := utiljson.Unmarshal(data, &u); err != nil {
		return field.ErrorList{field.InternalError(nil, err)}
	}
	u["apiVersion"], u["kind"] = "logging.logplane.dev/v1alpha1", kind
	delete(u, "status")
	structuralpruning.PruneWithOptions(u, k.structural, true, structuralschema.UnknownFieldPathOptions{})
	structuraldefaulting.PruneNonNullableNullsWithoutDefaults(u, k.structural)
	structuraldefaulting.Default(u, k.structural)
	errs := apiextensionsvalidation.ValidateCustomResource(nil, u, k.openAPI)
	celErrs, _ := k.cel.Validate(context.Background(), nil, k.structural, u, nil, celconfig.RuntimeCELCostBudget)
	if errs = append(errs, celErrs...); len(errs) > 0 {
		return errs
	}
	data, err = json.Marshal(u)
	if err != nil {
		return field.ErrorList{field.InternalError(nil, err)}
	}
	// Into a zero object: the stored object is all there is.
	v := reflect.ValueOf(obj).Elem()
	v.Set(reflect.Zero(v.Type()))
	if err := json.Unmarshal(data, obj); err != nil {
		// Admitted, but not readable in Go: the controller's cache would fail on it.
		return field.ErrorList{field.InternalError(nil, fmt.Errorf("admitted but not decodable: %w", err))}
	}
	return nil
}
