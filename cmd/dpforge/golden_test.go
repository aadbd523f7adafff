package main

import (
	"bytes"
	"flag"
	"github.com/dpforge/dpforge/generator/env"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata")

// TestGolden runs every case under testdata/cli: a directory with an "args"
// file (one argument per line, run from the case directory), its inputs,
// and the expected want.stdout, want.stderr, want.exit and, for commands
// that write files, a want/ tree compared with out/. A missing golden file
// means "empty".
func TestGolden(t *testing.T) {
	root, err := filepath.Abs(filepath.Join("..", "..", "testdata", "cli"))
	if err != nil {
		t.Fatal(err)
	}
	cases, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		if !c.IsDir() {
			continue
		}
		dir := filepath.Join(root, c.Name())
		t.Run(c.Name(), func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join(dir, "args"))
			if err != nil {
				t.Fatal(err)
			}
			var args []string
			for _, l := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
				if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
					args = append(args, l)
				}
			}
			os.RemoveAll(filepath.Join(dir, "out"))
			t.Chdir(dir)
			var stdout, stderr bytes.Buffer
			code := run(args, &stdout, &stderr)
			golden(t, filepath.Join(dir, "want.stdout"), stdout.String())
			golden(t, filepath.Join(dir, "want.stderr"), stderr.String())
			golden(t, filepath.Join(dir, "want.exit"), strconv.Itoa(code)+"\n")
			compareTree(t, filepath.Join(dir, "out"), filepath.Join(dir, "want"))
			os.RemoveAll(filepath.Join(dir, "out"))
		})
	}
}

func golden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		if got == "" {
			os.Remove(path)
			return
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("%s (-want +got):\n%s", filepath.Base(path), diff)
	}
}

func readTree(t *testing.T, dir string) map[string]string {
	t.Helper()
	files := map[string]string{}
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(dir, p)
		files[filepath.ToSlash(rel)] = string(b)
		return nil
	})
	return files
}

func compareTree(t *testing.T, outDir, wantDir string) {
	t.Helper()
	got := readTree(t, outDir)
	if *update {
		os.RemoveAll(wantDir)
		if len(got) > 0 {
			if err := os.CopyFS(wantDir, os.DirFS(outDir)); err != nil {
				t.Fatal(err)
			}
		}
		return
	}
	want := readTree(t, wantDir)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("written files (-want +got):\n%s", diff)
	}
	// Golden headers must themselves be valid C.
	for name := range want {
		if !strings.HasSuffix(name, ".h") {
			continue
		}
		out, err := exec.Command(env.Compiler(), "-fsyntax-only", "-Wall", "-Werror", "-x", "c", filepath.Join(wantDir, name)).CombinedOutput()
		if err != nil {
			t.Errorf("golden %s does not compile: %v\n%s", name, err, out)
		}
	}
}
