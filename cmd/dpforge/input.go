package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/dpforge/dpforge/features"
	"github.com/dpforge/dpforge/features/diag"
	"github.com/dpforge/dpforge/generator/config"
	"github.com/dpforge/dpforge/generator/plan"
)

// readInput reads a file with the size limit applied before reading.
func readInput(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", path)
	}
	data, err := io.ReadAll(io.LimitReader(f, config.MaxFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > config.MaxFileSize {
		return nil, fmt.Errorf("%s is larger than %d bytes", path, config.MaxFileSize)
	}
	return data, nil
}

// loadMatrix parses a matrix file ("" is the embedded default). A ConfigMap
// manifest is accepted when kernel is set.
func loadMatrix(path string, kernel *features.Version) (*config.Matrix, diag.Diagnostics, error) {
	if path == "" {
		m, d := config.Parse(config.DefaultMatrixName, config.DefaultMatrix, nil)
		return m, d, nil
	}
	data, err := readInput(path)
	if err != nil {
		return nil, nil, fmt.Errorf("reading matrix: %w", err)
	}
	if config.IsConfigMap(data) {
		if kernel == nil {
			return nil, diag.Diagnostics{{Pos: diag.Position{File: path}, Severity: diag.Error, Rule: diag.RuleMissingInput,
				Message: "a ConfigMap names no kernel; pass --kernel VERSION"}}, nil
		}
		m, d := config.ParseConfigMap(path, data, *kernel)
		return m, d, nil
	}
	dir := filepath.Dir(path)
	read := func(name string) ([]byte, error) { return readInput(filepath.Join(dir, filepath.FromSlash(name))) }
	m, d := config.Parse(path, data, read)
	return m, d, nil
}

// loadPlan parses and resolves a matrix; diagnostics include both steps.
func loadPlan(path string, kernel *features.Version, target string) (*plan.Plan, diag.Diagnostics, error) {
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
