package main

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/dpforge/dpforge/features/diag"
)

type jsonDiag struct {
	File     string `json:"file"`
	Line     int    `json:"line"`
	Col      int    `json:"col"`
	Severity string `json:"severity"`
	Message  string `json:"message"`
	Rule     string `json:"rule"`
	Related  string `json:"related,omitempty"`
}

func runValidate(args []string, stdout, stderr io.Writer) int {
	fs := flagSet("validate", "validate [-o text|json] [--kernel VERSION] FILE...",
		"dpforge validate cluster.yaml\n  dpforge validate --kernel 5.10 cilium-config.yaml", stderr)
	out := outputFlag(fs)
	var kernel versionFlag
	fs.Var(&kernel, "kernel", "kernel version for a Cilium ConfigMap manifest")
	if code := parseFlags(fs, args); code >= 0 {
		return code
	}
	if fs.NArg() == 0 {
		fmt.Fprintln(stderr, "dpforge validate: no input files")
		fs.Usage()
		return exitUsage
	}
	var all diag.Diagnostics
	for _, f := range fs.Args() {
		_, diags, err := loadPlan(f, kernel.v, "")
		if err != nil {
			all = append(all, diag.Diagnostic{Pos: diag.Position{File: f}, Severity: diag.Error, Rule: diag.RuleIO, Message: err.Error()})
			continue
		}
		all = append(all, diags...)
	}
	all = all.Sort()
	if *out == "json" {
		list := make([]jsonDiag, 0, len(all))
		for _, d := range all {
			j := jsonDiag{File: d.Pos.File, Line: d.Pos.Line, Col: d.Pos.Col, Severity: string(d.Severity), Message: d.Message, Rule: d.Rule}
			if d.Related != nil {
				j.Related = d.Related.String()
			}
			list = append(list, j)
		}
		writeJSON(stdout, map[string]any{"valid": !all.HasErrors(), "diagnostics": list})
	} else {
		for _, d := range all {
			fmt.Fprintln(stdout, d)
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
