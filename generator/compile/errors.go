package compile

import (
	"fmt"
	"io"
	"strings"
)

// CompileError is a variant whose compilation failed. Error returns the first
// diagnostic; %+v prints clang's whole stderr.
type CompileError struct {
	Variant string
	// Stderr is everything clang and llvm-strip wrote to stderr, with the
	// temporary work directory removed from paths so that "datapath.c:12:3"
	// refers to the source tree.
	Stderr string
	Err    error
}

func (e *CompileError) Error() string {
	msg := fmt.Sprintf("compiling variant %q: %v", e.Variant, e.Err)
	if line := firstDiagnostic(e.Stderr); line != "" {
		msg += ": " + line
	}
	return msg
}

func (e *CompileError) Unwrap() error { return e.Err }

// Format implements fmt.Formatter: %+v appends the full stderr.
func (e *CompileError) Format(f fmt.State, verb rune) {
	if verb == 'q' {
		fmt.Fprintf(f, "%q", e.Error())
		return
	}
	io.WriteString(f, e.Error())
	if verb == 'v' && f.Flag('+') && e.Stderr != "" {
		io.WriteString(f, "\n")
		io.WriteString(f, strings.TrimRight(e.Stderr, "\n"))
	}
}

// firstDiagnostic returns the first line of clang's output that is an error,
// or else the first non-empty line.
func firstDiagnostic(stderr string) string {
	first := ""
	for line := range strings.Lines(stderr) {
		line = strings.TrimSpace(line)
		if strings.Contains(line, "error:") {
			return line
		}
		if first == "" {
			first = line
		}
	}
	return first
}

// NondeterministicError is returned when Options.VerifyCache is set and a
// fresh compile differs from the cached object of the same key.
type NondeterministicError struct {
	Variant         string
	Key             string
	Cached, Rebuilt string // sha256 of both objects
}

func (e *NondeterministicError) Error() string {
	return fmt.Sprintf("variant %q: rebuilding cache entry %s gave object sha256 %s, cached %s: the build is not reproducible",
		e.Variant, e.Key, e.Rebuilt, e.Cached)
}
