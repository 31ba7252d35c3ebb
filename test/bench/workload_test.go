package main

import (
	"reflect"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

func TestBuildWorkload(t *testing.T) {
	cases := []struct {
		shape      Shape
		namespaces int
		resources  int // policy, agent and grant + cluster outputs + outputs + pipelines
	}{
		{Shape{Pipelines: 5, PerNamespace: 20, Outputs: 3, ClusterOutputs: 2}, 1, 3 + 2 + 3 + 5},
		{Shape{Pipelines: 100, PerNamespace: 20, Outputs: 3, ClusterOutputs: 2}, 5, 3 + 2 + 15 + 100},
		{Shape{Pipelines: 41, PerNamespace: 20, Outputs: 5, ClusterOutputs: 3}, 3, 3 + 3 + 15 + 41},
		{Shape{Pipelines: 7, PerNamespace: 20, Outputs: 0, ClusterOutputs: 1}, 1, 3 + 1 + 0 + 7},
	}
	for _, c := range cases {
		w, err := BuildWorkload(c.shape)
		if err != nil {
			t.Fatal(err)
		}
		if got := len(w.Setup); got != 2*c.namespaces {
			t.Errorf("%+v: %d setup objects, want a namespace and a Secret for each of %d", c.shape, got, c.namespaces)
		}
		if len(w.Resources) != c.resources || len(w.Pipelines) != c.shape.Pipelines {
			t.Errorf("%+v: %d resources and %d pipelines, want %d and %d", c.shape, len(w.Resources), len(w.Pipelines), c.resources, c.shape.Pipelines)
		}
		// Every reference resolves within the workload, so every pipeline can converge.
		names := map[string]bool{}
		for _, o := range w.Resources {
			names[o.GetKind()+"/"+o.GetNamespace()+"/"+o.GetName()] = true
		}
		filters := 0
		for _, o := range w.Resources {
			if o.GetKind() != "LogPipeline" {
				continue
			}
			for _, r := range stringList(o, "spec", "outputRefs") {
				if !names["LogOutput/"+o.GetNamespace()+"/"+r] {
					t.Errorf("%s refers to missing LogOutput %s", o.GetName(), r)
				}
			}
			for _, r := range stringList(o, "spec", "clusterOutputRefs") {
				if !names["ClusterLogOutput//"+r] {
					t.Errorf("%s refers to missing ClusterLogOutput %s", o.GetName(), r)
				}
			}
			fs, _, _ := unstructured.NestedSlice(o.Object, "spec", "filters")
			filters += len(fs)
		}
		sum := 0
		for _, n := range w.Filters {
			sum += n
		}
		if sum != filters {
			t.Errorf("%+v: filter counts add up to %d, pipelines hold %d", c.shape, sum, filters)
		}
		again, _ := BuildWorkload(c.shape)
		if !reflect.DeepEqual(w, again) {
			t.Errorf("%+v: two builds differ", c.shape)
		}
	}
}

func stringList(o *unstructured.Unstructured, path ...string) []string {
	l, _, _ := unstructured.NestedStringSlice(o.Object, path...)
	return l
}
