package agent

// SampleInputWith lets the external test package (which may import test/localnode,
// whose imports reach back to this package) build the sample agent's input.
var SampleInputWith = sampleInputWith
