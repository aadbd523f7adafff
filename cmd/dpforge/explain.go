package main

import (
	"fmt"
	"io"

	"github.com/dpforge/dpforge/features"
	"github.com/dpforge/dpforge/generator/plan"
)

type explainJSON struct {
	Node     string              `json:"node"`
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
	fs := flagSet("explain", "explain [-o text|json] [--kernel VERSION] [--all] -f FILE [NODE...]  (or: explain FILE [NODE...])",
		"dpforge explain -f cluster.yaml worker-1", stderr)
	out := outputFlag(fs)
	matrix := matrixFlag(fs)
	var kernel versionFlag
	fs.Var(&kernel, "kernel", "kernel version for a Cilium ConfigMap manifest")
	all := fs.Bool("all", false, "include matrix cells, not only nodes")
	if code := fs.parse(args); code >= 0 {
		return code
	}
	file, nodes, ok := matrixArg(fs, *matrix)
	if !ok {
		return fs.usageError("no input file")
	}
	p, diags, err := loadPlan(file, kernel.v, "")
	if err != nil {
		fmt.Fprintf(stderr, "dpforge explain: %v\n", err)
		return exitProblems
	}
	for _, d := range diags {
		fmt.Fprintln(stderr, d)
	}
	if p == nil {
		return exitProblems
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
			writeExplain(stdout, e)
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
	j := explainJSON{Node: e.Name, Kernel: r.Kernel.String(), Variant: r.Variant.ID, CPU: r.Variant.CPU, Target: r.Variant.Target,
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

func writeExplain(w io.Writer, e *plan.Entry) {
	r := e.Resolution
	fmt.Fprintf(w, "Node %s: kernel %s, variant %s (-mcpu=%s, %s)\n", e.Name, r.Kernel, r.Variant.ID, r.Variant.CPU, r.Variant.Target)
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
