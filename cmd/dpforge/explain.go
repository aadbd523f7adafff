package main

import (
	"fmt"
	"io"

	"github.com/dpforge/dpforge/features"
	"github.com/dpforge/dpforge/generator/plan"
)

type explainJSON struct {
	Node     string              `json:"node"`
	Cilium   string              `json:"cilium_version"`
	Kernel   string              `json:"kernel"`
	Variant  string              `json:"variant"`
	CPU      string              `json:"cpu"`
	Target   string              `json:"target"`
	Status   map[string]string   `json:"status"`
	Features []features.Decision `json:"features"`
	Defines  map[string]string   `json:"defines"`
	Values   map[string]string   `json:"values"`
}

func runExplain(args []string, stdout, stderr io.Writer) int {
	fs := flagSet("explain", "explain [-o text|json] [-v] [--kernel KERNEL] [--cilium-version 1.X] [--all] -f FILE [NODE...]  (or: explain FILE [NODE...])",
		"dpforge explain -f cluster.yaml worker-1\n  dpforge explain --kernel 6.1 --cilium-version 1.14 cilium-config.yaml", stderr)
	out := outputFlag(fs)
	matrix := matrixFlag(fs)
	in := addInputFlags(fs, true)
	verbose := fs.BoolP("verbose", "v", false, "name every node of a grouped diagnostic and every option dpforge does not model")
	all := fs.Bool("all", false, "include matrix cells, not only nodes")
	if code := fs.parse(args); code >= 0 {
		return code
	}
	file, nodes, ok := matrixArg(fs, *matrix)
	if !ok {
		return fs.usageError("no input file")
	}
	p, diags, err := loadPlan(file, in, "")
	if err != nil {
		fmt.Fprintf(stderr, "dpforge explain: %v\n", err)
		return exitProblems
	}
	printDiags(stderr, diags, *verbose)
	if p == nil {
		return exitProblems
	}
	if len(p.Entries) > 0 {
		fmt.Fprintf(stderr, "%s: judged as %s\n", p.Matrix.File, releases(p))
	}
	entries, code := selectEntries(p, nodes, *all, stderr)
	if code >= 0 {
		return code
	}
	if *out == "json" {
		list := make([]explainJSON, 0, len(entries))
		for _, e := range entries {
			list = append(list, explainEntry(e))
		}
		writeJSON(stdout, list)
	} else {
		for i, e := range entries {
			if i > 0 {
				fmt.Fprintln(stdout)
			}
			writeExplain(stdout, e, *verbose)
		}
	}
	if diags.HasErrors() {
		return exitProblems
	}
	return exitOK
}

func selectEntries(p *plan.Plan, names []string, all bool, stderr io.Writer) ([]*plan.Entry, int) {
	if len(names) == 0 {
		if all {
			return p.Entries, -1
		}
		return p.Nodes(), -1
	}
	var out []*plan.Entry
	for _, n := range names {
		found := false
		for _, e := range p.Entries {
			if e.Name == n {
				out = append(out, e)
				found = true
			}
		}
		if !found {
			fmt.Fprintf(stderr, "dpforge explain: no node %q in %s\n", n, p.Matrix.File)
			return nil, exitUsage
		}
	}
	return out, -1
}

func explainEntry(e *plan.Entry) explainJSON {
	r := e.Resolution
	j := explainJSON{Node: e.Name, Cilium: r.Release.String(), Kernel: r.Kernel.String(), Variant: r.Variant.ID, CPU: r.Variant.CPU, Target: r.Variant.Target,
		Status: map[string]string{}, Features: r.Decisions, Defines: map[string]string{}, Values: map[string]string{}}
	for _, s := range r.Status {
		j.Status[s.Key] = s.Value
	}
	for _, d := range r.Defines() {
		j.Defines[d.Name] = d.Value
	}
	for _, v := range r.Values {
		j.Values[v.Var] = v.Value
	}
	return j
}

func writeExplain(w io.Writer, e *plan.Entry, verbose bool) {
	r := e.Resolution
	fmt.Fprintf(w, "Node %s: Cilium %s, kernel %s, variant %s (-mcpu=%s, %s)\n", e.Name, r.Release, r.Kernel, r.Variant.ID, r.Variant.CPU, r.Variant.Target)
	if verbose {
		// What the kernel is taken to have beyond its version number, and
		// on whose word.
		for _, c := range sortedKeys(r.Kernel.Probed) {
			has, how := r.Kernel.Has(c)
			fmt.Fprintf(w, "  kernel %s %s: %t, %s\n", r.Kernel.Name, c, has, how)
		}
	}
	for _, s := range r.Status {
		fmt.Fprintf(w, "  %-30s %s\n", s.Key+":", s.Value)
	}
	var notes []features.Decision
	for _, d := range r.Decisions {
		if d.State == features.Downgraded || d.State == features.Failed {
			notes = append(notes, d)
		}
	}
	if len(notes) > 0 {
		fmt.Fprintln(w, "  Decisions:")
		for _, d := range notes {
			fmt.Fprintf(w, "    %s %s: %s\n", d.Feature, d.State, d.Reason)
		}
	}
}
