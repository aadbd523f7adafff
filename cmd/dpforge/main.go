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

	"github.com/spf13/pflag"
)

// Exit codes.
const (
	exitOK       = 0
	exitProblems = 1 // invalid input, failed build or test
	exitUsage    = 2
)

type command struct {
	name    string
	summary string
	run     func(args []string, stdout, stderr io.Writer) int
}

func commands() []command {
	return []command{
		{"validate", "check feature matrices (or a Cilium ConfigMap) against the feature model", runValidate},
		{"explain", "show each node's outcome in the words of cilium status", runExplain},
		{"gen", "write node_config.h per node and dp_variant.h per variant", runGen},
		{"probe", "probe the running kernel's capabilities into a probe file for a kernel profile", runProbe},
		{"build", "compile one datapath object set per distinct variant, with Go bindings and a manifest", runBuild},
		{"verify", "load every program of every built variant into the running kernel's verifier", runVerify},
		{"test", "run packet scenarios through every built variant they apply to (BPF_PROG_TEST_RUN)", runTest},
	}
}

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr)
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	for _, c := range commands() {
		if c.name == args[0] {
			return c.run(args[1:], stdout, stderr)
		}
	}
	fmt.Fprintf(stderr, "dpforge: unknown command %q\n\n", args[0])
	usage(stderr)
	return exitUsage
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: dpforge COMMAND [flags]\n\ncommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-9s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun dpforge COMMAND --help for a command's flags and an example.")
}

// flags is a subcommand's flag set with its usage line and example.
type flags struct {
	*pflag.FlagSet
	synopsis string
	stderr   io.Writer
}

// flagSet makes a subcommand's flag set with usage text and an example.
func flagSet(name, synopsis, example string, stderr io.Writer) *flags {
	fs := pflag.NewFlagSet(name, pflag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.SortFlags = true
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: dpforge %s\n\nflags:\n", synopsis)
		fs.PrintDefaults()
		fmt.Fprintf(stderr, "\nexample:\n  %s\n", example)
	}
	return &flags{FlagSet: fs, synopsis: synopsis, stderr: stderr}
}

// parse parses args and maps the outcome to an exit code (-1: go on). A
// flag error says what is wrong and shows the usage line.
func (f *flags) parse(args []string) int {
	if err := f.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return exitOK
		}
		return f.usageError("%v", err)
	}
	return -1
}

// usageError prints "dpforge CMD: <what is wrong>" and the usage line, and
// returns the usage exit code.
func (f *flags) usageError(format string, args ...any) int {
	fmt.Fprintf(f.stderr, "dpforge %s: %s\n", f.Name(), fmt.Sprintf(format, args...))
	fmt.Fprintf(f.stderr, "usage: dpforge %s\nRun dpforge %s --help for the flags and an example.\n", f.synopsis, f.Name())
	return exitUsage
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
