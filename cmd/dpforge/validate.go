package main

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/dpforge/dpforge/generator/config"
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
	fs := flagSet("validate", "validate [-o text|json] [--kernel VERSION] [-f FILE]... [FILE...]",
		"dpforge validate -f cluster.yaml\n  dpforge validate --kernel 5.10 cilium-config.yaml", stderr)
	out := outputFlag(fs)
	matrices := fs.StringArrayP("file", "f", nil, "feature matrix or Cilium ConfigMap; repeatable (files may also be given as arguments)")
	var kernel versionFlag
	fs.Var(&kernel, "kernel", "kernel version for a Cilium ConfigMap manifest")
	if code := fs.parse(args); code >= 0 {
		return code
	}
	files := append(*matrices, fs.Args()...)
	if len(files) == 0 {
		return fs.usageError("no input files")
	}
	var all config.Diagnostics
	for _, f := range files {
		_, diags, err := loadPlan(f, kernel.v, "")
		if err != nil {
			all = append(all, config.Diagnostic{Pos: config.Pos{File: f}, Severity: config.Error, Rule: "io", Message: err.Error()})
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
