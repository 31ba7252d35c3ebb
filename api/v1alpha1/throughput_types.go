package v1alpha1

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// Figures is one set of flow rates over a measurement window. Rates are whole numbers per
// second, rounded to nearest; the drop ratio is in basis points (1 bp = 0.01 %) so that
// it stays an integer and round-trips through JSON exactly.
type Figures struct {
	// recordsPerSecond delivered to the destination.
	// +optional
	// +kubebuilder:validation:Minimum=0
	RecordsPerSecond int64 `json:"recordsPerSecond,omitempty"`

	// bytesPerSecond delivered to the destination.
	// +optional
	// +kubebuilder:validation:Minimum=0
	BytesPerSecond int64 `json:"bytesPerSecond,omitempty"`

	// droppedRecordsPerSecond given up after the retry limit or rejected by the destination.
	// Records removed by the pipeline's own filters are not drops.
	// +optional
	// +kubebuilder:validation:Minimum=0
	DroppedRecordsPerSecond int64 `json:"droppedRecordsPerSecond,omitempty"`

	// retriedRecordsPerSecond counts every retry attempt of a record.
	// +optional
	// +kubebuilder:validation:Minimum=0
	RetriedRecordsPerSecond int64 `json:"retriedRecordsPerSecond,omitempty"`

	// errorsPerSecond is the rate of failed delivery attempts.
	// +optional
	// +kubebuilder:validation:Minimum=0
	ErrorsPerSecond int64 `json:"errorsPerSecond,omitempty"`

	// dropRatioBasisPoints is dropped ÷ (delivered + dropped) in basis points: 10000 = all dropped.
	// +optional
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=10000
	DropRatioBasisPoints int32 `json:"dropRatioBasisPoints,omitempty"`
}

// Throughput reports how much a pipeline delivers and loses, measured from the Fluent Bit
// metrics of every agent pod and sidecar that runs it.
type Throughput struct {
	Figures `json:",inline"`

	// windowSeconds is the length of the window the figures cover.
	// +optional
	// +kubebuilder:validation:Minimum=0
	WindowSeconds int32 `json:"windowSeconds,omitempty"`

	// lastMeasured is when the figures were computed.
	// +optional
	LastMeasured *metav1.Time `json:"lastMeasured,omitempty"`

	// outputs breaks the figures down per destination.
	// +optional
	// +listType=map
	// +listMapKey=kind
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=64
	Outputs []OutputThroughput `json:"outputs,omitempty"`
}

// OutputThroughput is the flow to one destination of a pipeline.
type OutputThroughput struct {
	// kind of the output: LogOutput or ClusterLogOutput.
	// +required
	// +kubebuilder:validation:Enum=LogOutput;ClusterLogOutput
	Kind string `json:"kind"`

	// name of the output.
	// +required
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`

	Figures `json:",inline"`

	// notMeasurable explains why delivery figures cannot be trusted for this destination
	// (for example, S3 acknowledges records once buffered locally, before upload).
	// +optional
	// +kubebuilder:validation:MaxLength=256
	NotMeasurable string `json:"notMeasurable,omitempty"`
}
