// Command dpload puts a dpforge build's datapath on a node: it picks the
// node's variant, loads it with its stateful maps pinned on a bpffs,
// attaches every program to its hook, applies the datapath state a control
// plane gives it, reports status, swaps builds without a moment without a
// program, and removes everything again.
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/pflag"

	"github.com/dpforge/dpforge/bpf/loader/node"
	"github.com/dpforge/dpforge/cmd/internal/cli"
)

// Exit codes.
const (
	exitOK       = cli.ExitOK
	exitProblems = cli.ExitProblems
	exitUsage    = cli.ExitUsage
)

func commands() []cli.Command {
	return []cli.Command{
		{Name: "attach", Summary: "load the node's variant and attach every program to its hook", Run: runAttach},
		{Name: "replace", Summary: "swap the attached datapath for another build or variant, without loss", Run: runReplace},
		{Name: "state", Summary: "state apply FILE: write endpoints, ipcache, services, policy... into the pinned maps", Run: runState},
		{Name: "map", Summary: "map list NAME | map get NAME KEY: show a pinned map's entries, decoded", Run: runMap},
		{Name: "status", Summary: "what is attached where, variant and build, map fill, drop counters", Run: runStatus},
		{Name: "detach", Summary: "remove every hook, pin and record dpload made", Run: runDetach},
	}
}

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	return cli.Main("dpload", commands(), args, stdout, stderr)
}

// common are the flags every command has.
type common struct {
	bpffs  string
	runDir string
	output string
	build  string
	fs     *cli.Flags
}

func flagSet(name, synopsis, example string, stderr io.Writer, c *common) *pflag.FlagSet {
	c.fs = cli.NewFlags("dpload", name, synopsis, example, stderr)
	fs := c.fs.FlagSet
	fs.StringVar(&c.bpffs, "bpffs", "/sys/fs/bpf/dpforge", "directory on a bpffs for the pinned maps, programs and links")
	fs.StringVar(&c.runDir, "run-dir", "/run/dpload", "directory of dpload's record of what it attached")
	fs.StringVarP(&c.output, "output", "o", "text", "output format: text or json")
	return fs
}

// parse parses args; it returns an exit code and false when the command
// must stop (help, usage error).
func (c *common) parse(args []string) (int, bool) {
	if code, ok := c.fs.ParseArgs(args); !ok {
		return code, false
	}
	if c.output != "text" && c.output != "json" {
		return c.fs.UsageError("-o %q: want text or json", c.output), false
	}
	return 0, true
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
