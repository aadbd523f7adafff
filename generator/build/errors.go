package build

import (
	"fmt"
	"io"
	"strings"
	"syscall"
)

// ErrNotPermitted is wrapped by Verify when the kernel refuses to load
// programs for lack of privileges (EPERM). errors.Is(err, syscall.EPERM)
// holds for it too.
var ErrNotPermitted = fmt.Errorf("loading BPF programs needs root (CAP_BPF, CAP_SYS_ADMIN): %w", syscall.EPERM)

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

// APIMismatchError reports a variant whose program, map or variable names
// differ from those of the reference variant (the first one by id).
type APIMismatchError struct {
	Variant   string
	Reference string
	// Missing and Extra are names like "program dp_egress", relative to the
	// reference.
	Missing, Extra []string
}

func (e *APIMismatchError) Error() string {
	var parts []string
	if len(e.Missing) > 0 {
		parts = append(parts, "missing "+strings.Join(e.Missing, ", "))
	}
	if len(e.Extra) > 0 {
		parts = append(parts, "extra "+strings.Join(e.Extra, ", "))
	}
	return fmt.Sprintf("variant %q does not have the API of variant %q (the loader needs the same names in every variant): %s",
		e.Variant, e.Reference, strings.Join(parts, "; "))
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

// VerifyError is a program the kernel's verifier rejected. Error returns a
// summary; %+v prints the full verifier log.
type VerifyError struct {
	Variant string
	Program string
	// Release is the kernel release the program was loaded on.
	Release string
	Log     []string
	Err     error
}

func (e *VerifyError) Error() string {
	msg := fmt.Sprintf("verifying program %q of variant %q on %s: %v", e.Program, e.Variant, e.Release, e.Err)
	if reason := verifierReason(e.Log); reason != "" {
		msg = fmt.Sprintf("verifying program %q of variant %q on %s: %s", e.Program, e.Variant, e.Release, reason)
	}
	return msg
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

func (e *VerifyError) Unwrap() error { return e.Err }

// Format implements fmt.Formatter: %+v appends the full verifier log.
func (e *VerifyError) Format(f fmt.State, verb rune) {
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

// Errors flattens the joined error returned by Build or Verify into its
// individual errors (CompileError, APIMismatchError, VerifyError, ...), so a
// caller can print each with %+v.
func Errors(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, Errors(e)...)
		}
		return out
	}
	return []error{err}
}

// join is errors.Join whose %+v formats every error with %+v, so that
// fmt.Printf("%+v", err) on what Build returns shows every stderr and log.
func join(errs ...error) error {
	var nonNil []error
	for _, err := range errs {
		if err != nil {
			nonNil = append(nonNil, err)
		}
	}
	if len(nonNil) == 0 {
		return nil
	}
	return &joinError{nonNil}
}

type joinError struct{ errs []error }

func (e *joinError) Error() string {
	var b strings.Builder
	for i, err := range e.errs {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(err.Error())
	}
	return b.String()
}

func (e *joinError) Unwrap() []error { return e.errs }

func (e *joinError) Format(f fmt.State, verb rune) {
	if verb == 'q' {
		fmt.Fprintf(f, "%q", e.Error())
		return
	}
	for i, err := range e.errs {
		if i > 0 {
			io.WriteString(f, "\n")
		}
		if verb == 'v' && f.Flag('+') {
			fmt.Fprintf(f, "%+v", err)
		} else {
			io.WriteString(f, err.Error())
		}
	}
}
