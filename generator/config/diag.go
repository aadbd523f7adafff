package config

import (
	"fmt"
	"sort"
)

// Pos is a position in an input file; Line and Col are 1-based.
type Pos struct {
	File      string
	Line, Col int
}

func (p Pos) String() string {
	if p.Line == 0 {
		return p.File
	}
	return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Col)
}

// Severity of a Diagnostic.
type Severity string

// Severities.
const (
	Error   Severity = "error"
	Warning Severity = "warning"
)

// Diagnostic is one problem in the input, pointing at the offending key.
type Diagnostic struct {
	Pos      Pos      `json:"-"`
	Severity Severity `json:"severity"`
	Message  string   `json:"message"`
	Rule     string   `json:"rule"`
	// Related points at the other key of a conflict.
	Related *Pos `json:"-"`
}

// String formats file:line:col: error|warning: message [rule].
func (d Diagnostic) String() string {
	msg := d.Message
	if d.Related != nil && d.Related.Line != 0 {
		msg += fmt.Sprintf(" (see %s)", d.Related)
	}
	if d.Severity != "" {
		msg = string(d.Severity) + ": " + msg
	}
	return fmt.Sprintf("%s: %s [%s]", d.Pos, msg, d.Rule)
}

// Diagnostics is a sortable list.
type Diagnostics []Diagnostic

// HasErrors reports whether any diagnostic is an error.
func (ds Diagnostics) HasErrors() bool {
	for _, d := range ds {
		if d.Severity == Error {
			return true
		}
	}
	return false
}

// Sort orders by file, line, column, then message, and drops exact
// duplicates (a defaults key shared by many nodes is reported once per
// distinct message).
func (ds Diagnostics) Sort() Diagnostics {
	sort.SliceStable(ds, func(i, j int) bool {
		a, b := ds[i], ds[j]
		if a.Pos.File != b.Pos.File {
			return a.Pos.File < b.Pos.File
		}
		if a.Pos.Line != b.Pos.Line {
			return a.Pos.Line < b.Pos.Line
		}
		if a.Pos.Col != b.Pos.Col {
			return a.Pos.Col < b.Pos.Col
		}
		return a.String() < b.String()
	})
	out := ds[:0]
	for i, d := range ds {
		if i > 0 && d.String() == ds[i-1].String() {
			continue
		}
		out = append(out, d)
	}
	return out
}
