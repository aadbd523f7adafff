package compile

import ()

// Layout of a compile's private directory (one per cache key):
//
//	<dir>/src/              the source tree; clang's working directory
//	<dir>/variant/          dp_variant.h of this variant
//	<dir>/out/datapath.o    the object (llvm-strip strips it in place)
//	<dir>/deps.d            clang's dependency list
//
// Every path on the compiler's command line is relative to <dir>/src, so no
// path of the temporary directory reaches the object, and the same inputs
// give the same bytes in any directory on any machine.
const (
	srcDirName     = "src"
	variantDirName = "variant"
	headerName     = "dp_variant.h"
	fileStem       = "datapath"
	depFileRel     = "../deps.d"
	objectRel      = "out/" + fileStem + ".o" // relative to <dir>
)

// compileFlags returns the variant's compiler flags; fixedFlags (clang.go)
// follow them, then "-c <src> -o <obj>". All are part of the cache key; the
// manifest records these without -mcpu, which is per variant. After clang,
// "llvm-strip -g" drops DWARF from the object but keeps .BTF and .BTF.ext.
func compileFlags(cpu string, hasInclude bool, systemIncludes []string) []string {
	flags := []string{
		// The verifier cannot follow unoptimised code (spilled pointers lose
		// their types, helpers get called through stack slots).
		"-O2",
		// BTF and BTF.ext are produced from debug info: without them there
		// are no map key/value types, no CO-RE relocations, no variables in
		// the spec and no types in the bindings. The DWARF is stripped after.
		"-g",
		// The ISA level is a variant axis (v2 adds the "less than" jumps,
		// v3 the 32-bit jumps and ALU32 subregisters). clang's default is
		// "probe", which asks the kernel of the build machine: wrong for
		// ahead-of-time objects.
		"-mcpu=" + cpu,
		// A warning in one variant's #if branch is a bug in that variant:
		// fail the build instead of shipping it.
		"-Wall",
		"-Werror",
		// The variant's dp_variant.h comes first so it is the one found;
		// relative, so the temporary directory's name is not in the object.
		"-I../" + variantDirName,
	}
	if hasInclude {
		// The datapath's own headers, relative for the same reason.
		flags = append(flags, "-Iinclude")
	}
	for _, dir := range systemIncludes {
		// Debian keeps asm/types.h (pulled in by linux/types.h) in the
		// multiarch directory, which clang does not search for -target bpf.
		flags = append(flags, "-I"+dir)
	}
	flags = append(flags,
		// Write the list of every header clang read. The cache entry records
		// the system headers among them (libbpf, UAPI) with their hashes and
		// re-checks them before a hit: they are inputs too, but not part of
		// the source tree. It does not change the object.
		"-MD", "-MF", depFileRel,
	)
	return flags
}

// commonFlags is compileFlags without the per-variant -mcpu, as recorded in
// the manifest.
func commonFlags(hasInclude bool, systemIncludes []string) []string {
	var out []string
	for _, f := range compileFlags("", hasInclude, systemIncludes) {
		if f != "-mcpu=" {
			out = append(out, f)
		}
	}
	return out
}

// The outputs, relative to the output directory: objects/<id>.o and the
// bindings module.
const (
	objectsDir  = "objects"
	bindingsDir = "bindings"
)
