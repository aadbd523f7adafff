package header

import (
	"bytes"
	"strings"
	"testing"

	"github.com/dpforge/dpforge/generator/config"
	"github.com/dpforge/dpforge/generator/plan"
)

// FuzzPipeline runs parse, resolve and render on arbitrary input: nothing
// may panic, a valid plan must render, and no rendered header may carry a
// line that did not come from the templates' shapes (no injected
// preprocessor directives).
func FuzzPipeline(f *testing.F) {
	f.Add(config.DefaultMatrix)
	f.Add([]byte("kernels: {k: {version: 5.10}}\nnodes: [{name: a, kernel: k, config: {tunnel: geneve}}]\n"))
	f.Add([]byte("nodes: [{name: a, kernel: 4.19.232, config: {cluster-name: \"x\\n#define X\"}}]\n"))
	f.Add([]byte("kernels: {k: {version: 6.1}}\nmatrix: {kernel: [k], tunnel: [vxlan, disabled], bpf-lb-mode: [dsr]}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, diags := config.Parse("fuzz.yaml", data, nil)
		if m == nil || diags.HasErrors() {
			return
		}
		p := plan.Make(m, "")
		if p.Diags.HasErrors() {
			return
		}
		files, err := Files(p)
		if err != nil {
			t.Fatalf("valid plan does not render: %v", err)
		}
		for _, file := range files {
			for _, line := range strings.Split(string(file.Data), "\n") {
				if strings.HasPrefix(line, "#") && !allowedDirective(line) {
					t.Fatalf("%s: unexpected directive %q", file.Path, line)
				}
			}
			if bytes.Contains(file.Data, []byte("\x00")) {
				t.Fatalf("%s holds a NUL byte", file.Path)
			}
		}
	})
}

func allowedDirective(line string) bool {
	for _, p := range []string{"#ifndef DPFORGE_", "#define ", "#endif", "#if defined(", "#error \""} {
		if strings.HasPrefix(line, p) {
			return true
		}
	}
	return false
}
