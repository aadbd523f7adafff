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
// nodes becomes one line, and unless verbose the notes about options
// dpforge does not model become one line per file.
func present(ds diag.Diagnostics, verbose bool) diag.Diagnostics {
	ds = ds.Group()
	if verbose {
		return ds
	}
	var out diag.Diagnostics
	unmodeled := map[string][]string{}
	var files []string
	for _, d := range ds {
		if d.Severity == diag.Info && d.Rule == diag.RuleUnmodeledOption {
			if _, seen := unmodeled[d.Pos.File]; !seen {
				files = append(files, d.Pos.File)
			}
			unmodeled[d.Pos.File] = append(unmodeled[d.Pos.File], d.Message)
			continue
		}
		out = append(out, d)
	}
	for _, f := range files {
		n := len(unmodeled[f])
		verb := "take"
		if n == 1 {
			verb = "takes"
		}
		out = append(out, diag.Diagnostic{Pos: diag.Position{File: f}, Severity: diag.Info, Rule: diag.RuleUnmodeledOption,
			Message: fmt.Sprintf("%s that Cilium knows but dpforge does not model %s no part in the checks (-v lists them)", plural(n, "option"), verb)})
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
