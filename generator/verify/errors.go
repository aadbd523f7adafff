package verify

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
