package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dpforge/dpforge/bpf/loader/node"
	"github.com/dpforge/dpforge/bpf/manifest"
	"github.com/dpforge/dpforge/generator/config"
)

// TestDefaultMatrixBuildsAndVerifies is make run's job as a test: every
// variant of the embedded default matrix compiles, and as root every
// program of every variant passes this kernel's verifier.
func TestDefaultMatrixBuildsAndVerifies(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("DPFORGE_CACHE_DIR", filepath.Join(dir, "cache"))
	out := filepath.Join(dir, "out")
	var stdout, stderr bytes.Buffer
	if code := run([]string{"build", "--out", out}, &stdout, &stderr); code != 0 {
		t.Fatalf("build exit %d\n%s%s", code, stdout.String(), stderr.String())
	}
	m, err := manifest.Load(filepath.Join(out, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Variants) < 8 || len(m.Nodes) != 13 {
		t.Fatalf("default matrix: %d variants, %d nodes", len(m.Variants), len(m.Nodes))
	}
	for _, v := range m.Variants {
		if len(v.Defines) == 0 || len(v.Kernels) == 0 || v.SHA256 == "" {
			t.Errorf("variant %s lacks its meaning: %+v", v.ID, v)
		}
	}
	// DIR/dpload is a loader carrying exactly this build.
	embedded, err := node.OpenBundle(filepath.Join(out, "dpload"))
	if err != nil || embedded == nil {
		t.Fatalf("%s/dpload: %v (build %v)", out, err, embedded)
	}
	if dirBuild, err := node.OpenBuild(out); err != nil || dirBuild.ID != embedded.ID {
		t.Errorf("dpload embeds build %s, the directory has %v (%v)", embedded.ID, dirBuild, err)
	}
	if fi, err := os.Stat(filepath.Join(out, "dpload")); err != nil || fi.Mode()&0o111 == 0 {
		t.Errorf("dpload is not executable: %v", err)
	}
	loaderBefore, _ := os.ReadFile(filepath.Join(out, "dpload"))
	// A second build is a no-op and byte-identical.
	before, _ := os.ReadFile(filepath.Join(out, "manifest.json"))
	stdout.Reset()
	if code := run([]string{"build", "--out", out}, &stdout, &stderr); code != 0 || !strings.Contains(stdout.String(), "(0 compiled") {
		t.Fatalf("rebuild: exit %d: %s%s", code, stdout.String(), stderr.String())
	}
	after, _ := os.ReadFile(filepath.Join(out, "manifest.json"))
	if !bytes.Equal(before, after) {
		t.Fatal("manifest changed on a no-op rebuild")
	}
	if loaderAfter, _ := os.ReadFile(filepath.Join(out, "dpload")); !bytes.Equal(loaderBefore, loaderAfter) {
		t.Error("dpload changed on a no-op rebuild")
	}
	// The same matrix under another name with a comment added compiles
	// nothing: the cache key holds only what decides an object, and the
	// matrix's name and hash are provenance, recorded in the manifest.
	renamed := filepath.Join(dir, "renamed.yaml")
	if err := os.WriteFile(renamed, append([]byte("# a comment changes no object\n"), config.DefaultMatrix...), 0o644); err != nil {
		t.Fatal(err)
	}
	stdout.Reset()
	if code := run([]string{"build", "-f", renamed, "--out", out, "-o", "json"}, &stdout, &stderr); code != 0 {
		t.Fatalf("renamed build: exit %d: %s%s", code, stdout.String(), stderr.String())
	}
	var sum buildSummary
	if err := json.Unmarshal(stdout.Bytes(), &sum); err != nil {
		t.Fatal(err)
	}
	if sum.Compiled != 0 || sum.CacheHits != len(m.Variants) {
		t.Fatalf("a cosmetic matrix change: compiled %d, cached %d; want 0 and %d", sum.Compiled, sum.CacheHits, len(m.Variants))
	}
	// The provenance is in the manifest.
	rm, err := manifest.Load(filepath.Join(out, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	if rm.Matrix != renamed || rm.Inputs == m.Inputs || m.Matrix == "" {
		t.Errorf("manifest provenance: matrix %q inputs %s (before: %q %s)", rm.Matrix, rm.Inputs, m.Matrix, m.Inputs)
	}

	if os.Geteuid() != 0 {
		t.Skip("SKIPPED: verifying variants in the kernel needs root; run the tests as root (CI does)")
	}
	stdout.Reset()
	if code := run([]string{"verify", out}, &stdout, &stderr); code != 0 {
		t.Fatalf("verify exit %d\n%s%s", code, stdout.String(), stderr.String())
	}
	m, err = manifest.Load(filepath.Join(out, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range m.Variants {
		for _, p := range v.Programs {
			if len(p.Verified) == 0 {
				t.Errorf("variant %s program %s: no verified instruction count", v.ID, p.Name)
			}
			for rel, n := range p.Verified {
				if n == 0 {
					t.Errorf("variant %s program %s on %s: 0 instructions", v.ID, p.Name, rel)
				}
			}
		}
	}
	t.Logf("%s", stdout.String())
}

func TestBuildRejectsInvalidMatrix(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("nodes: [{name: a, kernel: 5.10.0, config: {routing-mode: native, kube-proxy-replacement: \"true\"}}]\n"), 0o644)
	var stdout, stderr bytes.Buffer
	out := filepath.Join(dir, "out")
	if code := run([]string{"build", "-f", bad, "--out", out}, &stdout, &stderr); code != 1 {
		t.Fatalf("exit %d, want 1: %s", code, stderr.String())
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("an invalid matrix left output behind: %v", err)
	}
}
