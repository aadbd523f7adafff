// Package errlist joins the errors of the generator's steps (every variant
// that failed to compile, every program a kernel rejected) into one error
// that still prints each of them in full with %+v, and splits it again.
package errlist

import (
	"fmt"
	"io"
	"strings"
)

// Flatten returns the individual errors of a joined error (one made by Join
// or errors.Join, nested or not), so that a caller can print each with %+v.
func Flatten(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, Flatten(e)...)
		}
		return out
	}
	return []error{err}
}

// Join is errors.Join whose %+v formats every error with %+v, so that
// fmt.Printf("%+v", err) on what a build or a verification returns shows
// every compiler stderr and verifier log. It returns nil if every error is
// nil.
func Join(errs ...error) error {
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
