package generator

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"path/filepath"
	"slices"

	"github.com/dpforge/dpforge/bpf"
	"github.com/dpforge/dpforge/bpf/manifest"
	"github.com/dpforge/dpforge/generator/compile"
	"github.com/dpforge/dpforge/generator/header"
	"github.com/dpforge/dpforge/generator/outdir"
	"github.com/dpforge/dpforge/generator/plan"
)

// ManifestName is the manifest's file name in the output directory.
const ManifestName = "manifest.json"

// Options configure Execute. Zero values mean the defaults of
// compile.Options.
type Options struct {
	// OutDir receives objects/, bindings/ and manifest.json.
	OutDir string
	// CacheDir is the object cache; default cache.DefaultDir().
	CacheDir string
	// WorkDir holds the temporary compile directories; default os.TempDir().
	WorkDir string
	// Jobs is the number of parallel compiles; default runtime.NumCPU().
	Jobs int
	// CC and Strip are the compiler and strip commands (see compile.Options).
	CC, Strip string
	// Source and MainFile are the datapath; default bpf.Source and
	// bpf.MainFile.
	Source   fs.FS
	MainFile string
	// Progress, if set, is called for every compile.Event, never
	// concurrently.
	Progress func(compile.Event)
}

// Result is the outcome of Execute.
type Result struct {
	// Build is what the compile step did (variants, cache hits, times).
	Build *compile.Result
	// Manifest is what was written to ManifestPath; nil when the build
	// failed.
	Manifest     *manifest.Manifest
	ManifestPath string
}

// Execute builds every variant of p into opts.OutDir: it renders the
// variant headers, compiles them (through the cache), writes the objects and
// the Go bindings, and then the manifest, carrying the verifier counts of
// unchanged objects over from the manifest already there.
//
// If any variant fails to compile (or the variants' APIs differ), the
// manifest is not written and the joined errors are returned with the
// Result of what was built.
func Execute(ctx context.Context, p *plan.Plan, opts Options) (*Result, error) {
	if p == nil {
		return nil, errors.New("executing plan: no plan")
	}
	if opts.OutDir == "" {
		return nil, errors.New("executing plan: no output directory")
	}
	jobs, err := Jobs(p)
	if err != nil {
		return nil, err
	}
	copts := compile.Options{
		Source: opts.Source, MainFile: opts.MainFile,
		CacheDir: opts.CacheDir, WorkDir: opts.WorkDir, Jobs: opts.Jobs,
		CC: opts.CC, Strip: opts.Strip, Progress: opts.Progress,
	}
	if copts.Source == nil {
		copts.Source, copts.MainFile = bpf.Source, bpf.MainFile
	}
	res, err := compile.Build(ctx, jobs, copts)
	if res == nil {
		return nil, err
	}
	out := &Result{Build: res}
	if err != nil {
		return out, err
	}
	m := Manifest(p, res)
	// The objects, the bindings and the manifest replace the output
	// directory as one whole, under its lock; the verifier counts of
	// unchanged objects are carried over from the manifest there at that
	// moment, so counts a concurrent verify recorded are not lost.
	err = outdir.Replace(ctx, opts.OutDir, func(current string) (outdir.Files, error) {
		if prev, err := manifest.Load(filepath.Join(current, ManifestName)); err == nil {
			m.CarryVerified(prev)
		}
		data, err := manifest.Marshal(m)
		if err != nil {
			return nil, err
		}
		files := maps.Clone(res.Files)
		files[ManifestName] = data
		return files, nil
	})
	if err != nil {
		return out, err
	}
	out.Manifest, out.ManifestPath = m, filepath.Join(opts.OutDir, ManifestName)
	return out, nil
}

// Jobs renders each variant's header into a compile job, sorted by id.
func Jobs(p *plan.Plan) ([]compile.Job, error) {
	var jobs []compile.Job
	for _, v := range p.Variants {
		h, err := header.VariantHeader(v)
		if err != nil {
			return nil, fmt.Errorf("rendering header of variant %q: %w", v.ID, err)
		}
		jobs = append(jobs, compile.Job{ID: v.ID, Header: h, CPU: v.CPU, Target: v.Target})
	}
	return jobs, nil
}

// Manifest assembles the manifest of a build: the toolchain and every built
// variant from res, and from p the meaning of each variant (its defines and
// kernel profiles), the nodes with their variant and load-time values, and
// the hash of the matrix. p may be nil (a build of hand-written headers):
// then the manifest holds only what the build knows.
func Manifest(p *plan.Plan, res *compile.Result) *manifest.Manifest {
	m := &manifest.Manifest{
		SchemaVersion: manifest.SchemaVersion,
		Toolchain: manifest.Toolchain{
			Compiler: res.Toolchain.Compiler,
			Strip:    res.Toolchain.StripVersion,
			Flags:    slices.Clone(res.Toolchain.Flags),
		},
	}
	for _, v := range res.Variants {
		mv := manifest.Variant{
			ID:        v.ID,
			CPU:       v.CPU,
			Target:    v.Target,
			Object:    v.ObjectPath,
			SHA256:    v.SHA256,
			Size:      v.Size,
			Variables: slices.Clone(v.Variables),
			Defines:   map[string]string{},
		}
		for _, pr := range v.Programs {
			mv.Programs = append(mv.Programs, manifest.Program{Name: pr.Name, Type: pr.Type, Section: pr.Section})
		}
		for _, mp := range v.Maps {
			mv.Maps = append(mv.Maps, manifest.Map{Name: mp.Name, Type: mp.Type, KeySize: mp.KeySize, ValueSize: mp.ValueSize, MaxEntries: mp.MaxEntries})
		}
		if pv := planVariant(p, v.ID); pv != nil {
			for _, d := range pv.Defines {
				mv.Defines[d.Name] = d.Value
			}
			mv.Kernels = slices.Clone(pv.Kernels)
		}
		m.Variants = append(m.Variants, mv)
	}
	if p != nil {
		m.Matrix, m.Inputs = p.Matrix.File, p.Matrix.Hash
		for _, e := range p.Nodes() {
			n := manifest.Node{Name: e.Name, Kernel: e.Kernel, Variant: e.Resolution.Variant.ID, Values: map[string]string{}}
			for _, v := range e.Resolution.Values {
				n.Values[v.Var] = v.Value
			}
			if len(e.Resolution.MapSizes) > 0 {
				n.MapSizes = map[string]uint32{}
				for _, ms := range e.Resolution.MapSizes {
					n.MapSizes[ms.Map] = ms.Entries
				}
			}
			m.Nodes = append(m.Nodes, n)
		}
	}
	m.Normalize()
	return m
}

func planVariant(p *plan.Plan, id string) *plan.Variant {
	if p == nil {
		return nil
	}
	return p.Variant(id)
}
