package vm

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"time"
)

// tool is a program Fetch or Verify runs and the Debian package that has it.
type tool struct {
	command, pkg string
}

// tools are the programs the package runs. The go command is not among
// them: it comes with the Go toolchain dpforge is built with, not apt.
var tools = []tool{
	{"qemu-system-x86_64", "qemu-system-x86"}, // Verify
	{"apt-get", "apt"},                        // Fetch
	{"apt-cache", "apt"},                      // Fetch
	{"dpkg-deb", "dpkg"},                      // Fetch
	{"xz", "xz-utils"},                        // 5.10, 6.1 images
	{"zstd", "zstd"},                          // 6.12+ images
	{"lz4", "lz4"},                            // cloud images
}

// MissingTools returns the Debian packages that hold the programs Fetch and
// Verify need and that are not on $PATH, sorted.
func MissingTools() []string {
	var pkgs []string
	for _, t := range tools {
		if _, err := exec.LookPath(t.command); err != nil && !slices.Contains(pkgs, t.pkg) {
			pkgs = append(pkgs, t.pkg)
		}
	}
	slices.Sort(pkgs)
	return pkgs
}

// EnsureTools installs, with the machine's own apt (apt-get update, then
// apt-get install --no-install-recommends), the packages of MissingTools:
// qemu-system-x86, xz-utils, zstd, lz4. It changes the machine, so nothing
// in this package calls it: the caller does, once, when it is allowed to
// (a CI job, a developer's `make` target). It needs root; without root it
// fails with the apt-get command to run.
func EnsureTools(ctx context.Context) error {
	missing := MissingTools()
	if len(missing) == 0 {
		return nil
	}
	install := append([]string{"install", "-y", "-q", "--no-install-recommends"}, missing...)
	if os.Geteuid() != 0 {
		return fmt.Errorf("missing %s: run as root: apt-get %s", strings.Join(missing, ", "), strings.Join(install, " "))
	}
	for _, args := range [][]string{{"update", "-q"}, install} {
		cmd := exec.CommandContext(ctx, "apt-get", args...)
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("installing %s: apt-get %s: %w: %s", strings.Join(missing, ", "), args[0], err, strings.TrimSpace(out.String()))
		}
	}
	if still := MissingTools(); len(still) > 0 {
		return fmt.Errorf("installing tools: still missing %s", strings.Join(still, ", "))
	}
	return nil
}

// command is exec.CommandContext for the tools this package runs, in their
// own process group: cancelling kills the whole group, so a helper a tool
// forked (dpkg-deb's decompressor) dies too instead of holding the output
// pipe open, and Wait gives up on the pipes soon after.
func command(ctx context.Context, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	return cmd
}
