package main

import (
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/dpforge/dpforge/features"
	"github.com/dpforge/dpforge/features/diag"
	"github.com/dpforge/dpforge/generator/plan"
)

// present prepares diagnostics for people: the same finding about many
// nodes becomes one line, and unless verbose the notes about options dpforge
// does not model (that it has no part in the checks, or that the release
// deprecated or dropped it) become one line per file.
func present(ds diag.Diagnostics, verbose bool) diag.Diagnostics {
	ds = ds.Group()
	if verbose {
		return ds
	}
	type notes struct{ unmodeled, release int }
	perFile := map[string]*notes{}
	var files []string
	var out diag.Diagnostics
	for _, d := range ds {
		folded := d.Severity == diag.Info && (d.Rule == diag.RuleUnmodeledOption || d.Rule == diag.RuleNotInRelease || d.Rule == diag.RuleDeprecated)
		if !folded {
			out = append(out, d)
			continue
		}
		n := perFile[d.Pos.File]
		if n == nil {
			n = &notes{}
			perFile[d.Pos.File] = n
			files = append(files, d.Pos.File)
		}
		if d.Rule == diag.RuleUnmodeledOption {
			n.unmodeled++
		} else {
			n.release++
		}
	}
	for _, f := range files {
		n := perFile[f]
		verb := "take"
		if n.unmodeled == 1 {
			verb = "takes"
		}
		msg := fmt.Sprintf("%s that Cilium knows but dpforge does not model %s no part in the checks", plural(n.unmodeled, "option"), verb)
		if n.release > 0 {
			msg += fmt.Sprintf("; %s about what the release does with them", plural(n.release, "note"))
		}
		out = append(out, diag.Diagnostic{Pos: diag.Position{File: f}, Severity: diag.Info, Rule: diag.RuleUnmodeledOption, Message: msg + " (-v lists them)"})
	}
	return out.Sort()
}

// printDiags writes diagnostics one a line, naming all subjects when verbose.
func printDiags(w io.Writer, ds diag.Diagnostics, verbose bool) {
	names := diag.DefaultNames
	if verbose {
		names = -1
	}
	for _, d := range present(ds, verbose) {
		fmt.Fprintln(w, d.Format(names))
	}
}

// releases says which Cilium releases a plan was judged as, and where they
// come from: "Cilium 1.14 (from the agent image quay.io/cilium/cilium:v1.14.5)",
// "Cilium 1.14, 1.16", or "Cilium 1.20 (assumed: the newest modeled release;
// set --cilium-version)".
func releases(p *plan.Plan) string {
	seen := map[features.Release]bool{}
	named := false
	for _, e := range p.Entries {
		seen[e.Resolution.Release] = true
		if _, ok := e.Config.Release(); ok {
			named = true
		}
	}
	list := make([]features.Release, 0, len(seen))
	for r := range seen {
		list = append(list, r)
	}
	sort.Slice(list, func(i, j int) bool { return list[i].Compare(list[j]) < 0 })
	words := make([]string, len(list))
	for i, r := range list {
		words[i] = r.String()
	}
	s := "Cilium " + strings.Join(words, ", ")
	switch {
	case p.Matrix.ReleaseFrom != "":
		s += " (from " + p.Matrix.ReleaseFrom + ")"
	case !named:
		s += " (assumed: the newest modeled release; set --cilium-version)"
	}
	return s
}
