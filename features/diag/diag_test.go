package diag

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestFormat(t *testing.T) {
	rel := Position{"m.yaml", 3, 3}
	for _, tc := range []struct {
		d    Diagnostic
		want string
	}{
		{Diagnostic{Pos: Position{"m.yaml", 7, 5}, Severity: Error, Message: "bad", Rule: RuleConflict, Related: &rel},
			"m.yaml:7:5: error: bad (see m.yaml:3:3) [conflict]"},
		{Diagnostic{Pos: Position{File: "m.yaml"}, Severity: Warning, Message: "w", Rule: RuleDowngrade, Subjects: []string{"a"}},
			`m.yaml: warning: node "a": w [downgrade]`},
		{Diagnostic{Severity: Info, Message: "i", Rule: RuleUnmodeledOption, Subjects: []string{"matrix[kernel=lts]"}},
			"info: matrix[kernel=lts]: i [unmodeled-option]"},
		{Diagnostic{Pos: Position{"f", 1, 1}, Severity: Warning, Message: "w", Rule: "r", Subjects: []string{"a", "b", "c", "d", "e"}},
			"f:1:1: warning: 5 nodes (a, b, c and 2 more): w [r]"},
		{Diagnostic{Pos: Position{"f", 1, 1}, Severity: Warning, Message: "w", Rule: "r", Subjects: []string{"matrix[k=a]", "matrix[k=b]"}},
			"f:1:1: warning: 2 matrix cells (matrix[k=a], matrix[k=b]): w [r]"},
		{Diagnostic{Pos: Position{"f", 1, 1}, Severity: Warning, Message: "w", Rule: "r", Subjects: []string{"a", "matrix[k=b]"}},
			"f:1:1: warning: 2 nodes and matrix cells (a, matrix[k=b]): w [r]"},
	} {
		if got := tc.d.String(); got != tc.want {
			t.Errorf("got  %q\nwant %q", got, tc.want)
		}
	}
}

func TestSortGroup(t *testing.T) {
	var ds Diagnostics
	for i, n := range []string{"n1", "n2", "n3", "n4"} {
		ds = append(ds, Diagnostic{Pos: Position{"f", 10 + i, 3}, Severity: Warning, Rule: RuleDowngrade, Message: "same", Subjects: []string{n}})
	}
	ds = append(ds,
		Diagnostic{Pos: Position{"f", 2, 1}, Severity: Error, Rule: RuleConflict, Message: "x"},
		Diagnostic{Pos: Position{"f", 2, 1}, Severity: Error, Rule: RuleConflict, Message: "x"},
		Diagnostic{Pos: Position{"f", 12, 3}, Severity: Warning, Rule: RuleDowngrade, Message: "other", Subjects: []string{"n3"}})
	g := ds.Group()
	var got []string
	for _, d := range g {
		got = append(got, d.Format(-1))
	}
	want := []string{
		"f:2:1: error: x [conflict]",
		"f:10:3: warning: 4 nodes (n1, n2, n3, n4): same [downgrade]",
		`f:12:3: warning: node "n3": other [downgrade]`,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if !g.HasErrors() || g.Count(Warning) != 2 {
		t.Errorf("HasErrors/Count wrong for %v", got)
	}
}

func TestClosest(t *testing.T) {
	cands := []string{"enable-bpf-masquerade", "enable-ipv4", "enable-ipv6", "tunnel"}
	for in, want := range map[string]string{
		"enable-bpf-masqurade":  "enable-bpf-masquerade",
		"enable-ipv5":           "enable-ipv4",
		"tunel":                 "tunnel",
		"routing-mode":          "",
		strings.Repeat("x", 40): "",
	} {
		if got := Closest(in, cands); got != want {
			t.Errorf("Closest(%q) = %q, want %q", in, got, want)
		}
	}
}
