package compile

import ()

// Layout of a compile's private directory (one per cache key):
//
//	<dir>/src/              the source tree; clang's working directory
//	<dir>/variant/          dp_variant.h of this variant
//	<dir>/out/datapath.o    the object (gen.Compile strips it in place)
//	<dir>/deps.d            clang's dependency list
//	<dir>/cc, <dir>/strip   wrappers sending stderr to <dir>/stderr
//
// Every path on the compiler's command line is relative to <dir>/src except
// the main source file, which gen.Compile requires to be absolute and maps to
// a relative name itself (-fdebug-prefix-map). So no path of the temporary
// directory reaches the object, and the same inputs give the same bytes in
// any directory on any machine.
const (
	srcDirName     = "src"
	variantDirName = "variant"
	headerName     = "dp_variant.h"
	fileStem       = "datapath"
	depFileRel     = "../deps.d"
)

// compileFlags returns the flags Build passes to gen.Compile for one variant.
// They are part of the cache key; the manifest records them without -mcpu,
// which is per variant.
//
// gen.Compile inserts its overridable defaults "-O2 -mcpu=v1" before these
// and appends flags no caller can change:
//
//	-Wunused-command-line-argument   a flag clang ignores is an error with -Werror
//	-target bpfel|bpfeb              byte order of the object (Job.Target)
//	-c <src> -o <dst>
//	-fno-ident                       keep the clang version string out of the object
//	-fdebug-prefix-map=<src>=<rel>   map the absolute source directory to a relative one
//	-fdebug-compilation-dir .        and record "." as the compilation directory
//	-g                               BTF is always generated
//	-D__BPF_TARGET_MISSING=...       fail if code uses arch macros with a generic target
//
// and then runs "llvm-strip -g" on the object, which drops DWARF but keeps
// .BTF and .BTF.ext.
func compileFlags(cpu string, hasInclude bool, systemIncludes []string) []string {
	flags := []string{
		// The verifier cannot follow unoptimised code (spilled pointers lose
		// their types, helpers get called through stack slots). gen.Compile
		// adds -O2 too; we say it so the key and manifest show it.
		"-O2",
		// BTF and BTF.ext are produced from debug info: without them there
		// are no map key/value types, no CO-RE relocations, no variables in
		// the spec and no types in the bindings. The DWARF is stripped after.
		"-g",
		// The ISA level is a variant axis (v2 adds the "less than" jumps,
		// v3 the 32-bit jumps and ALU32 subregisters). clang's default is
		// "probe", which asks the kernel of the build machine: wrong for
		// ahead-of-time objects.
		// gen.Compile's default -mcpu=v1 comes first; the last -mcpu wins.
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
