package compile

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strings"

	"github.com/dpforge/dpforge/generator/bindings"
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
	// drove the compiler.
	Bpf2go string
}

// toolchain is a Toolchain plus the full identity that goes into cache keys.
type toolchain struct {
	Toolchain
	ccID, stripID string // full --version output
}

// probeToolchain runs "--version" of the compiler and of the strip tool once
// per Build. The output is the tools' identity in cache keys.
func probeToolchain(ctx context.Context, cc, strip []string) (*toolchain, error) {
	ccID, err := toolVersion(ctx, cc, "DPFORGE_CC")
	if err != nil {
		return nil, err
	}
	stripID, err := toolVersion(ctx, strip, "DPFORGE_STRIP")
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

func toolVersion(ctx context.Context, words []string, env string) (string, error) {
	if len(words) == 0 {
		return "", fmt.Errorf("empty tool command (set $%s)", env)
	}
	if _, err := exec.LookPath(words[0]); err != nil {
		return "", fmt.Errorf("finding %q (set $%s to choose another): %w", words[0], env, err)
	}
	args := append(append([]string(nil), words[1:]...), "--version")
	cmd := exec.CommandContext(ctx, words[0], args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("running %q: %w: %s", strings.Join(words, " ")+" --version", err, strings.TrimSpace(stderr.String()))
	}
	return string(out), nil
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return strings.TrimSpace(line)
}

// shellQuote quotes s for /bin/sh.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// wrapperScript is a tiny shell script that runs the command words with its
// arguments and appends its stderr to stderrPath. gen.Compile sends the
// compiler's and strip's stderr to os.Stderr; the wrapper captures it per
// variant instead, so a library that must not print can return it in a
// CompileError, and parallel compiles do not interleave.
func wrapperScript(words []string, stderrPath string) []byte {
	var b strings.Builder
	b.WriteString("#!/bin/sh\n")
	b.WriteString("exec 2>>" + shellQuote(stderrPath) + "\n")
	b.WriteString("exec")
	for _, w := range words {
		b.WriteString(" " + shellQuote(w))
	}
	b.WriteString(" \"$@\"\n")
	return []byte(b.String())
}
