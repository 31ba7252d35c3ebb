package fluentbit

// Names of the container ports Fluent Bit serves its HTTP API (health and metrics)
// on. The operator finds the Fluent Bit processes to read in pods by these names.
const (
	// MetricsPortName is the port of the agents and the events collector.
	MetricsPortName = "metrics"
	// SidecarMetricsPortName is the injected sidecar's. It differs from the agents'
	// because the sidecar shares its pod's ports with the application, which may
	// well name one of its own "metrics".
	SidecarMetricsPortName = "lp-metrics"
)
