package scenario

import (
	"cmp"
	"errors"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cilium/ebpf"
	gocmp "github.com/google/go-cmp/cmp"

	"github.com/dpforge/dpforge/bpf/loader"
)

var update = flag.Bool("update", false, "rewrite the want files of testdata/fail and testdata/invalid")

// buildObject builds a C file of testdata with clang into a temporary directory
// and returns its spec. The test is skipped when clang is missing
// ($DPFORGE_CC, as for dpforge build; default clang-19).
func buildObject(t testing.TB, name string) *ebpf.CollectionSpec {
	t.Helper()
	clang := cmp.Or(os.Getenv("DPFORGE_CC"), "clang-19")
	if _, err := exec.LookPath(clang); err != nil {
		t.Skipf("SKIP: %s not found; the fixture needs it to compile (set $DPFORGE_CC)", clang)
	}
	out := filepath.Join(t.TempDir(), strings.TrimSuffix(name, ".c")+".o")
	cmd := exec.Command(clang,
		"-O2", "-g", // BTF is what the engine encodes with
		"-target", "bpfel",
		"-I/usr/include/x86_64-linux-gnu", // asm/types.h on Debian
		"-Wall", "-Werror",
		"-c", filepath.Join("testdata", name), "-o", out)
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("compiling %s: %v\n%s", name, err, msg)
	}
	spec, err := loader.LoadSpec(out)
	if err != nil {
		t.Fatal(err)
	}
	return spec
}

func fixture(t testing.TB) *ebpf.CollectionSpec {
	t.Helper()
	return buildObject(t, "fixture.c")
}

// requireRoot skips tests that load programs when not root.
func requireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("SKIP: loading and running BPF programs needs root (CAP_BPF, CAP_NET_ADMIN); run go test as root")
	}
}

func TestPassScenarios(t *testing.T) {
	requireRoot(t)
	spec := fixture(t)
	scenarios, err := LoadDir("testdata/pass")
	if err != nil {
		t.Fatal(err)
	}
	if len(scenarios) == 0 {
		t.Fatal("no scenarios in testdata/pass")
	}
	for _, s := range scenarios {
		t.Run(s.Name, func(t *testing.T) {
			res, err := Run(spec, s)
			if err != nil {
				t.Fatal(err)
			}
			if !res.Passed() {
				t.Error(res.Report())
			}
		})
	}
}

// TestFailScenarios runs scenarios whose expectations are wrong and
// compares the failure reports with testdata/fail/*.want.
func TestFailScenarios(t *testing.T) {
	requireRoot(t)
	spec := fixture(t)
	files, _ := filepath.Glob("testdata/fail/*.yaml")
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			s, err := Load(file)
			if err != nil {
				t.Fatal(err)
			}
			res, err := Run(spec, s)
			if err != nil {
				t.Fatal(err)
			}
			if res.Passed() {
				t.Fatal("scenario passed; it must fail")
			}
			golden(t, strings.TrimSuffix(file, ".yaml")+".want", res.Report())
		})
	}
}

// TestInvalidScenarios parses and checks malformed scenarios and compares
// the diagnostics with testdata/invalid/*.want. It needs no privileges.
func TestInvalidScenarios(t *testing.T) {
	spec := fixture(t)
	files, _ := filepath.Glob("testdata/invalid/*.yaml")
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			s, err := Load(file)
			if err == nil {
				err = Check(spec, s)
			}
			var se *Error
			if !errors.As(err, &se) {
				t.Fatalf("got error %v (%T), want *Error", err, err)
			}
			golden(t, strings.TrimSuffix(file, ".yaml")+".want", err.Error()+"\n")
		})
	}
}

// golden compares got with the file, or rewrites the file with -update.
func golden(t *testing.T, file, got string) {
	t.Helper()
	// go-cmp randomly uses non-breaking spaces to discourage exact
	// comparisons of its output.
	got = strings.ReplaceAll(got, "\u00a0", " ")
	if *update {
		if err := os.WriteFile(file, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(file)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	if d := gocmp.Diff(string(want), got); d != "" {
		t.Errorf("%s mismatch (-want +got), run with -update to accept:\n%s", file, d)
	}
}
