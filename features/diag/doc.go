// Package diag holds dpforge's one vocabulary for problems found in user
// input: a Position in a file, a Severity, a Diagnostic (position, severity,
// message, a stable kebab-case rule name, and for a conflict the position of
// the other key), and Diagnostics, a list that sorts, drops exact duplicates
// and groups the same finding about many nodes into one line. The rule names
// are exported constants: tools and tests match on them, so they never
// change once published. Closest is the one "did you mean" helper.
//
// The package imports only the standard library, like the rest of features.
package diag
