package main

import (
	"fmt"
	"io"

	"github.com/dpforge/dpforge/generator/atomicfile"
	"github.com/dpforge/dpforge/generator/header"
)

func runGen(args []string, stdout, stderr io.Writer) int {
	fs := flagSet("gen", "gen [-o DIR] [--cilium-version 1.X] FILE", "dpforge gen -o out/headers cluster.yaml", stderr)
	dir := fs.StringP("out", "o", "out/headers", "output directory")
	in := addInputFlags(fs, false)
	if code := parseFlags(fs, args); code >= 0 {
		return code
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(stderr, "dpforge gen: want exactly one matrix file")
		fs.Usage()
		return exitUsage
	}
	p, diags, err := loadPlan(fs.Arg(0), in, "")
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
	fmt.Fprintf(stdout, "wrote %s for %s and %s to %s, judged as %s\n", plural(len(files), "header"),
		plural(len(p.Nodes()), "node"), plural(len(p.Variants), "variant"), *dir, releases(p))
	return exitOK
}
