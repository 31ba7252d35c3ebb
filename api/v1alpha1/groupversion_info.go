// Package v1alpha1 holds the logplane API: declarative Fluent Bit log pipelines.
//
// +kubebuilder:object:generate=true
// +groupName=logging.logplane.dev
package v1alpha1

import (
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/scheme"
)

var (
	// GroupVersion is the group and version of every logplane kind.
	GroupVersion = schema.GroupVersion{Group: "logging.logplane.dev", Version: "v1alpha1"}

	// SchemeBuilder registers the logplane kinds with a runtime.Scheme.
	SchemeBuilder = &scheme.Builder{GroupVersion: GroupVersion}

	// AddToScheme adds the logplane kinds to a runtime.Scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)
