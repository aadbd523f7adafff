package main

import (
	"fmt"
	"io"
)

func runMap(args []string, stdout, stderr io.Writer) int {
	var c common
	fs := flagSet("map", "map list NAME | map get NAME KEY", "dpload map list dp_ipcache", stderr, &c)
	if code, ok := parse(fs, args, &c, stderr); !ok {
		return code
	}
	fmt.Fprintln(stderr, "dpload map: not implemented")
	return exitProblems
}
