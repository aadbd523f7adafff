// Package generator is dpforge's pipeline, from a feature matrix to what a
// node loads:
//
//	matrix.yaml ─► generator/config   parse, strict keys, positions
//	            ─► features           pure model: Resolve(node config, kernel) → variant + decisions
//	            ─► generator/plan     dedupe nodes and matrix cells into distinct variants (pure)
//	            ─► Execute:
//	                 generator/header    render each variant's dp_variant.h (templates/)
//	                 generator/compile   clang with bpf2go's flags, in parallel, with
//	                                     generator/cache (content-addressed objects)
//	                 generator/bindings  Go bindings, registry, same-API check
//	                 manifest.json       bpf/manifest: variants, nodes, load-time values
//	                 generator/outdir    all of it replaces the output directory as one whole
//	            ─► generator/verify   every variant in the running kernel's verifier
//	               generator/vm       ... and in Debian kernels under qemu
//	            ─► bpf/loader         the one load path (verify, scenarios, the node loader)
//
// Everything before Execute is pure and fast (`dpforge validate`, `explain`,
// `gen`); Execute is the one step that runs clang and writes an output
// directory:
//
//	OUTDIR/objects/<id>.o          one object per variant
//	OUTDIR/bindings/...            the Go module of bindings and registry
//	OUTDIR/manifest.json           the contract with the node-side loader
//
// staged beside OUTDIR and swapped in at once (generator/outdir): a reader,
// a concurrent build or verify, and a build that fails or is killed see the
// previous complete directory or the new one, never a mixture.
//
// The manifest is assembled here and only here (Manifest): the build result
// says what each object holds, the plan what it means (defines, kernels) and
// which node runs which variant with which load-time values.
//
// The package never prints: progress goes to Options.Progress, and problems
// are returned joined (generator/errlist), each printable in full with %+v.
package generator
