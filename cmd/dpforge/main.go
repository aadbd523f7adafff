// Command dpforge validates Cilium-style datapath feature matrices, explains
// every node's outcome, generates per-node headers, and builds, verifies and
// tests one specialized datapath object set per distinct variant.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/dpforge/dpforge/cmd/internal/cli"
)

// Exit codes.
const (
	exitOK       = cli.ExitOK
	exitProblems = cli.ExitProblems // invalid input, failed build or test
	exitUsage    = cli.ExitUsage
)

func commands() []cli.Command {
	return []cli.Command{
		{Name: "validate", Summary: "check feature matrices (or a Cilium ConfigMap) against the feature model", Run: runValidate},
		{Name: "explain", Summary: "show each node's outcome in the words of cilium status", Run: runExplain},
		{Name: "gen", Summary: "write node_config.h per node and dp_variant.h per variant", Run: runGen},
		{Name: "probe", Summary: "probe the running kernel's capabilities into a probe file for a kernel profile", Run: runProbe},
		{Name: "build", Summary: "compile one datapath object set per distinct variant, with Go bindings and a manifest", Run: runBuild},
		{Name: "verify", Summary: "load every program of every built variant into the running kernel's verifier", Run: runVerify},
		{Name: "test", Summary: "run packet scenarios through every built variant they apply to (BPF_PROG_TEST_RUN)", Run: runTest},
		{Name: "report", Summary: "tabulate the kernels each variant was verified and packet-tested on, with headroom", Run: runReport},
	}
}

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	return cli.Main("dpforge", commands(), args, stdout, stderr)
}

// flags is a subcommand's flag set with its usage line and example.
type flags struct{ *cli.Flags }

// flagSet makes a subcommand's flag set with usage text and an example.
func flagSet(name, synopsis, example string, stderr io.Writer) *flags {
	return &flags{cli.NewFlags("dpforge", name, synopsis, example, stderr)}
}

// parse parses args and maps the outcome to an exit code (-1: go on).
func (f *flags) parse(args []string) int {
	if code, ok := f.ParseArgs(args); !ok {
		return code
	}
	return -1
}

// usageError prints "dpforge CMD: <what is wrong>" and the usage line, and
// returns the usage exit code.
func (f *flags) usageError(format string, args ...any) int {
	return f.UsageError(format, args...)
}

// formatFlag is the -o flag: the output format, text or json, in every
// command. Files and directories are written with --out.
type formatFlag string

func (f *formatFlag) String() string { return string(*f) }
func (f *formatFlag) Type() string   { return "text|json" }
func (f *formatFlag) Set(s string) error {
	switch s {
	case "text", "json":
		*f = formatFlag(s)
		return nil
	}
	return fmt.Errorf("want text or json, not %q (-o is the output format; an output directory or file is --out)", s)
}

func outputFlag(fs *flags) *formatFlag {
	f := formatFlag("text")
	fs.VarP(&f, "output", "o", "output format: text or json")
	return &f
}

// matrixFlag is -f FILE, the feature matrix, in every command that reads one.
func matrixFlag(fs *flags) *string {
	return fs.StringP("file", "f", "", "feature matrix")
}

// matrixArg returns the matrix given with -f or, where a command has always
// taken it that way, as the first positional argument, and the remaining
// positional arguments.
func matrixArg(fs *flags, file string) (string, []string, bool) {
	args := fs.Args()
	if file != "" {
		return file, args, true
	}
	if len(args) == 0 {
		return "", nil, false
	}
	return args[0], args[1:], true
}

func sortedKeys[K ~string, V any](m map[K]V) []K {
	out := make([]K, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

func plural(n int, word string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, word)
	}
	if strings.HasSuffix(word, "s") {
		return fmt.Sprintf("%d %ses", n, word)
	}
	return fmt.Sprintf("%d %ss", n, word)
}

// movedFlag is a hidden flag that only says where its meaning went.
type movedFlag string

func (f movedFlag) String() string     { return "" }
func (f movedFlag) Type() string       { return "" }
func (f movedFlag) Set(s string) error { return errors.New(string(f)) }
