package header

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dpforge/dpforge/generator/config"
	"github.com/dpforge/dpforge/generator/env"
	"github.com/dpforge/dpforge/generator/plan"
)

func defaultPlan(t *testing.T) *plan.Plan {
	t.Helper()
	m, diags := config.Parse(config.DefaultMatrixName, config.DefaultMatrix, nil)
	if diags.HasErrors() {
		t.Fatalf("default matrix is invalid: %v", diags)
	}
	p := plan.Make(m, "")
	if p.Diags.HasErrors() {
		t.Fatalf("default matrix does not resolve: %v", p.Diags)
	}
	return p
}

func clang(t *testing.T) string {
	t.Helper()
	cc := env.Compiler() // what make exports, as the build reads it
	path, err := exec.LookPath(cc)
	if err != nil {
		t.Fatalf("%s not found: headers must be compile-checked (run `make deps` to install clang)", cc)
	}
	return path
}

// TestHeadersCompile checks every header of the default matrix with
// clang -fsyntax-only, including the #error guards' conditions.
func TestHeadersCompile(t *testing.T) {
	cc := clang(t)
	p := defaultPlan(t)
	files, err := Files(p)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, f := range files {
		path := filepath.Join(dir, filepath.FromSlash(f.Path))
		os.MkdirAll(filepath.Dir(path), 0o755)
		if err := os.WriteFile(path, f.Data, 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(cc, "-fsyntax-only", "-Wall", "-Werror", "-x", "c", path).CombinedOutput()
		if err != nil {
			t.Errorf("%s does not compile: %v\n%s\n%s", f.Path, err, out, f.Data)
		}
	}
}

// TestGuardsFire proves the #error guards are live: a header edited into an
// impossible combination fails to compile.
func TestGuardsFire(t *testing.T) {
	cc := clang(t)
	src := "#define ENABLE_HOST_ROUTING 1\n#define TUNNEL_MODE 1\n#define TUNNEL_PROTOCOL 1\n#define ENABLE_DSR 1\n"
	for _, c := range Checks() {
		src += "#if " + c.Cond + "\n#error \"" + c.Message + "\"\n#endif\n"
	}
	cmd := exec.Command(cc, "-fsyntax-only", "-x", "c", "-")
	cmd.Stdin = strings.NewReader(src)
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("an impossible header compiled")
	}
	// DSR without NodePort: the rule lives only in the feature table, and this
	// guard is what stops a hand-edited header.
	for _, want := range []string{"BPF host routing requires BPF NodePort", "mode requires geneve dispatch",
		`Node Port \"dsr\" mode requires kube-proxy replacement (BPF NodePort).`} {
		if !bytes.Contains(out, []byte(want)) {
			t.Errorf("clang output lacks %q:\n%s", want, out)
		}
	}
}

func TestDeterministic(t *testing.T) {
	a, err := Files(defaultPlan(t))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := Files(defaultPlan(t))
	for i := range a {
		if a[i].Path != b[i].Path || !bytes.Equal(a[i].Data, b[i].Data) {
			t.Fatalf("%s differs between two renders", a[i].Path)
		}
	}
}
