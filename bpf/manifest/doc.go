// Package manifest is the schema of OUTDIR/manifest.json, the record dpforge
// writes after a build and that the loader (dpload) reads on a node.
//
// Vocabulary:
//
//   - A Variant is one compiled datapath object: the compile-time defines
//     that produced it, the ISA level (CPU) and byte order (Target) it was
//     compiled for, the kernel profiles it serves, where the object is
//     (Object, relative to the manifest's directory) and what is in it
//     (Programs, Maps, Variables).
//   - A Node is one machine of the input matrix: its kernel profile, the
//     Variant it runs and the load-time values (volatile const variables)
//     the loader sets before loading.
//   - Program.Verified records, per kernel release, how many instructions the
//     verifier processed when the program was loaded for "dpforge verify".
//
// The encoding is deterministic so that the file can be diffed, committed and
// compared byte for byte: slices are sorted (variants by id, nodes by name,
// programs and maps by name, variables and kernels lexically), maps are
// emitted with sorted keys, indentation is two spaces, the file ends in a
// newline and nothing in it depends on the time or the machine.
//
// The package depends on nothing of dpforge's generator: it is the contract
// between the generator, which writes the file (atomically, with
// generator/atomicfile), and the node-side loader, which reads it.
package manifest
