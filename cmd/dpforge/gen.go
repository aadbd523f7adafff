package main

import (
	"fmt"
	"io"

	"github.com/dpforge/dpforge/generator/atomicfile"
	"github.com/dpforge/dpforge/generator/header"
)

func runGen(args []string, stdout, stderr io.Writer) int {
	fs := flagSet("gen", "gen [--out DIR] [-o text|json] [--cilium-version 1.X] -f FILE  (or: gen FILE)", "dpforge gen --out out/headers -f cluster.yaml", stderr)
	dir := fs.String("out", "out/headers", "output directory")
	matrix := matrixFlag(fs)
	out := outputFlag(fs)
	in := addInputFlags(fs, false)
	if code := fs.parse(args); code >= 0 {
		return code
	}
	file, rest, ok := matrixArg(fs, *matrix)
	if !ok || len(rest) > 0 {
		return fs.usageError("want exactly one matrix file")
	}
	p, diags, err := loadPlan(file, in, "")
	if err != nil {
		fmt.Fprintf(stderr, "dpforge gen: %v\n", err)
		return exitProblems
	}
	printDiags(stderr, diags, false)
	if p == nil || diags.HasErrors() {
		fmt.Fprintln(stderr, "dpforge gen: the matrix is invalid; nothing written")
		return exitProblems
	}
	files, err := header.Files(p)
	if err != nil {
		fmt.Fprintf(stderr, "dpforge gen: %v\n", err)
		return exitProblems
	}
	m := make(map[string][]byte, len(files))
	for _, f := range files {
		m[f.Path] = f.Data
	}
	if err := atomicfile.WriteFiles(*dir, m); err != nil {
		fmt.Fprintf(stderr, "dpforge gen: %v\n", err)
		return exitProblems
	}
	if *out == "json" {
		writeJSON(stdout, map[string]any{"dir": *dir, "headers": len(files), "nodes": len(p.Nodes()), "variants": len(p.Variants), "releases": releases(p)})
		return exitOK
	}
	fmt.Fprintf(stdout, "wrote %s for %s and %s to %s, judged as %s\n", plural(len(files), "header"),
		plural(len(p.Nodes()), "node"), plural(len(p.Variants), "variant"), *dir, releases(p))
	return exitOK
}
