package main

import (
	"fmt"
	"io"

	"github.com/dpforge/dpforge/bpf/loader/node"
)

func runMap(args []string, stdout, stderr io.Writer) int {
	var c common
	fs := flagSet("map", "map list NAME | map get NAME KEY",
		"dpload map list dp_ipcache\n  dpload map get dp_ipcache 10.0.2.1/32\n  dpload map get dp_services addr=10.96.0.10,dport=80,proto=6", stderr, &c)
	fs.StringVar(&c.build, "build", "", "build whose BTF decodes the map (default: the attached one)")
	if code, ok := c.parse(args); !ok {
		return code
	}
	sub := fs.Arg(0)
	if !(sub == "list" && fs.NArg() == 2) && !(sub == "get" && fs.NArg() == 3) {
		fmt.Fprintln(stderr, "dpload map: want: map list NAME | map get NAME KEY")
		return exitUsage
	}
	n := c.node()
	r, err := n.LoadRecord()
	if err != nil {
		return fail(stderr, "map", err)
	}
	if c.build == "" && r.Source != "embedded" {
		c.build = r.Source
	}
	b, err := c.openBuild()
	if err != nil {
		return fail(stderr, "map", err)
	}
	v, err := n.OpenMap(b, r.Variant, fs.Arg(1))
	if err != nil {
		return fail(stderr, "map", err)
	}
	defer v.Close()
	var entries []node.Entry
	if sub == "list" {
		entries, err = v.List()
	} else {
		var e node.Entry
		e, err = v.Get(fs.Arg(2))
		entries = []node.Entry{e}
	}
	if err != nil {
		return fail(stderr, "map "+sub, err)
	}
	if c.output == "json" {
		if entries == nil {
			entries = []node.Entry{}
		}
		writeJSON(stdout, entries)
		return exitOK
	}
	for _, e := range entries {
		fmt.Fprintf(stdout, "%-40s %s\n", e.Key, e.Value)
	}
	return exitOK
}
