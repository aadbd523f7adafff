package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/dpforge/dpforge/bpf/loader/node"
	"github.com/dpforge/dpforge/generator/atomicfile"
)

// LoaderName is the node loader `dpforge build` writes into the output
// directory: dpload with the build appended (see node.WriteBundle).
const loaderName = "dpload"

// writeLoader writes outDir/dpload: a static dpload binary followed by the
// build in outDir. The binary is $DPFORGE_DPLOAD if set, else built from
// this module's source with `go build` (static, -trimpath, no VCS stamp,
// so the same source and toolchain give the same bytes). It returns the
// loader's path and size.
func writeLoader(outDir string) (string, int64, error) {
	exe, err := dploadBinary()
	if err != nil {
		return "", 0, err
	}
	var buf bytes.Buffer
	if err := node.WriteBundle(&buf, exe, outDir); err != nil {
		return "", 0, err
	}
	path := filepath.Join(outDir, loaderName)
	if err := atomicfile.WriteFile(path, buf.Bytes(), 0o755); err != nil {
		return "", 0, fmt.Errorf("writing %s: %w", path, err)
	}
	return path, int64(buf.Len()), nil
}

func dploadBinary() ([]byte, error) {
	if p := os.Getenv("DPFORGE_DPLOAD"); p != "" {
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("reading $DPFORGE_DPLOAD: %w", err)
		}
		return b, nil
	}
	root, err := moduleRoot()
	if err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp("", "dpforge-dpload-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	bin := filepath.Join(tmp, loaderName)
	cmd := exec.Command("go", "build", "-trimpath", "-buildvcs=false", "-ldflags=-s -w", "-o", bin, "./cmd/dpload")
	cmd.Dir = root
	// Static: no cgo, so the loader runs on any node of the architecture.
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("building dpload: %w: %s", err, bytes.TrimSpace(out))
	}
	return os.ReadFile(bin)
}

// moduleRoot finds this module's source: the directory holding its go.mod,
// above the working directory or the dpforge executable.
func moduleRoot() (string, error) {
	var starts []string
	if wd, err := os.Getwd(); err == nil {
		starts = append(starts, wd)
	}
	if exe, err := os.Executable(); err == nil {
		starts = append(starts, filepath.Dir(exe))
	}
	for _, dir := range starts {
		for {
			if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && strings.HasPrefix(string(b), "module github.com/dpforge/dpforge\n") {
				return dir, nil
			}
			parent := filepath.Dir(dir)
			if parent == dir {
				break
			}
			dir = parent
		}
	}
	return "", errors.New("no dpload binary: set $DPFORGE_DPLOAD to one, or run dpforge inside its source tree (or use --no-loader)")
}
