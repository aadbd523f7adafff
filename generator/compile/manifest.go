package compile

import (
	"slices"

	"github.com/dpforge/dpforge/bpf/manifest"
)

// ManifestVariant returns the manifest record of a built variant. Defines
// and Kernels come from the plan, not the build; the caller fills them.
func (v *VariantResult) ManifestVariant() manifest.Variant {
	mv := manifest.Variant{
		ID:        v.ID,
		CPU:       v.CPU,
		Target:    v.Target,
		Object:    v.ObjectPath,
		SHA256:    v.SHA256,
		Size:      v.Size,
		Variables: slices.Clone(v.Variables),
	}
	for _, p := range v.Programs {
		mv.Programs = append(mv.Programs, manifest.Program{Name: p.Name, Type: p.Type, Section: p.Section})
	}
	for _, m := range v.Maps {
		mv.Maps = append(mv.Maps, manifest.Map{Name: m.Name, Type: m.Type, KeySize: m.KeySize, ValueSize: m.ValueSize, MaxEntries: m.MaxEntries})
	}
	return mv
}

// ManifestToolchain returns the manifest record of the toolchain.
func (r *Result) ManifestToolchain() manifest.Toolchain {
	return manifest.Toolchain{
		Compiler: r.Toolchain.Compiler,
		Strip:    r.Toolchain.StripVersion,
		Flags:    slices.Clone(r.Toolchain.Flags),
	}
}

// Manifest returns a manifest with the toolchain and every built variant
// filled in. inputs is the hash of the input matrix. The caller adds each
// variant's Defines and Kernels and the Nodes, and may carry verifier counts
// over from the previous manifest (manifest.Manifest.CarryVerified).
func (r *Result) Manifest(inputs string) *manifest.Manifest {
	m := &manifest.Manifest{
		SchemaVersion: manifest.SchemaVersion,
		Inputs:        inputs,
		Toolchain:     r.ManifestToolchain(),
	}
	for i := range r.Variants {
		m.Variants = append(m.Variants, r.Variants[i].ManifestVariant())
	}
	m.Normalize()
	return m
}
