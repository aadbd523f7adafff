package bpf

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// macroRef matches the feature macros the C tests with #if/#ifdef.
var macroRef = regexp.MustCompile(`\b(ENABLE_[A-Z0-9_]+|HAVE_[A-Z0-9_]+|TUNNEL_MODE|TUNNEL_PROTOCOL|DSR_ENCAP_MODE|LB_SELECTION)\b`)

// TestMacrosDocumented checks that Macros lists exactly the macros the C
// source branches on.
func TestMacrosDocumented(t *testing.T) {
	used := map[string]bool{}
	err := fs.WalkDir(Source, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(Source, path)
		if err != nil {
			return err
		}
		for _, line := range strings.Split(string(b), "\n") {
			line = strings.TrimSpace(line)
			if !strings.HasPrefix(line, "#") {
				continue
			}
			directive := strings.TrimSpace(strings.TrimPrefix(line, "#"))
			if !strings.HasPrefix(directive, "if") && !strings.HasPrefix(directive, "elif") {
				continue
			}
			for _, m := range macroRef.FindAllString(directive, -1) {
				used[m] = true
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var documented []string
	for _, m := range Macros {
		documented = append(documented, m.Name)
	}
	if diff := cmp.Diff(documented, sortedKeys(used)); diff != "" {
		t.Errorf("Macros vs macros tested in the C source (-documented +used):\n%s", diff)
	}
}

func macroByName(name string) (Macro, bool) {
	i := slices.IndexFunc(Macros, func(m Macro) bool { return m.Name == name })
	if i < 0 {
		return Macro{}, false
	}
	return Macros[i], true
}

// closure returns name plus everything it requires, transitively.
func closure(name string, into map[string]bool) {
	if into[name] {
		return
	}
	into[name] = true
	m, _ := macroByName(name)
	for _, r := range m.Requires {
		closure(r, into)
	}
}

func macroDefine(name string) string {
	m, _ := macroByName(name)
	if len(m.Values) > 0 {
		return name + "=" + m.Values[0]
	}
	return name
}

// syntaxCheck runs clang -fsyntax-only on a variant; the #error guards fire there.
func syntaxCheck(t *testing.T, v variant) (string, error) {
	t.Helper()
	src, err := sourceDir()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, VariantHeader), v.header(), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(clang(), "-fsyntax-only", "-target", "bpfel", "-Wall", "-Werror",
		"-I"+dir, "-I/usr/include/x86_64-linux-gnu", filepath.Join(src, MainFile))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err = cmd.Run()
	if errors.Is(err, exec.ErrNotFound) {
		t.Skipf("%s not installed", clang())
	}
	return stderr.String(), err
}

// TestMacroRequirements checks every documented requirement both ways:
// a macro with its requirements compiles, and without any one of them
// fails with an #error.
func TestMacroRequirements(t *testing.T) {
	for _, m := range Macros {
		if len(m.Requires) == 0 {
			continue
		}
		t.Run(m.Name, func(t *testing.T) {
			t.Parallel()
			set := map[string]bool{}
			closure(m.Name, set)
			base := []string{"ENABLE_IPV4", "ENABLE_IPV6"}
			build := func(without string) variant {
				v := variant{name: m.Name + "-without-" + without}
				for _, b := range base {
					if !set[b] {
						v.macros = append(v.macros, b)
					}
				}
				for _, name := range sortedKeys(set) {
					if name != without {
						v.macros = append(v.macros, macroDefine(name))
					}
				}
				return v
			}

			if out, err := syntaxCheck(t, build("")); err != nil {
				t.Fatalf("%s with its requirements does not compile: %v\n%s", m.Name, err, out)
			}
			for _, r := range m.Requires {
				out, err := syntaxCheck(t, build(r))
				if err == nil {
					t.Errorf("%s without %s compiled", m.Name, r)
				} else if !hasGuardError(out, r) {
					t.Errorf("%s without %s: want an #error naming %s, got:\n%s", m.Name, r, r, out)
				}
			}
		})
	}
}

// hasGuardError reports whether clang's output has an #error message
// (rendered as `error: "..."`) that names macro.
func hasGuardError(out, macro string) bool {
	for _, line := range strings.Split(out, "\n") {
		if _, msg, ok := strings.Cut(line, `error: "`); ok && strings.Contains(msg, macro) {
			return true
		}
	}
	return false
}
