package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/dpforge/dpforge/features"
	"github.com/dpforge/dpforge/features/diag"
	"github.com/dpforge/dpforge/generator/config"
	"github.com/dpforge/dpforge/generator/plan"
)

// inputs are the flags that say what runs a configuration: the kernel (for
// a ConfigMap or manifest, which names none) and the Cilium release.
type inputs struct {
	kernel  kernelFlag
	release releaseFlag
}

// addInputFlags registers --cilium-version, and --kernel when withKernel.
func addInputFlags(fs *flags, withKernel bool) *inputs {
	in := &inputs{}
	if withKernel {
		fs.Var(&in.kernel, "kernel", "kernel for a Cilium ConfigMap or manifest: a version (5.10.0), a distribution ("+
			strings.Join(features.DistroNames(), ", ")+") or a probe file written by dpforge probe")
	}
	fs.Var(&in.release, "cilium-version", fmt.Sprintf("Cilium release 1.X[.Y] to judge the configuration as (default: what the input says, else %s)", features.Newest))
	return in
}

// loadMatrix parses a matrix file ("" is the embedded default), or a
// cilium-config ConfigMap alone or in a rendered manifest. --cilium-version
// replaces the release a matrix's defaults or a manifest's image name.
func loadMatrix(path string, in *inputs) (*config.Matrix, diag.Diagnostics, error) {
	if in == nil {
		in = &inputs{}
	}
	var (
		m *config.Matrix
		d diag.Diagnostics
	)
	switch data, err := readPath(path); {
	case err != nil:
		return nil, nil, fmt.Errorf("reading matrix: %w", err)
	case path != "" && config.IsManifest(data):
		m, d = config.ParseManifest(path, data, config.ManifestInput{Kernel: in.kernel.p, Release: in.release.s})
		return m, d, nil
	case path == "":
		m, d = config.Parse(config.DefaultMatrixName, data, nil)
	default:
		dir := filepath.Dir(path)
		read := func(name string) ([]byte, error) {
			return config.ReadInput(filepath.Join(dir, filepath.FromSlash(name)))
		}
		m, d = config.Parse(path, data, read)
	}
	if m != nil && in.release.s != "" {
		m.Defaults.Values[features.ReleaseOption] = in.release.s
		delete(m.Defaults.Keys, features.ReleaseOption)
		m.ReleaseFrom = "--cilium-version"
	}
	return m, d, nil
}

func readPath(path string) ([]byte, error) {
	if path == "" {
		return config.DefaultMatrix, nil
	}
	return config.ReadInput(path)
}

// loadPlan parses and resolves a matrix; diagnostics include both steps.
func loadPlan(path string, in *inputs, target string) (*plan.Plan, diag.Diagnostics, error) {
	m, diags, err := loadMatrix(path, in)
	if err != nil || m == nil {
		return nil, diags, err
	}
	p := plan.Make(m, target)
	return p, append(diags, p.Diags...).Sort(), nil
}

// kernelFlag is --kernel: a version, a named distribution kernel, or a
// probe file.
type kernelFlag struct {
	p   *config.KernelProfile
	raw string
}

func (f *kernelFlag) String() string { return f.raw }
func (f *kernelFlag) Type() string   { return "KERNEL" }
func (f *kernelFlag) Set(s string) error {
	f.raw = s
	if d, ok := features.LookupDistro(s); ok {
		f.p = &config.KernelProfile{Name: d.Name, Kernel: d.Kernel(), Target: features.LittleEndian}
		return nil
	}
	if st, err := os.Stat(s); err == nil && st.Mode().IsRegular() {
		data, err := config.ReadInput(s)
		if err != nil {
			return err
		}
		pf, err := config.ParseProbe(data)
		if err != nil {
			return fmt.Errorf("probe file %s: %w", s, err)
		}
		k := pf.Kernel()
		k.Name = filepath.Base(s)
		f.p = &config.KernelProfile{Name: k.Name, Kernel: k, Target: features.LittleEndian, Probe: s}
		if t, ok := config.ArchTarget(pf.Arch); ok {
			f.p.Target = t
		}
		return nil
	}
	v, err := features.ParseVersion(s)
	if err != nil {
		return fmt.Errorf("%w (or name a distribution kernel: %s, or a probe file)", err, strings.Join(features.DistroNames(), ", "))
	}
	f.p = &config.KernelProfile{Name: v.Short(), Kernel: features.Kernel{Name: v.Short(), Version: v, Release: s}, Target: features.LittleEndian}
	return nil
}

// releaseFlag is --cilium-version, normalized to the minor release.
type releaseFlag struct{ s string }

func (f *releaseFlag) String() string { return f.s }
func (f *releaseFlag) Type() string   { return "1.X[.Y]" }
func (f *releaseFlag) Set(s string) error {
	r, err := features.ParseRelease(s)
	if err != nil {
		return err
	}
	f.s = r.String()
	return nil
}
