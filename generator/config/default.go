package config

import _ "embed"

// DefaultMatrix is the embedded default feature matrix (default.yaml): the
// scenarios of the seed documents, used when no matrix file is given.
//
//go:embed default.yaml
var DefaultMatrix []byte

// DefaultMatrixName is how diagnostics name the embedded matrix.
const DefaultMatrixName = "default.yaml"
