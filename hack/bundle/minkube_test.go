package main

import (
	"fmt"
	"path/filepath"
	"testing"

	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/cel"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/cel/model"
	"k8s.io/apimachinery/pkg/util/version"
	celconfig "k8s.io/apiserver/pkg/apis/cel"
	"k8s.io/apiserver/pkg/cel/environment"
)

// A kube-apiserver of minor version n compiles the CEL rules of a new CRD with the
// libraries of n-1 (k8s.io/apiserver/pkg/cel/environment: DefaultCompatibilityVersion).
// The oldest server that accepts our CRDs is therefore one newer than the oldest
// library version that compiles every rule; the CSV's minKubeVersion must say so.
func TestMinKubeVersionMatchesCRDRules(t *testing.T) {
	crds, err := kustomize(filepath.Join(repoRoot, "config", "crd"))
	if err != nil {
		t.Fatal(err)
	}
	compiles := func(minor uint) error {
		env := environment.MustBaseEnvSet(version.MajorMinor(1, minor))
		for _, u := range crds {
			var crd apiextensionsv1.CustomResourceDefinition
			if err := convert(u, &crd); err != nil {
				t.Fatal(err)
			}
			for _, v := range crd.Spec.Versions {
				var internal apiextensions.JSONSchemaProps
				if err := apiextensionsv1.Convert_v1_JSONSchemaProps_To_apiextensions_JSONSchemaProps(v.Schema.OpenAPIV3Schema, &internal, nil); err != nil {
					t.Fatal(err)
				}
				s, err := structuralschema.NewStructural(&internal)
				if err != nil {
					t.Fatal(err)
				}
				if err := compileRules(s, true, env, crd.Name); err != nil {
					return err
				}
			}
		}
		return nil
	}

	const newest = 37 // the release the tests run against; every rule must compile there
	if err := compiles(newest - 1); err != nil {
		t.Fatalf("the CRDs do not compile for 1.%d: %v", newest, err)
	}
	oldest := uint(newest - 1)
	for minor := uint(newest - 2); minor >= 23; minor-- {
		if compiles(minor) != nil {
			break
		}
		oldest = minor
	}
	want := fmt.Sprintf("1.%d.0", oldest+1)
	why := fmt.Sprint(compiles(oldest - 1))
	t.Logf("every rule compiles with the CEL libraries of 1.%d: oldest API server 1.%d (1.%d: %.200s)", oldest, oldest+1, oldest-1, why)

	csv, err := readBaseCSV(filepath.Join(repoRoot, baseCSVPath))
	if err != nil {
		t.Fatal(err)
	}
	if csv.Spec.MinKubeVersion != want {
		t.Errorf("minKubeVersion is %s, the CRDs' rules need %s", csv.Spec.MinKubeVersion, want)
	}
}

// compileRules compiles the x-kubernetes-validations of s and everything below it as
// kube-apiserver does when a CRD is created.
func compileRules(s *structuralschema.Structural, root bool, env *environment.EnvSet, where string) error {
	if len(s.XValidations) > 0 {
		results, err := cel.Compile(s, model.SchemaDeclType(s, root), celconfig.PerCallLimit, env, cel.NewExpressionsEnvLoader())
		if err != nil {
			return fmt.Errorf("%s: %w", where, err)
		}
		for i, r := range results {
			if r.Error != nil {
				return fmt.Errorf("%s: rule %q: %v", where, s.XValidations[i].Rule, r.Error)
			}
		}
	}
	for name, p := range s.Properties {
		if err := compileRules(&p, false, env, where+"."+name); err != nil {
			return err
		}
	}
	if s.Items != nil {
		if err := compileRules(s.Items, false, env, where+"[]"); err != nil {
			return err
		}
	}
	if s.AdditionalProperties != nil && s.AdditionalProperties.Structural != nil {
		if err := compileRules(s.AdditionalProperties.Structural, false, env, where+"{}"); err != nil {
			return err
		}
	}
	return nil
}
