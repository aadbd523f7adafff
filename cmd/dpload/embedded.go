package main

import (
	"fmt"
	"os"

	"github.com/dpforge/dpforge/bpf/loader/node"
)

// embeddedBuild returns the build `dpforge build` appended to this binary,
// or nil if it carries none.
func embeddedBuild() (*node.Build, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("finding this executable: %w", err)
	}
	return node.OpenBundle(exe)
}
