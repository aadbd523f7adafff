package main

import (
	"fmt"
	"io"
)

func runBuild(args []string, stdout, stderr io.Writer) int {
	fmt.Fprintln(stderr, "dpforge build: not wired yet")
	return exitProblems
}

func runVerify(args []string, stdout, stderr io.Writer) int {
	fmt.Fprintln(stderr, "dpforge verify: not wired yet")
	return exitProblems
}
