package bindings

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestBindingsModuleMatchesGoMod keeps the go.mod/go.sum written for the
// bindings in step with the cilium/ebpf this module builds with.
func TestBindingsModuleMatchesGoMod(t *testing.T) {
	sum, err := os.ReadFile(filepath.Join("..", "..", "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(bindingsGoSum) {
		if !bytes.Contains(sum, []byte(line)) {
			t.Errorf("go.sum of the main module lacks %q: update bindingsGoSum and bindingsGoMod", strings.TrimSpace(line))
		}
	}
	mod, err := os.ReadFile(filepath.Join("..", "..", "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	for _, req := range []string{"github.com/cilium/ebpf v0.22.0", "golang.org/x/sys v0.43.0"} {
		if !bytes.Contains(mod, []byte(req)) {
			t.Errorf("go.mod does not require %s: update bindingsGoMod", req)
		}
	}
	if !bytes.Contains(mod, []byte("github.com/cilium/ebpf "+EbpfVersion+"\n")) {
		t.Errorf("go.mod does not require cilium/ebpf %s: update EbpfVersion", EbpfVersion)
	}
}
