// Package config reads dpforge's feature-matrix YAML (and Cilium ConfigMap
// manifests) into a Matrix, keeping the position of every key so that each
// problem can be reported as file:line:col.
//
// A matrix names kernel profiles, default agent options, nodes (each with a
// kernel and option overrides) and optionally a CI-style matrix of option
// axes whose cells are resolved like nodes. Parsing never stops at the first
// problem: it returns every Diagnostic it finds, sorted.
package config
