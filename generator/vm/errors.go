package vm

import (
	"errors"
	"fmt"
	"io"
	"strings"
)

// ErrTimeout is wrapped by a RunError when the machine did not finish in
// Options.Timeout.
var ErrTimeout = errors.New("virtual machine timed out")

// RunError is a virtual machine that did not deliver its results: qemu
// failed, the guest hung or the agent died. Error returns a summary; %+v
// appends the tail of the serial console, where the kernel's last words are.
type RunError struct {
	// Release is the kernel that was booted.
	Release string
	Err     error
	// Console is the end of the serial console output (records removed).
	Console string
}

func (e *RunError) Error() string {
	return fmt.Sprintf("running kernel %s: %v", e.Release, e.Err)
}

func (e *RunError) Unwrap() error { return e.Err }

// Format implements fmt.Formatter: %+v appends the console tail.
func (e *RunError) Format(f fmt.State, verb rune) {
	if verb == 'q' {
		fmt.Fprintf(f, "%q", e.Error())
		return
	}
	io.WriteString(f, e.Error())
	if verb == 'v' && f.Flag('+') && e.Console != "" {
		io.WriteString(f, "\nconsole (last lines):\n")
		io.WriteString(f, strings.TrimRight(e.Console, "\n"))
	}
}

// ObjectError is an object the agent could not try at all (it did not
// parse, a requested program is missing).
type ObjectError struct {
	Object  string
	Release string
	Err     error
}

func (e *ObjectError) Error() string {
	return fmt.Sprintf("verifying object %q on %s: %v", e.Object, e.Release, e.Err)
}

func (e *ObjectError) Unwrap() error { return e.Err }
