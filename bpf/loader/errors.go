package loader

import (
	"fmt"
	"io"
	"strings"
)

// LoadError is a collection the kernel did not load. Programs lists every
// program the kernel rejects on its own, each with its full verifier log;
// it is empty when the failure lies elsewhere (a map, a pinned map of
// another shape), and Err says what. %+v prints every log.
type LoadError struct {
	Variant, Release string
	Programs         []*ProgramError
	// Err is what failed: a map, a pinned map of another shape, or else
	// the first rejected program (by name).
	Err error
}

func (e *LoadError) Error() string {
	if len(e.Programs) == 1 {
		return e.Programs[0].Error()
	}
	what := Options{Variant: e.Variant, Release: e.Release}.what()
	if len(e.Programs) == 0 {
		return fmt.Sprintf("%s: %v", what, e.Err)
	}
	var names []string
	for _, p := range e.Programs {
		names = append(names, p.Program)
	}
	return fmt.Sprintf("%s: the verifier rejects programs %s", what, strings.Join(names, ", "))
}

// Unwrap returns the rejected programs' errors, or else the collection's
// error: so errors.As finds a *ProgramError, and a joined list of errors
// flattens into one error per program.
func (e *LoadError) Unwrap() []error {
	if len(e.Programs) == 0 {
		return []error{e.Err}
	}
	out := make([]error, len(e.Programs))
	for i, p := range e.Programs {
		out[i] = p
	}
	return out
}

// Format implements fmt.Formatter: %+v prints every program's full log.
func (e *LoadError) Format(f fmt.State, verb rune) {
	if verb != 'v' || !f.Flag('+') || len(e.Programs) == 0 {
		fmt.Fprintf(f, "%"+string(verb), e.Error())
		return
	}
	for i, p := range e.Programs {
		if i > 0 {
			io.WriteString(f, "\n")
		}
		fmt.Fprintf(f, "%+v", p)
	}
}

// ProgramError is a program the kernel's verifier rejected. Error returns a
// summary, the verifier's complaint; %+v appends the full verifier log.
type ProgramError struct {
	Variant string
	Program string
	// Release is the kernel release the program was loaded on, if known.
	Release string
	Log     []string
	Err     error
}

func (e *ProgramError) Error() string {
	what := fmt.Sprintf("loading program %q", e.Program)
	if e.Variant != "" {
		what += fmt.Sprintf(" of variant %q", e.Variant)
	}
	if e.Release != "" {
		what += " on " + e.Release
	}
	if reason := verifierReason(e.Log); reason != "" {
		return what + ": " + reason
	}
	return fmt.Sprintf("%s: %v", what, e.Err)
}

func (e *ProgramError) Unwrap() error { return e.Err }

// Format implements fmt.Formatter: %+v appends the full verifier log.
func (e *ProgramError) Format(f fmt.State, verb rune) {
	if verb == 'q' {
		fmt.Fprintf(f, "%q", e.Error())
		return
	}
	io.WriteString(f, e.Error())
	if verb == 'v' && f.Flag('+') {
		for _, line := range e.Log {
			io.WriteString(f, "\n")
			io.WriteString(f, line)
		}
	}
}

// verifierReason picks the verifier's complaint out of its log: the last
// line that is neither an instruction, a source line nor a statistic.
// (cilium/ebpf's summary picks the last line, which recent kernels fill with
// statistics such as "stack depth 16".)
func verifierReason(log []string) string {
	for i := len(log) - 1; i >= 0; i-- {
		line := strings.TrimSpace(log[i])
		switch {
		case line == "",
			line[0] >= '0' && line[0] <= '9', // "24: (61) r1 = ..."
			line[0] == ';',                   // "; if (*v) @ datapath.c:47"
			strings.HasPrefix(line, "processed "),
			strings.HasPrefix(line, "verification time "),
			strings.HasPrefix(line, "stack depth "),
			strings.HasPrefix(line, "mark_read "):
			continue
		}
		return line
	}
	return ""
}
