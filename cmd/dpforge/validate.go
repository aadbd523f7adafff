package main

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/dpforge/dpforge/features/diag"
)

type jsonDiag struct {
	File     string   `json:"file"`
	Line     int      `json:"line"`
	Col      int      `json:"col"`
	Severity string   `json:"severity"`
	Message  string   `json:"message"`
	Rule     string   `json:"rule"`
	Related  string   `json:"related,omitempty"`
	Subjects []string `json:"subjects,omitempty"`
}

type jsonFile struct {
	File     string `json:"file"`
	Releases string `json:"releases"`
	Nodes    int    `json:"nodes"`
	Cells    int    `json:"matrix_cells"`
}

func runValidate(args []string, stdout, stderr io.Writer) int {
	fs := flagSet("validate", "validate [-o text|json] [-v] [--kernel KERNEL] [--cilium-version 1.X] [-f FILE]... [FILE...]",
		"dpforge validate -f cluster.yaml\n  dpforge validate --kernel 5.10 --cilium-version 1.16 cilium-config.yaml\n  dpforge validate --kernel rhel8 rendered-manifest.yaml", stderr)
	out := outputFlag(fs)
	matrices := fs.StringArrayP("file", "f", nil, "feature matrix, Cilium ConfigMap or rendered manifest; repeatable (files may also be given as arguments)")
	in := addInputFlags(fs, true)
	verbose := fs.BoolP("verbose", "v", false, "name every node of a grouped diagnostic and every option dpforge does not model")
	if code := fs.parse(args); code >= 0 {
		return code
	}
	files := append(*matrices, fs.Args()...)
	if len(files) == 0 {
		return fs.usageError("no input files")
	}
	var all diag.Diagnostics
	var results []jsonFile
	for _, f := range files {
		p, diags, err := loadPlan(f, in, "")
		if err != nil {
			all = append(all, diag.Diagnostic{Pos: diag.Position{File: f}, Severity: diag.Error, Rule: diag.RuleIO, Message: err.Error()})
			continue
		}
		all = append(all, diags...)
		if p != nil && len(p.Entries) > 0 {
			results = append(results, jsonFile{File: f, Releases: releases(p), Nodes: len(p.Nodes()), Cells: len(p.Entries) - len(p.Nodes())})
		}
	}
	all = all.Sort()
	if *out == "json" {
		shown := all.Group()
		list := make([]jsonDiag, 0, len(shown))
		for _, d := range shown {
			j := jsonDiag{File: d.Pos.File, Line: d.Pos.Line, Col: d.Pos.Col, Severity: string(d.Severity), Message: d.Message, Rule: d.Rule, Subjects: d.Subjects}
			if d.Related != nil {
				j.Related = d.Related.String()
			}
			list = append(list, j)
		}
		writeJSON(stdout, map[string]any{"valid": !all.HasErrors(), "diagnostics": list, "files": results})
	} else {
		printDiags(stdout, all, *verbose)
		for _, f := range results {
			what := plural(f.Nodes, "node")
			if f.Cells > 0 {
				what += " and " + plural(f.Cells, "matrix cell")
			}
			fmt.Fprintf(stdout, "%s: %s judged as %s\n", f.File, what, f.Releases)
		}
	}
	if all.HasErrors() {
		return exitProblems
	}
	return exitOK
}

func writeJSON(w io.Writer, v any) {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	enc.Encode(v)
}
