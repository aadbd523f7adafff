package generator

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/dpforge/dpforge/bpf/manifest"
	"github.com/dpforge/dpforge/generator/config"
	"github.com/dpforge/dpforge/generator/plan"
)

// matrix has two nodes on one kernel that differ only in a load-time value
// (one variant) and a third that needs another variant.
const matrix = `kernels:
  lts: {version: 6.1.0}
defaults:
  tunnel: vxlan
  kube-proxy-replacement: "true"
nodes:
  - {name: a, kernel: lts, config: {mtu: 1450}}
  - {name: b, kernel: lts, config: {mtu: 9000}}
  - {name: c, kernel: lts, config: {enable-bpf-masquerade: "true"}}
`

func testPlan(t *testing.T, data string) *plan.Plan {
	t.Helper()
	m, diags := config.Parse("matrix.yaml", []byte(data), nil)
	if diags.HasErrors() {
		t.Fatalf("matrix: %v", diags)
	}
	p := plan.Make(m, "")
	if p.Diags.HasErrors() {
		t.Fatalf("plan: %v", p.Diags)
	}
	return p
}

func TestExecute(t *testing.T) {
	p := testPlan(t, matrix)
	if len(p.Variants) != 2 {
		t.Fatalf("%d variants, want 2", len(p.Variants))
	}
	out, cacheDir := t.TempDir(), t.TempDir()
	opts := Options{OutDir: out, CacheDir: cacheDir, WorkDir: t.TempDir()}
	res, err := Execute(context.Background(), p, opts)
	if err != nil {
		t.Fatalf("Execute: %+v", err)
	}
	if res.ManifestPath != filepath.Join(out, ManifestName) || res.Build.Compiled != 2 {
		t.Errorf("manifest %q, compiled %d; want %q and 2", res.ManifestPath, res.Build.Compiled, filepath.Join(out, ManifestName))
	}
	onDisk, err := manifest.Load(res.ManifestPath)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(res.Manifest, onDisk); diff != "" {
		t.Errorf("manifest on disk differs from the returned one (-returned +disk):\n%s", diff)
	}
	m := onDisk
	if m.Inputs != p.Matrix.Hash || m.Inputs == "" {
		t.Errorf("inputs %q, want the matrix hash %q", m.Inputs, p.Matrix.Hash)
	}
	// Every variant carries the plan's meaning and the build's contents.
	for _, v := range m.Variants {
		pv := p.Variant(v.ID)
		if pv == nil {
			t.Fatalf("variant %q is not in the plan", v.ID)
		}
		if len(v.Defines) != len(pv.Defines) || !slices.Equal(v.Kernels, pv.Kernels) {
			t.Errorf("variant %q: defines %v kernels %v; plan has %v and %v", v.ID, v.Defines, v.Kernels, pv.Defines, pv.Kernels)
		}
		if len(v.Programs) == 0 || len(v.Maps) == 0 || v.SHA256 == "" {
			t.Errorf("variant %q lacks its contents: %+v", v.ID, v)
		}
		if _, err := os.Stat(filepath.Join(out, filepath.FromSlash(v.Object))); err != nil {
			t.Errorf("variant %q: %v", v.ID, err)
		}
	}
	// Nodes a and b share a variant and differ in their load-time MTU.
	nodes := map[string]manifest.Node{}
	for _, n := range m.Nodes {
		nodes[n.Name] = n
	}
	if nodes["a"].Variant != nodes["b"].Variant || nodes["a"].Variant == nodes["c"].Variant {
		t.Errorf("node variants a=%q b=%q c=%q, want a=b≠c", nodes["a"].Variant, nodes["b"].Variant, nodes["c"].Variant)
	}
	if nodes["a"].Values["cfg_mtu"] == nodes["b"].Values["cfg_mtu"] {
		t.Errorf("nodes a and b have the same load-time values %v", nodes["a"].Values)
	}

	// Verifier counts survive a rebuild of the same objects; nothing is
	// compiled and the manifest keeps its bytes.
	m.Variants[0].Programs[0].Verified = map[string]uint32{"test": 7}
	data, err := manifest.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(res.ManifestPath, data, 0o644); err != nil {
		t.Fatal(err)
	}
	again, err := Execute(context.Background(), p, opts)
	if err != nil {
		t.Fatalf("second Execute: %+v", err)
	}
	if again.Build.Compiled != 0 {
		t.Errorf("no-op rebuild compiled %d variants", again.Build.Compiled)
	}
	if got, _ := os.ReadFile(res.ManifestPath); !bytes.Equal(got, data) {
		t.Errorf("the rebuild changed the manifest or dropped the verifier count:\n%s", got)
	}
}

// TestExecuteFailure: a variant that does not compile writes no manifest and
// returns the compiler's error.
func TestExecuteFailure(t *testing.T) {
	p := testPlan(t, matrix)
	out := t.TempDir()
	broken := fstestWith(t, "datapath.c", "#include \"dp_variant.h\"\nint x = ;\n")
	res, err := Execute(context.Background(), p, Options{OutDir: out, CacheDir: t.TempDir(), WorkDir: t.TempDir(), Source: broken, MainFile: "datapath.c"})
	if err == nil {
		t.Fatal("Execute of a broken datapath succeeded")
	}
	if res == nil || res.Manifest != nil || len(res.Build.Failed) != 2 {
		t.Errorf("result %+v, want two failed variants and no manifest", res)
	}
	if _, err := os.Stat(filepath.Join(out, ManifestName)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("manifest written after a failed build (%v)", err)
	}
}

func TestExecuteNoPlan(t *testing.T) {
	if _, err := Execute(context.Background(), nil, Options{OutDir: t.TempDir()}); err == nil {
		t.Error("Execute(nil plan) succeeded")
	}
}

func fstestWith(t *testing.T, name, content string) fs.FS {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return os.DirFS(dir)
}
