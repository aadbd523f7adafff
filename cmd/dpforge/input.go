package main

import (
	"fmt"
	"path/filepath"

	"github.com/dpforge/dpforge/features"
	"github.com/dpforge/dpforge/generator/config"
	"github.com/dpforge/dpforge/generator/plan"
)

// loadMatrix parses a matrix file ("" is the embedded default). A ConfigMap
// manifest is accepted when kernel is set.
func loadMatrix(path string, kernel *features.Version) (*config.Matrix, config.Diagnostics, error) {
	if path == "" {
		m, d := config.Parse(config.DefaultMatrixName, config.DefaultMatrix, nil)
		return m, d, nil
	}
	data, err := config.ReadInput(path)
	if err != nil {
		return nil, nil, fmt.Errorf("reading matrix: %w", err)
	}
	if config.IsConfigMap(data) {
		if kernel == nil {
			return nil, config.Diagnostics{{Pos: config.Pos{File: path}, Severity: config.Error, Rule: "missing-kernel",
				Message: "a ConfigMap names no kernel; pass --kernel VERSION"}}, nil
		}
		m, d := config.ParseConfigMap(path, data, *kernel)
		return m, d, nil
	}
	dir := filepath.Dir(path)
	read := func(name string) ([]byte, error) {
		return config.ReadInput(filepath.Join(dir, filepath.FromSlash(name)))
	}
	m, d := config.Parse(path, data, read)
	return m, d, nil
}

// loadPlan parses and resolves a matrix; diagnostics include both steps.
func loadPlan(path string, kernel *features.Version, target string) (*plan.Plan, config.Diagnostics, error) {
	m, diags, err := loadMatrix(path, kernel)
	if err != nil || m == nil {
		return nil, diags, err
	}
	p := plan.Make(m, target)
	return p, append(diags, p.Diags...).Sort(), nil
}

// versionFlag is a typed kernel version flag.
type versionFlag struct{ v *features.Version }

func (f *versionFlag) String() string {
	if f.v == nil {
		return ""
	}
	return f.v.String()
}
func (f *versionFlag) Type() string { return "VERSION" }
func (f *versionFlag) Set(s string) error {
	v, err := features.ParseVersion(s)
	if err != nil {
		return err
	}
	f.v = &v
	return nil
}
