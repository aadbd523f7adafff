package diag

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Position is a place in an input file. Line and Col are 1-based; a zero
// Line means the file as a whole.
type Position struct {
	File      string
	Line, Col int
}

func (p Position) String() string {
	switch {
	case p.Line == 0:
		return p.File
	case p.Col == 0:
		return p.File + ":" + strconv.Itoa(p.Line)
	}
	return p.File + ":" + strconv.Itoa(p.Line) + ":" + strconv.Itoa(p.Col)
}

// Compare orders positions by file, line and column.
func (p Position) Compare(o Position) int {
	return cmp.Or(cmp.Compare(p.File, o.File), cmp.Compare(p.Line, o.Line), cmp.Compare(p.Col, o.Col))
}

// Severity says whether a diagnostic makes the input invalid.
type Severity string

// Severities. Only Error makes an input invalid.
const (
	Error   Severity = "error"
	Warning Severity = "warning"
	Info    Severity = "info"
)

// Diagnostic is one finding about the input.
type Diagnostic struct {
	Pos      Position
	Severity Severity
	Message  string
	Rule     string
	// Related points at the other key of a conflict.
	Related *Position
	// Subjects are the nodes or matrix cells the finding is about ("" or
	// none: the file itself). Group merges the same finding about many
	// subjects into one diagnostic.
	Subjects []string
}

// String formats "file:line:col: error: message [rule]" with at most
// DefaultNames subject names.
func (d Diagnostic) String() string { return d.Format(DefaultNames) }

// DefaultNames is how many subjects a grouped diagnostic names by default.
const DefaultNames = 3

// Format is String with at most names subject names (names < 0: all).
func (d Diagnostic) Format(names int) string {
	var b strings.Builder
	if s := d.Pos.String(); s != "" {
		b.WriteString(s)
		b.WriteString(": ")
	}
	b.WriteString(string(d.Severity))
	b.WriteString(": ")
	if subj := subjects(d.Subjects, names); subj != "" {
		b.WriteString(subj)
		b.WriteString(": ")
	}
	b.WriteString(d.Message)
	if d.Related != nil && d.Related.Line != 0 {
		fmt.Fprintf(&b, " (see %s)", d.Related)
	}
	fmt.Fprintf(&b, " [%s]", d.Rule)
	return b.String()
}

// subjects renders `node "a"`, or for many "3 nodes (a, b, c)" and
// "1200 nodes (a, b, c and 1197 more)".
func subjects(list []string, names int) string {
	switch len(list) {
	case 0:
		return ""
	case 1:
		return subject(list[0])
	}
	shown := list
	if names >= 0 && len(list) > names {
		shown = list[:names]
	}
	cells := 0
	for _, s := range list {
		if strings.HasPrefix(s, "matrix[") {
			cells++
		}
	}
	what := "nodes and matrix cells"
	switch cells {
	case 0:
		what = "nodes"
	case len(list):
		what = "matrix cells"
	}
	text := strings.Join(shown, ", ")
	if more := len(list) - len(shown); more > 0 {
		text += fmt.Sprintf(" and %d more", more)
	}
	return fmt.Sprintf("%d %s (%s)", len(list), what, text)
}

func subject(s string) string {
	if s == "" || strings.HasPrefix(s, "matrix[") {
		return s
	}
	return "node " + strconv.Quote(s)
}

// Diagnostics is a list of findings.
type Diagnostics []Diagnostic

// HasErrors reports whether any diagnostic is an error.
func (ds Diagnostics) HasErrors() bool {
	return slices.ContainsFunc(ds, func(d Diagnostic) bool { return d.Severity == Error })
}

// Count returns how many diagnostics have severity s.
func (ds Diagnostics) Count(s Severity) int {
	n := 0
	for _, d := range ds {
		if d.Severity == s {
			n++
		}
	}
	return n
}

// Sort orders by position, then severity, subjects, message and rule, and
// drops exact duplicates (a defaults key shared by many nodes is reported
// once per distinct message).
func (ds Diagnostics) Sort() Diagnostics {
	slices.SortStableFunc(ds, compare)
	return slices.CompactFunc(ds, func(a, b Diagnostic) bool { return compare(a, b) == 0 })
}

func compare(a, b Diagnostic) int {
	if c := a.Pos.Compare(b.Pos); c != 0 {
		return c
	}
	// The order of the rendered line: severity, subjects, message, rule.
	if c := cmp.Or(cmp.Compare(a.Severity, b.Severity), slices.Compare(a.Subjects, b.Subjects),
		cmp.Compare(a.Message, b.Message), cmp.Compare(a.Rule, b.Rule)); c != 0 {
		return c
	}
	switch {
	case a.Related == nil && b.Related == nil:
		return 0
	case a.Related == nil:
		return -1
	case b.Related == nil:
		return 1
	}
	return a.Related.Compare(*b.Related)
}

// Group merges diagnostics that say the same thing (severity, rule,
// message and file) about different subjects into one, at the first one's
// position, with the subjects in order. Diagnostics about no subject are
// kept as they are. The result is sorted.
func (ds Diagnostics) Group() Diagnostics {
	type key struct {
		file      string
		sev       Severity
		rule, msg string
	}
	index := map[key]int{}
	var out Diagnostics
	for _, d := range ds.Sort() {
		if len(d.Subjects) == 0 {
			out = append(out, d)
			continue
		}
		// The related position is left out of the key: it is often the
		// subject's own kernel line, and the first one stands for all.
		k := key{d.Pos.File, d.Severity, d.Rule, d.Message}
		if i, ok := index[k]; ok {
			out[i].Subjects = append(out[i].Subjects, d.Subjects...)
			continue
		}
		d.Subjects = slices.Clone(d.Subjects)
		index[k] = len(out)
		out = append(out, d)
	}
	return out
}
