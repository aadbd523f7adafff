package compile

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"syscall"
)

// The compile runs clang and llvm-strip itself rather than through
// bpf2go's gen.Compile, for three reasons:
//
//   - gen.Compile sends the tools' stderr to the process's stderr, so a
//     library that must not print needed a wrapper script per compile to
//     capture it, and executing a file just written while other workers fork
//     fails with ETXTBSY ("text file busy": a child forked by another worker
//     holds the script's write descriptor until it execs). Here only the
//     installed tools are executed, and stderr goes to a buffer.
//   - It cannot set SysProcAttr: here the tools get Pdeathsig, so a build
//     killed with SIGKILL takes its compilers with it.
//   - It cannot be cancelled: here cancelling the context kills the tools.
//
// The arguments are bpf2go's (see fixedFlags); cache keys hash them all.

// fixedFlags are the flags every compile gets after compileFlags, the ones
// bpf2go's gen.Compile forces, and why.
func fixedFlags(target string) []string {
	return []string{
		// A flag clang ignores is an error with -Werror, not a silent no-op.
		"-Wunused-command-line-argument",
		// The byte order of the object (Job.Target): bpfel or bpfeb.
		"-target", target,
		// Keep the clang version string out of the object: the same source
		// compiled by two builds of one clang version gives the same bytes.
		"-fno-ident",
		// Record "." as the compilation directory, not the temporary one.
		"-fdebug-compilation-dir", ".",
		// Fail if code uses architecture macros (PT_REGS_*) with a generic
		// BPF target, where they would silently mean nothing.
		`-D__BPF_TARGET_MISSING="GCC error \"The eBPF is using target specific macros, please provide -target that is not bpf, bpfel or bpfeb\""`,
	}
}

// clangArgs is the complete argument list of one compile, run in the
// compile's src/ directory. Source and object are relative to it, so no path
// of the temporary directory reaches the object.
func clangArgs(flags []string, target, source, object string) []string {
	args := slices.Clone(flags)
	args = append(args, fixedFlags(target)...)
	return append(args, "-c", source, "-o", object)
}

// runTool runs a tool (its command words plus args) in dir and returns what
// it wrote to stdout and stderr. The tool is killed when ctx is cancelled and
// when this process dies (Pdeathsig), so no compiler outlives its build.
func runTool(ctx context.Context, words, args []string, dir string) (string, error) {
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, words[0], append(slices.Clone(words[1:]), args...)...)
	cmd.Dir = dir
	cmd.Stdout = &out
	cmd.Stderr = &out
	// SIGKILL when the thread that started the tool exits; Go never ends a
	// thread that is not locked, so this means when the process dies.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		return out.String(), fmt.Errorf("running %s: %w", strings.Join(words, " "), err)
	}
	return out.String(), nil
}
