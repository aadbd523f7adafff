// Package cli is what dpforge and dpload share on their command lines:
// subcommand dispatch with a usage list, and flag sets whose errors say
// what is wrong and show the command's usage line.
package cli

import (
	"errors"
	"fmt"
	"io"

	"github.com/spf13/pflag"
)

// Exit codes of both commands.
const (
	ExitOK       = 0
	ExitProblems = 1 // invalid input, failed build, test or attach
	ExitUsage    = 2
)

// A Command is one subcommand.
type Command struct {
	Name    string
	Summary string
	Run     func(args []string, stdout, stderr io.Writer) int
}

// Main runs the subcommand args[0] of prog. With no arguments, or asking
// for help, it lists the subcommands.
func Main(prog string, cmds []Command, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr, prog, cmds)
		if len(args) == 0 {
			return ExitUsage
		}
		return ExitOK
	}
	for _, c := range cmds {
		if c.Name == args[0] {
			return c.Run(args[1:], stdout, stderr)
		}
	}
	fmt.Fprintf(stderr, "%s: unknown command %q\n\n", prog, args[0])
	usage(stderr, prog, cmds)
	return ExitUsage
}

func usage(w io.Writer, prog string, cmds []Command) {
	width := 0
	for _, c := range cmds {
		width = max(width, len(c.Name))
	}
	fmt.Fprintf(w, "usage: %s COMMAND [flags]\n\ncommands:\n", prog)
	for _, c := range cmds {
		fmt.Fprintf(w, "  %-*s %s\n", width+1, c.Name, c.Summary)
	}
	fmt.Fprintf(w, "\nRun %s COMMAND --help for a command's flags and an example.\n", prog)
}

// Flags is a subcommand's flag set with its usage line and example.
type Flags struct {
	*pflag.FlagSet
	prog     string
	synopsis string
	stderr   io.Writer
}

// NewFlags makes the flag set of prog's subcommand name; synopsis is its
// usage line without the program name.
func NewFlags(prog, name, synopsis, example string, stderr io.Writer) *Flags {
	fs := pflag.NewFlagSet(name, pflag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.SortFlags = true
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: %s %s\n\nflags:\n", prog, synopsis)
		fs.PrintDefaults()
		fmt.Fprintf(stderr, "\nexample:\n  %s\n", example)
	}
	return &Flags{FlagSet: fs, prog: prog, synopsis: synopsis, stderr: stderr}
}

// ParseArgs parses args and maps the outcome to an exit code, with ok
// false when the command must stop there (help asked for, or a flag
// error, which says what is wrong and shows the usage line).
func (f *Flags) ParseArgs(args []string) (code int, ok bool) {
	if err := f.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return ExitOK, false
		}
		return f.UsageError("%v", err), false
	}
	return ExitOK, true
}

// UsageError prints "PROG CMD: <what is wrong>" and the usage line, and
// returns the usage exit code.
func (f *Flags) UsageError(format string, args ...any) int {
	fmt.Fprintf(f.stderr, "%s %s: %s\n", f.prog, f.Name(), fmt.Sprintf(format, args...))
	fmt.Fprintf(f.stderr, "usage: %s %s\nRun %s %s --help for the flags and an example.\n",
		f.prog, f.synopsis, f.prog, f.Name())
	return ExitUsage
}
