// Package compile compiles datapath variants ahead of time and writes the
// objects, Go bindings and registry a loader embeds.
//
// Vocabulary:
//
//   - A Job is one variant to build: its id, the bytes of its dp_variant.h
//     (the compile-time #defines), the BPF ISA level (CPU, "v1".."v3") and the
//     byte order (Target, "bpfel" or "bpfeb").
//   - The source tree is the datapath's C code (an fs.FS holding MainFile and
//     an include/ directory). It is copied into a private work directory for
//     every compile, next to a directory holding the variant's dp_variant.h,
//     and compiled by running clang and llvm-strip with bpf2go's flags (see
//     clang.go for why not through bpf2go's gen package), chosen so that the
//     object is byte-identical on every machine with the same toolchain (see
//     flags.go). Compilers die with their build (Pdeathsig); work directories
//     of dead builds are removed by the next one (cache.MkdirLive).
//   - The cache (generator/cache) is content addressed, like Go's build cache:
//     an entry's key is the hash of the complete description of the compile
//     (format version, compiler and strip identity, every compiler argument,
//     target, CPU, every source file, the header). The tools' identity is
//     their --version output, remembered by the installed file's path, size,
//     mtime and inode. An entry is the stripped
//     object plus a record of its sha256 and of the system headers clang read,
//     each with its own hash; an entry whose object does not match, or whose
//     system headers changed, is rebuilt and overwritten. Every write is a
//     temporary file in the same directory renamed into place, so a build
//     killed at any moment leaves no half-written entry.
//   - The API of a variant is its set of program, map and variable names. The
//     loader uses one API for every variant, so Build checks that all
//     variants have the same names and the same Go types of their map keys,
//     values and variables (generator/bindings, which also writes the Go
//     bindings and the registry).
//
// Build's outputs (Result.Files, written to Options.OutDir as one whole by
// generator/outdir when set) are:
//
//	objects/<id>.o                         the object of each variant
//	bindings/go.mod, go.sum                a module (Options.GoImportPath)
//	bindings/registry*.go                  package datapath: Lookup(id), IDs()
//	bindings/types.go                      its Go types, shared by every variant
//	bindings/v_<id>/datapath_<target>.go   bpf2go bindings of each variant
//	bindings/v_<id>/datapath_<target>.o    the embedded copy of the object
//
// with .dpforge-outputs, the list of the files dpforge wrote, beside them.
//
// The package never prints: progress goes to Options.Progress, problems are
// returned as errors (CompileError, bindings.APIMismatchError), joined with
// generator/errlist. The manifest is assembled by package generator.
package compile

import ()
