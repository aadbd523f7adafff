package compile

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strings"

	"github.com/dpforge/dpforge/generator/bindings"
	"github.com/dpforge/dpforge/generator/cache"
	"github.com/dpforge/dpforge/generator/env"
)

// Toolchain identifies the tools a Build used.
type Toolchain struct {
	// CC and Strip are the commands, split into words.
	CC, Strip []string
	// Compiler and StripVersion are the first lines of "--version".
	Compiler, StripVersion string
	// Flags are the compiler flags common to all variants (without -mcpu).
	Flags []string
	// Bpf2go is the version of github.com/cilium/ebpf whose gen package
	// generated the bindings.
	Bpf2go string
}

// toolchain is a Toolchain plus the full identity that goes into cache keys.
type toolchain struct {
	Toolchain
	ccID, stripID string // full --version output
}

// probeToolchain finds the compiler and the strip tool and reads their
// "--version" output, their identity in cache keys: remembered in the cache
// while the installed file stays the same (cache.ToolOutput), else run.
func probeToolchain(ctx context.Context, c *cache.Cache, cc, strip []string) (*toolchain, error) {
	ccID, err := toolVersion(ctx, c, cc, env.CCVar)
	if err != nil {
		return nil, err
	}
	stripID, err := toolVersion(ctx, c, strip, env.StripVar)
	if err != nil {
		return nil, err
	}
	return &toolchain{
		Toolchain: Toolchain{
			CC:           cc,
			Strip:        strip,
			Compiler:     firstLine(ccID),
			StripVersion: firstLine(stripID),
			Bpf2go:       bindings.EbpfVersion,
		},
		ccID:    ccID,
		stripID: stripID,
	}, nil
}

func toolVersion(ctx context.Context, c *cache.Cache, words []string, env string) (string, error) {
	if len(words) == 0 {
		return "", fmt.Errorf("empty tool command (set $%s)", env)
	}
	path, err := exec.LookPath(words[0])
	if err != nil {
		return "", fmt.Errorf("finding %q (set $%s to choose another): %w", words[0], env, err)
	}
	args := append(append([]string(nil), words[1:]...), "--version")
	run := func() (string, error) {
		cmd := exec.CommandContext(ctx, path, args...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			return "", fmt.Errorf("running %q: %w: %s", strings.Join(words, " ")+" --version", err, strings.TrimSpace(stderr.String()))
		}
		return string(out), nil
	}
	if len(words) > 1 {
		// A wrapper ("ccache clang-19"): the first word's file does not
		// identify the compiler it runs, so ask every time.
		return run()
	}
	return c.ToolOutput(path, args, run)
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return strings.TrimSpace(line)
}
