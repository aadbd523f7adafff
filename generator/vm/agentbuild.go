package vm

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"

	"github.com/dpforge/dpforge/generator/atomicfile"
	"github.com/dpforge/dpforge/generator/cache"
)

// AgentPackage is the import path of the in-VM agent.
const AgentPackage = "github.com/dpforge/dpforge/generator/vm/agent"

// agentFormat versions the agent cache key; bump it when the build flags
// below change.
const agentFormat = 1

// agentBuildFlags: a static binary (the initramfs has no libc), without
// paths of this machine or symbols, so the initramfs is smaller and the
// binary the same on every machine.
var agentBuildFlags = []string{"-trimpath", "-ldflags=-s -w -buildid="}

var agentBuildEnv = []string{"CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64"}

// goPackage is the part of go list -json the agent's cache key needs.
type goPackage struct {
	ImportPath string
	Dir        string
	Standard   bool
	GoFiles    []string
	EmbedFiles []string
	Module     *struct {
		Path    string
		Version string
		Sum     string
		Replace *struct{ Path, Version string }
	}
}

// agentBinary returns the path of the agent, built with go build and cached
// under cacheDir/agent by a key over everything the binary is made of: the
// Go version, the build flags, the source files of every package of this
// module (or a replacement) it links, and the version of every other module.
//
// The go command finds the agent's source from the working directory (this
// module, or one that requires it) or else from where this file was
// compiled.
func agentBinary(ctx context.Context, cacheDir string) (string, error) {
	dir, pkgs, err := listAgent(ctx)
	if err != nil {
		return "", err
	}
	goVersion, err := goOutput(ctx, dir, "env", "GOVERSION")
	if err != nil {
		return "", err
	}
	key, err := agentKey(strings.TrimSpace(string(goVersion)), pkgs)
	if err != nil {
		return "", err
	}
	bin := filepath.Join(cacheDir, "agent", key[:2], key)
	if agentEntryValid(bin) {
		return bin, nil
	}
	unlock, err := cache.Lock(ctx, filepath.Join(cacheDir, "agent", "lock"))
	if err != nil {
		return "", err
	}
	defer unlock()
	if agentEntryValid(bin) {
		return bin, nil
	}
	tmp, err := os.MkdirTemp(filepath.Join(cacheDir, "agent"), ".tmp-build-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	out := filepath.Join(tmp, "init")
	args := append(append([]string{"build"}, agentBuildFlags...), "-o", out, AgentPackage)
	if _, err := goOutput(ctx, dir, args...); err != nil {
		return "", fmt.Errorf("building the VM agent: %w", err)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		return "", err
	}
	if err := atomicfile.WriteFile(bin, data, 0o755); err != nil {
		return "", err
	}
	// The record is written last: a binary without it is not an entry.
	if err := atomicfile.WriteFile(bin+".sha256", []byte(cache.SHA256Hex(data)+"\n"), 0o644); err != nil {
		return "", err
	}
	return bin, nil
}

func agentEntryValid(bin string) bool {
	want, err := os.ReadFile(bin + ".sha256")
	if err != nil {
		return false
	}
	data, err := os.ReadFile(bin)
	return err == nil && cache.SHA256Hex(data) == strings.TrimSpace(string(want))
}

// listAgent runs go list on the agent from the working directory, then from
// this package's source directory.
func listAgent(ctx context.Context) (string, []goPackage, error) {
	var errs []error
	for _, dir := range goDirs() {
		out, err := goOutput(ctx, dir, "list", "-deps", "-json", AgentPackage)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		var pkgs []goPackage
		dec := json.NewDecoder(bytes.NewReader(out))
		for {
			var p goPackage
			if err := dec.Decode(&p); err == io.EOF {
				break
			} else if err != nil {
				return "", nil, fmt.Errorf("reading go list output: %w", err)
			}
			pkgs = append(pkgs, p)
		}
		return dir, pkgs, nil
	}
	return "", nil, fmt.Errorf("finding the VM agent's source (run from the dpforge module, or pass Options.Agent): %w", errors.Join(errs...))
}

// goDirs are the directories the go command is tried in to find this
// module's packages: the working directory, then this file's.
func goDirs() []string {
	dirs := []string{""}
	if _, file, _, ok := runtime.Caller(0); ok && filepath.IsAbs(file) {
		dirs = append(dirs, filepath.Dir(file))
	}
	return dirs
}

// agentKey hashes the description of the agent build.
func agentKey(goVersion string, pkgs []goPackage) (string, error) {
	h := sha256.New()
	fmt.Fprintf(h, "dpforge vm agent %d\n%s\n%q\n%q\n", agentFormat, goVersion, agentBuildEnv, agentBuildFlags)
	slices.SortFunc(pkgs, func(a, b goPackage) int { return strings.Compare(a.ImportPath, b.ImportPath) })
	for _, p := range pkgs {
		switch {
		case p.Standard:
			// Part of the Go version.
		case p.Module != nil && p.Module.Version != "" && p.Module.Replace == nil:
			// An immutable module version; its sum pins the content.
			fmt.Fprintf(h, "pkg %s %s@%s %s\n", p.ImportPath, p.Module.Path, p.Module.Version, p.Module.Sum)
		default:
			// This module or a replacement directory: hash the files.
			fmt.Fprintf(h, "pkg %s\n", p.ImportPath)
			for _, f := range slices.Sorted(slices.Values(append(slices.Clone(p.GoFiles), p.EmbedFiles...))) {
				data, err := os.ReadFile(filepath.Join(p.Dir, f))
				if err != nil {
					return "", fmt.Errorf("hashing the VM agent's source: %w", err)
				}
				fmt.Fprintf(h, "file %s %s\n", f, cache.SHA256Hex(data))
			}
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// goOutput runs the go command with the agent's build environment.
func goOutput(ctx context.Context, dir string, args ...string) ([]byte, error) {
	cmd := command(ctx, "go", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), agentBuildEnv...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("go %s: %w: %s", args[0], err, strings.TrimSpace(stderr.String()))
	}
	return stdout.Bytes(), nil
}
