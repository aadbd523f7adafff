package verify

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"slices"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"

	"github.com/dpforge/dpforge/bpf/loader"
	"github.com/dpforge/dpforge/bpf/manifest"
	"github.com/dpforge/dpforge/features"
	"github.com/dpforge/dpforge/features/probe"
	"github.com/dpforge/dpforge/generator/errlist"
	"github.com/dpforge/dpforge/generator/outdir"
)

// Options configure Verify.
type Options struct {
	// Release is the name the counts are recorded under; default the
	// running kernel's release (uname -r).
	Release string
	// Variants restricts Verify to these ids; default all.
	Variants []string
	// ManifestPath is where the updated manifest is written; default
	// <outDir>/manifest.json.
	ManifestPath string
	// NoWrite leaves the manifest file alone (m is still updated).
	NoWrite bool
}

// Report is the outcome of Verify.
type Report struct {
	Release  string
	Variants []VerifiedVariant
}

// VerifiedVariant is one variant that loaded.
type VerifiedVariant struct {
	ID       string
	Programs []VerifiedProgram
}

// VerifiedProgram is one program the kernel accepted.
type VerifiedProgram struct {
	Name string
	// Instructions is the number of instructions the verifier processed;
	// Known is false when the kernel does not report it (before 5.16).
	Instructions uint32
	Known        bool
}

// Verify loads every program of every variant of m (objects found relative
// to outDir) into the running kernel, records the verified instruction count
// of each program under the kernel release in m, and writes m back
// atomically.
//
// Maps are created unpinned, whatever the object says, so verifying never
// touches /sys/fs/bpf; everything is closed before Verify returns.
//
// A rejected program is a *loader.ProgramError carrying the full verifier
// log; the other variants are still verified. Without the privileges to
// load programs, Verify stops with an error wrapping
// loader.ErrNotPermitted.
func Verify(ctx context.Context, outDir string, m *manifest.Manifest, opts Options) (*Report, error) {
	release := opts.Release
	if release == "" {
		r, err := probe.KernelRelease()
		if err != nil {
			return nil, err
		}
		release = r
	}
	for _, id := range opts.Variants {
		if m.Variant(id) == nil {
			return nil, fmt.Errorf("verifying: variant %q is not in the manifest", id)
		}
	}
	report := &Report{Release: release}
	var errs []error
	for i := range m.Variants {
		v := &m.Variants[i]
		if len(opts.Variants) > 0 && !slices.Contains(opts.Variants, v.ID) {
			continue
		}
		if err := ctx.Err(); err != nil {
			errs = append(errs, err)
			break
		}
		counts, err := verifyVariant(outDir, v, release)
		if errors.Is(err, loader.ErrNotPermitted) {
			return report, err // the same for every other variant
		}
		if err != nil {
			errs = append(errs, errlist.Flatten(err)...)
			continue
		}
		vv := VerifiedVariant{ID: v.ID}
		for _, name := range slices.Sorted(maps.Keys(counts)) {
			c := counts[name]
			vv.Programs = append(vv.Programs, VerifiedProgram{Name: name, Instructions: c.n, Known: c.ok})
			if !c.ok {
				continue
			}
			for j := range v.Programs {
				if v.Programs[j].Name != name {
					continue
				}
				if v.Programs[j].Verified == nil {
					v.Programs[j].Verified = map[string]uint32{}
				}
				v.Programs[j].Verified[release] = c.n
				if h := c.stats; h.InsnLimit > 0 {
					h.Instructions = c.n
					if v.Programs[j].Headroom == nil {
						v.Programs[j].Headroom = map[string]manifest.Headroom{}
					}
					v.Programs[j].Headroom[release] = h
				}
			}
		}
		report.Variants = append(report.Variants, vv)
	}
	if !opts.NoWrite && len(report.Variants) > 0 {
		path := opts.ManifestPath
		if path == "" {
			path = filepath.Join(outDir, "manifest.json")
		}
		if err := WriteManifest(path, m); err != nil {
			errs = append(errs, err)
		}
	}
	return report, errlist.Join(errs...)
}

type count struct {
	n  uint32
	ok bool
	// stats are the verifier's statistics (manifest.ParseVerifierStats).
	stats manifest.Headroom
}

// verifyVariant loads one variant's collection and returns the verified
// instruction count of each program.
func verifyVariant(outDir string, v *manifest.Variant, release string) (map[string]count, error) {
	spec, err := loader.VariantSpec(outDir, v)
	if err != nil {
		return nil, fmt.Errorf("verifying: %w", err)
	}
	if err := checkOldKernelSize(v, spec); err != nil {
		return nil, err
	}
	coll, err := loader.Load(spec, loader.Options{
		Variant: v.ID, Release: release,
		// Stats only: the instruction count is all we keep; a full log of
		// every accepted program would cost memory and time for nothing.
		LogLevel: ebpf.LogLevelStats,
	})
	if err != nil {
		return nil, err
	}
	defer coll.Close()
	counts := map[string]count{}
	for name, prog := range coll.Programs {
		info, err := prog.Info()
		if err != nil {
			return nil, fmt.Errorf("verifying variant %q: program %q: reading info: %w", v.ID, name, err)
		}
		n, ok := info.VerifiedInstructions()
		calls, _ := loader.CallGraph(spec.Programs[name].Instructions)
		counts[name] = count{n, ok, manifest.ParseVerifierStats(prog.VerifierLog, calls)}
	}
	return counts, nil
}

// WriteManifest records the verifier counts of m (and its scenario and
// traffic outcomes), replacing older ones for the same kernels, in the
// manifest at path,
// under the output directory's writer lock (generator/outdir). A build may
// have replaced the directory while the variants were verified, so the
// counts go into the manifest there now, and only for variants whose objects
// are byte-identical to the ones verified; the file is replaced atomically.
func WriteManifest(path string, m *manifest.Manifest) error {
	return outdir.Update(context.Background(), filepath.Dir(path), filepath.Base(path), func(old []byte) ([]byte, error) {
		cur := m
		if old != nil {
			var err error
			if cur, err = manifest.Unmarshal(old); err != nil {
				return nil, fmt.Errorf("%s: %w", path, err)
			}
			cur.UpdateRecords(m)
		}
		return manifest.Marshal(cur)
	})
}

// OldKernelMaxInsns is the most instructions a program may have on kernels
// before 5.2 (BPF_MAXINSNS; 5.2 raised it for privileged loaders). This
// kernel takes more, so verifying here cannot show it.
const OldKernelMaxInsns = 4096

// checkOldKernelSize refuses a variant with compiled-in node values (made
// for kernels before 5.2) whose programs those kernels would refuse for
// their size: how many features such a node can combine is bounded by it.
func checkOldKernelSize(v *manifest.Variant, spec *ebpf.CollectionSpec) error {
	if _, ok := v.Defines[features.StaticConfigDefine]; !ok {
		return nil
	}
	var errs []error
	for _, name := range slices.Sorted(maps.Keys(spec.Programs)) {
		if n := spec.Programs[name].Instructions.Size() / asm.InstructionSize; n > OldKernelMaxInsns {
			errs = append(errs, fmt.Errorf("verifying variant %q: program %q has %d instructions; the kernels before 5.2 it is built for refuse more than %d (serve fewer features on those nodes)",
				v.ID, name, n, OldKernelMaxInsns))
		}
	}
	return errlist.Join(errs...)
}
