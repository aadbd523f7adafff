package main

import (
	"fmt"
	"io"
	"os"

	"github.com/dpforge/dpforge/features/probe"
	"github.com/dpforge/dpforge/generator/atomicfile"
	"github.com/dpforge/dpforge/generator/config"
)

func runProbe(args []string, stdout, stderr io.Writer) int {
	fs := flagSet("probe", "probe [--out FILE]",
		"dpforge probe --out probes/node-a.yaml   # then: kernels: {node-a: {probe: probes/node-a.yaml}}", stderr)
	outFile := fs.String("out", "", "write the probe file here instead of stdout")
	fs.VarP(movedFlag("-o is the output format in every command; write the probe file with --out FILE"), "output", "o", "")
	fs.MarkHidden("output")
	if code := fs.parse(args); code >= 0 {
		return code
	}
	if fs.NArg() > 0 {
		return fs.usageError("unexpected arguments %q", fs.Args())
	}
	if os.Geteuid() != 0 {
		fmt.Fprintln(stderr, "dpforge probe: warning: not root; BPF probes may be inconclusive and fall back to documented minimums")
	}
	r, err := probe.Run()
	if err != nil {
		fmt.Fprintf(stderr, "dpforge probe: %v\n", err)
		return exitProblems
	}
	pf := &config.ProbeFile{Release: r.Release, Version: r.Version.String(), Arch: probe.Arch(), Capabilities: map[string]bool{}}
	for c, ok := range r.Capabilities {
		pf.Capabilities[string(c)] = ok
	}
	for _, c := range sortedKeys(r.Inconclusive) {
		fmt.Fprintf(stderr, "dpforge probe: %s inconclusive: %s\n", c, r.Inconclusive[c])
	}
	data, err := pf.Marshal()
	if err != nil {
		fmt.Fprintf(stderr, "dpforge probe: %v\n", err)
		return exitProblems
	}
	if *outFile == "" {
		stdout.Write(data)
		return exitOK
	}
	if err := atomicfile.WriteFile(*outFile, data, 0o644); err != nil {
		fmt.Fprintf(stderr, "dpforge probe: %v\n", err)
		return exitProblems
	}
	return exitOK
}
