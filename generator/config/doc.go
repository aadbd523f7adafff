// Package config reads dpforge's feature-matrix YAML, a Cilium ConfigMap, or
// a rendered manifest of many documents (the cilium-config ConfigMap found
// among them, the release read from the agent image's tag) into a Matrix,
// keeping the position of every key so that each problem can be reported as
// file:line:col. Option keys are checked against the option registry: a key
// no Cilium release has is a warning, a key dpforge does not model a note,
// an empty value no value.
//
// A matrix names kernel profiles, default agent options, nodes (each with a
// kernel and option overrides) and optionally a CI-style matrix of option
// axes whose cells are resolved like nodes. Parsing never stops at the first
// problem: it returns every diag.Diagnostic it finds, sorted.
package config
