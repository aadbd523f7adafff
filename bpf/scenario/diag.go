package scenario

import (
	"github.com/dpforge/dpforge/features/diag"

	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Diagnostic is one problem in a scenario file: dpforge's one diagnostic
// type, always an error here.
type Diagnostic = diag.Diagnostic

// Rules of diagnostics (named in package diag).
const (
	ruleSyntax          = diag.RuleSyntax
	ruleUnknownKey      = diag.RuleUnknownKey
	ruleMissingKey      = diag.RuleMissingKey
	ruleDuplicate       = diag.RuleDuplicate
	ruleBadValue        = diag.RuleBadValue
	ruleBadAddress      = diag.RuleBadAddress
	ruleOutOfRange      = diag.RuleOutOfRange
	ruleUnknownProgram  = diag.RuleUnknownProgram
	ruleUnknownMap      = diag.RuleUnknownMap
	ruleUnknownField    = diag.RuleUnknownField
	ruleUnknownVariable = diag.RuleUnknownVariable
	ruleUnsupported     = diag.RuleUnsupported
	ruleRejected        = diag.RuleRejected
)

// Error is the error for a malformed scenario, returned by Parse, Load,
// LoadDir, Check and Run: every problem found, sorted by position. A
// scenario that is well formed but whose expectations fail is not an error;
// see [Result].
type Error struct {
	Diagnostics []Diagnostic
}

func (e *Error) Error() string {
	lines := make([]string, len(e.Diagnostics))
	for i, d := range e.Diagnostics {
		lines[i] = d.String()
	}
	return strings.Join(lines, "\n")
}

// diags collects the diagnostics of one file.
type diags struct {
	file string
	list []Diagnostic
}

func (d *diags) add(n *yaml.Node, rule, format string, args ...any) {
	dg := Diagnostic{Pos: diag.Position{File: d.file}, Severity: diag.Error, Rule: rule, Message: fmt.Sprintf(format, args...)}
	if n != nil {
		dg.Pos.Line, dg.Pos.Col = n.Line, n.Column
	}
	d.list = append(d.list, dg)
}

func (d *diags) addProblems(ps []problem) {
	for _, p := range ps {
		d.add(p.node, p.rule, "%s", p.msg)
	}
}

// err returns the collected diagnostics as an *Error, or nil.
func (d *diags) err() error {
	return errorOf(d.list)
}

func errorOf(list []Diagnostic) error {
	if len(list) == 0 {
		return nil
	}
	return &Error{Diagnostics: diag.Diagnostics(slices.Clone(list)).Sort()}
}

// problem is a diagnostic without a file, as found by code that works on
// YAML nodes alone.
type problem struct {
	node *yaml.Node
	rule string
	msg  string
}

// nodeError returns an error that yaml.v3 collects with its own errors,
// encoding the column and rule so that yamlDiagnostics can recover them.
func nodeError(n *yaml.Node, rule, format string, args ...any) error {
	return &yaml.TypeError{Errors: []string{nodeMessage(n, rule, format, args...)}}
}

func nodeMessage(n *yaml.Node, rule, format string, args ...any) string {
	return fmt.Sprintf("line %d: column %d: [%s] %s", n.Line, n.Column, rule, fmt.Sprintf(format, args...))
}

var (
	yamlLineRE     = regexp.MustCompile(`^(?:yaml: )?line (\d+): (?:column (\d+): )?(?:\[([a-z-]+)\] )?(.*)$`)
	yamlUnknownRE  = regexp.MustCompile(`^field (\S+) not found in type (\S+)$`)
	yamlUnmarshRE  = regexp.MustCompile("^cannot unmarshal !!(\\w+) `(.*)` into (\\S+)$")
	netipAddressRE = regexp.MustCompile(`^ParseAddr\("((?:[^"\\]|\\.)*)"\): (.*)$`)
)

// yamlDiagnostics turns an error from yaml.v3 into diagnostics. root is the
// document's node tree, used to place errors that carry no line.
func yamlDiagnostics(file string, err error, root *yaml.Node) []Diagnostic {
	var msgs []string
	if te, ok := err.(*yaml.TypeError); ok {
		msgs = te.Errors
	} else {
		msgs = []string{err.Error()}
	}
	var out []Diagnostic
	for _, m := range msgs {
		d := Diagnostic{Pos: diag.Position{File: file}, Severity: diag.Error, Rule: ruleBadValue, Message: m}
		if sm := yamlLineRE.FindStringSubmatch(m); sm != nil {
			d.Pos.Line, _ = strconv.Atoi(sm[1])
			d.Pos.Col, _ = strconv.Atoi(sm[2])
			d.Message = sm[4]
			if sm[3] != "" {
				d.Rule = sm[3]
			} else if strings.HasPrefix(m, "yaml: ") {
				d.Rule = ruleSyntax
			}
		} else if sm := netipAddressRE.FindStringSubmatch(m); sm != nil {
			// netip's UnmarshalText errors carry the value but no line:
			// find the value in the document.
			value, _ := strconv.Unquote(`"` + sm[1] + `"`)
			d.Rule, d.Message = ruleBadAddress, fmt.Sprintf("bad IP address %q: %s", value, sm[2])
			if n := findScalar(root, value); n != nil {
				d.Pos.Line, d.Pos.Col = n.Line, n.Column
			}
		} else if strings.HasPrefix(m, "yaml: ") {
			d.Rule, d.Message = ruleSyntax, strings.TrimPrefix(m, "yaml: ")
		}
		if sm := yamlUnknownRE.FindStringSubmatch(d.Message); sm != nil {
			d.Rule = ruleUnknownKey
			d.Message = unknownKeyMessage(sm[1], sm[2])
			if d.Pos.Col == 0 {
				d.Pos.Col = keyColumn(root, d.Pos.Line, sm[1])
			}
		} else if sm := yamlUnmarshRE.FindStringSubmatch(d.Message); sm != nil {
			if d.Pos.Col == 0 {
				d.Pos.Col = scalarColumn(root, d.Pos.Line, sm[2])
			}
			d.Message = fmt.Sprintf("cannot use %s %q as %s", sm[1], sm[2], sm[3])
			if strings.HasPrefix(sm[3], "uint") || strings.HasPrefix(sm[3], "int") {
				if _, err := strconv.ParseInt(sm[2], 0, 64); err == nil || strings.HasPrefix(sm[2], "-") {
					d.Rule = ruleOutOfRange
					d.Message = fmt.Sprintf("value %s out of range for %s", sm[2], sm[3])
				}
			}
		}
		out = append(out, d)
	}
	return out
}

// unknownKeyMessage rewrites yaml.v3's "field x not found in type T".
func unknownKeyMessage(key, goType string) string {
	keys := yamlKeys(goType)
	msg := fmt.Sprintf("unknown key %q", key)
	if len(keys) == 0 {
		return msg
	}
	if s := suggest(key, keys); s != "" {
		msg += fmt.Sprintf(", did you mean %q?", s)
	}
	return msg + " (want one of: " + strings.Join(keys, ", ") + ")"
}

// findScalar returns the first scalar node in n whose value is v.
func findScalar(n *yaml.Node, v string) *yaml.Node {
	if n == nil {
		return nil
	}
	if n.Kind == yaml.ScalarNode && n.Value == v {
		return n
	}
	for _, c := range n.Content {
		if f := findScalar(c, v); f != nil {
			return f
		}
	}
	return nil
}

// scalarColumn finds the column of a scalar with value v on line in n, or 0.
func scalarColumn(n *yaml.Node, line int, v string) int {
	if n == nil {
		return 0
	}
	if n.Kind == yaml.ScalarNode && n.Line == line && n.Value == v {
		return n.Column
	}
	for _, c := range n.Content {
		if col := scalarColumn(c, line, v); col != 0 {
			return col
		}
	}
	return 0
}

// keyColumn finds the column of mapping key k on line in n, or 0.
func keyColumn(n *yaml.Node, line int, k string) int {
	if n == nil {
		return 0
	}
	if n.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(n.Content); i += 2 {
			if c := n.Content[i]; c.Line == line && c.Value == k {
				return c.Column
			}
		}
	}
	for _, c := range n.Content {
		if col := keyColumn(c, line, k); col != 0 {
			return col
		}
	}
	return 0
}

// suggest returns the candidate closest to s, if it is close enough to be
// a likely typo.
func suggest(s string, candidates []string) string { return diag.Closest(s, candidates) }

// nameList formats names for "want one of" messages, eliding long lists.
func nameList(names []string) string {
	const max = 12
	if len(names) > max {
		return strings.Join(names[:max], ", ") + fmt.Sprintf(", ... (%d more)", len(names)-max)
	}
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}

// unknownName formats an "unknown X" message with a suggestion and the known
// names.
func unknownName(what, name string, known []string) string {
	msg := fmt.Sprintf("unknown %s %q", what, name)
	if s := suggest(name, known); s != "" {
		msg += fmt.Sprintf(", did you mean %q?", s)
	}
	return msg + " (known: " + nameList(known) + ")"
}
