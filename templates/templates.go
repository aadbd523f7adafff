// Package templates holds the text/template sources of the headers dpforge
// generates, embedded so the binary needs no files at run time.
//
//   - variant.h.tmpl renders dp_variant.h: one variant's compile-time macros,
//     with #error guards for the feature table's requirements.
//   - node_config.h.tmpl renders a node's node_config.h: every macro of the
//     node, compile-time and load-time values alike.
package templates

import "embed"

// FS holds every *.h.tmpl file.
//
//go:embed *.h.tmpl
var FS embed.FS
