// Command dpload puts a dpforge build's datapath on a node: it picks the
// node's variant, loads it with its stateful maps pinned on a bpffs,
// attaches every program to its hook, applies the datapath state a control
// plane gives it, reports status, swaps builds without a moment without a
// program, and removes everything again.
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/pflag"

	"github.com/dpforge/dpforge/bpf/loader/node"
)

// Exit codes.
const (
	exitOK       = 0
	exitProblems = 1
	exitUsage    = 2
)

type command struct {
	name    string
	summary string
	run     func(args []string, stdout, stderr io.Writer) int
}

func commands() []command {
	return []command{
		{"attach", "load the node's variant and attach every program to its hook", runAttach},
		{"replace", "swap the attached datapath for another build or variant, without loss", runReplace},
		{"state", "state apply FILE: write endpoints, ipcache, services, policy... into the pinned maps", runState},
		{"map", "map list NAME | map get NAME KEY: show a pinned map's entries, decoded", runMap},
		{"status", "what is attached where, variant and build, map fill, drop counters", runStatus},
		{"detach", "remove every hook, pin and record dpload made", runDetach},
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
	fmt.Fprintf(stderr, "dpload: unknown command %q\n\n", args[0])
	usage(stderr)
	return exitUsage
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: dpload COMMAND [flags]\n\ncommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun dpload COMMAND --help for a command's flags and an example.")
}

// common are the flags every command has.
type common struct {
	bpffs  string
	runDir string
	output string
	build  string
	// synopsis is the command's usage line, shown with a flag error.
	synopsis string
}

func flagSet(name, synopsis, example string, stderr io.Writer, c *common) *pflag.FlagSet {
	fs := pflag.NewFlagSet(name, pflag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.SortFlags = true
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: dpload %s\n\nflags:\n", synopsis)
		fs.PrintDefaults()
		fmt.Fprintf(stderr, "\nexample:\n  %s\n", example)
	}
	c.synopsis = synopsis
	fs.StringVar(&c.bpffs, "bpffs", "/sys/fs/bpf/dpforge", "directory on a bpffs for the pinned maps, programs and links")
	fs.StringVar(&c.runDir, "run-dir", "/run/dpload", "directory of dpload's record of what it attached")
	fs.StringVarP(&c.output, "output", "o", "text", "output format: text or json")
	return fs
}

// parse parses args; it returns an exit code and false when the command
// must stop (help, usage error).
func parse(fs *pflag.FlagSet, args []string, c *common, stderr io.Writer) (int, bool) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return exitOK, false
		}
		return c.usageError(stderr, fs.Name(), "%v", err), false
	}
	if c.output != "text" && c.output != "json" {
		return c.usageError(stderr, fs.Name(), "-o %q: want text or json", c.output), false
	}
	return 0, true
}

// usageError says what is wrong with a command line and shows the usage
// line, as dpforge does.
func (c *common) usageError(stderr io.Writer, name, format string, args ...any) int {
	fmt.Fprintf(stderr, "dpload %s: %s\n", name, fmt.Sprintf(format, args...))
	fmt.Fprintf(stderr, "usage: dpload %s\nRun dpload %s --help for the flags and an example.\n", c.synopsis, name)
	return exitUsage
}

func (c *common) node() *node.Node {
	return &node.Node{Dir: c.bpffs, RecordPath: c.runDir + "/" + recordName(c.bpffs)}
}

// recordName keeps the records of loaders with different bpffs
// directories apart in one run directory.
func recordName(bpffs string) string {
	r := strings.NewReplacer("/", "_", ".", "_")
	return "record" + r.Replace(strings.TrimRight(bpffs, "/")) + ".json"
}

// openBuild reads --build DIR, else the build embedded in this binary.
func (c *common) openBuild() (*node.Build, error) {
	if c.build != "" {
		return node.OpenBuild(c.build)
	}
	b, err := embeddedBuild()
	if err != nil {
		return nil, err
	}
	if b == nil {
		return nil, fmt.Errorf("this dpload carries no build: give --build DIR (a dpforge build --out directory)")
	}
	return b, nil
}

func fail(stderr io.Writer, name string, err error) int {
	fmt.Fprintf(stderr, "dpload %s: %v\n", name, err)
	return exitProblems
}

func writeJSON(w io.Writer, v any) {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	enc.Encode(v)
}
