package main

import (
	"fmt"
	"sort"
	"strings"
	"unicode"

	operatorsv1alpha1 "github.com/operator-framework/api/pkg/operators/v1alpha1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// x-descriptors the OLM console understands.
const (
	xConditions = "urn:alm:descriptor:io.kubernetes.conditions"
	xBoolean    = "urn:alm:descriptor:com.tectonic.ui:booleanSwitch"
	xNumber     = "urn:alm:descriptor:com.tectonic.ui:number"
	xText       = "urn:alm:descriptor:com.tectonic.ui:text"
	xSelect     = "urn:alm:descriptor:com.tectonic.ui:select:"
	xFieldGroup = "urn:alm:descriptor:com.tectonic.ui:fieldGroup:"
)

// ownedCRDs describes every CRD of the install for the CSV: display name and
// description from the Go type's doc comment (through the CRD schema), one spec and one
// status descriptor per top-level field. Entries in the base override the display
// name and description and add the resources a kind creates.
func ownedCRDs(crds []*unstructured.Unstructured, base []operatorsv1alpha1.CRDDescription) ([]operatorsv1alpha1.CRDDescription, error) {
	overrides := map[string]operatorsv1alpha1.CRDDescription{}
	for _, b := range base {
		overrides[b.Name+"/"+b.Version] = b
	}
	var out []operatorsv1alpha1.CRDDescription
	for _, u := range crds {
		var crd apiextensionsv1.CustomResourceDefinition
		if err := convert(u, &crd); err != nil {
			return nil, fmt.Errorf("failed to read CRD %s: %w", u.GetName(), err)
		}
		for _, v := range crd.Spec.Versions {
			if !v.Served || v.Schema == nil || v.Schema.OpenAPIV3Schema == nil {
				continue
			}
			schema := v.Schema.OpenAPIV3Schema
			d := operatorsv1alpha1.CRDDescription{
				Name:        crd.Name,
				Version:     v.Name,
				Kind:        crd.Spec.Names.Kind,
				DisplayName: displayName(crd.Spec.Names.Kind),
				Description: firstParagraph(schema.Description),
			}
			if spec, ok := schema.Properties["spec"]; ok {
				for _, name := range sortedKeys(spec.Properties) {
					prop := spec.Properties[name]
					d.SpecDescriptors = append(d.SpecDescriptors, operatorsv1alpha1.SpecDescriptor{
						Path: name, DisplayName: displayName(name), Description: firstParagraph(prop.Description),
						XDescriptors: specXDescriptors(name, prop),
					})
				}
			}
			if status, ok := schema.Properties["status"]; ok {
				for _, name := range sortedKeys(status.Properties) {
					prop := status.Properties[name]
					var x []string
					if name == "conditions" {
						x = []string{xConditions}
					}
					d.StatusDescriptors = append(d.StatusDescriptors, operatorsv1alpha1.StatusDescriptor{
						Path: name, DisplayName: displayName(name), Description: firstParagraph(prop.Description),
						XDescriptors: x,
					})
				}
			}
			if o, ok := overrides[d.Name+"/"+d.Version]; ok {
				if o.Kind != "" && o.Kind != d.Kind {
					return nil, fmt.Errorf("CSV base names %s kind %s, the CRD says %s", d.Name, o.Kind, d.Kind)
				}
				if o.DisplayName != "" {
					d.DisplayName = o.DisplayName
				}
				if o.Description != "" {
					d.Description = o.Description
				}
				d.Resources = o.Resources
				delete(overrides, d.Name+"/"+d.Version)
			}
			if d.Description == "" {
				return nil, fmt.Errorf("CRD %s has no description: document the %s type", crd.Name, d.Kind)
			}
			out = append(out, d)
		}
	}
	if len(overrides) > 0 {
		return nil, fmt.Errorf("CSV base describes CRDs the install does not contain: %v", sortedKeys(overrides))
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Name+out[i].Version < out[j].Name+out[j].Version })
	return out, nil
}

func specXDescriptors(name string, prop apiextensionsv1.JSONSchemaProps) []string {
	switch prop.Type {
	case "boolean":
		return []string{xBoolean}
	case "integer", "number":
		return []string{xNumber}
	case "string":
		if len(prop.Enum) == 0 {
			return []string{xText}
		}
		var x []string
		for _, e := range prop.Enum {
			x = append(x, xSelect+strings.Trim(string(e.Raw), `"`))
		}
		return x
	case "object":
		return []string{xFieldGroup + name}
	}
	return nil
}

// displayName turns a Go or JSON name into words: "observedGeneration" → "Observed
// Generation", "ClusterLogOutput" → "Cluster Log Output".
func displayName(name string) string {
	var b strings.Builder
	runes := []rune(name)
	for i, r := range runes {
		if i > 0 && unicode.IsUpper(r) && (unicode.IsLower(runes[i-1]) || (i+1 < len(runes) && unicode.IsLower(runes[i+1]))) {
			b.WriteByte(' ')
		}
		if i == 0 {
			r = unicode.ToUpper(r)
		}
		b.WriteRune(r)
	}
	return b.String()
}

// firstParagraph keeps a field's summary: the console shows descriptors in a tooltip.
func firstParagraph(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.Index(s, "\n\n"); i >= 0 {
		s = s[:i]
	}
	return strings.Join(strings.Fields(s), " ")
}
