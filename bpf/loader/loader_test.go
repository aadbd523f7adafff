package loader_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"

	"github.com/dpforge/dpforge/bpf"
	"github.com/dpforge/dpforge/bpf/loader"
	"github.com/dpforge/dpforge/bpf/manifest"
	"github.com/dpforge/dpforge/generator"
	"github.com/dpforge/dpforge/generator/compile"
	"github.com/dpforge/dpforge/generator/config"
	"github.com/dpforge/dpforge/generator/plan"
)

// matrix is one node of the real datapath with BPF masquerading, so its
// variant has the __be32 SNAT exclusion among its load-time values.
const matrix = `kernels:
  k: {version: 6.1.0}
nodes:
  - name: n1
    kernel: k
    config: {tunnel: disabled, kube-proxy-replacement: "true", enable-bpf-masquerade: "true", ipv4-native-routing-cidr: 10.0.0.0/8, mtu: 1450, bpf-nat-global-max: 4096}
`

var built struct {
	once sync.Once
	dir  string
	m    *manifest.Manifest
	err  error
}

var tmpRoot string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "dpforge-loader-test-*")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	tmpRoot = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// datapath builds the real datapath for matrix once per test binary.
func datapath(t testing.TB) (string, *manifest.Manifest) {
	t.Helper()
	built.once.Do(func() {
		cm, diags := config.Parse("matrix.yaml", []byte(matrix), nil)
		if diags.HasErrors() {
			built.err = fmt.Errorf("matrix: %v", diags)
			return
		}
		p := plan.Make(cm, "")
		if p.Diags.HasErrors() {
			built.err = fmt.Errorf("plan: %v", p.Diags)
			return
		}
		built.dir = filepath.Join(tmpRoot, "out")
		res, err := generator.Execute(context.Background(), p, generator.Options{
			OutDir: built.dir, CacheDir: filepath.Join(tmpRoot, "cache"), WorkDir: filepath.Join(tmpRoot, "work"),
		})
		if err != nil {
			built.err = fmt.Errorf("building the datapath: %+v", err)
			return
		}
		built.m = res.Manifest
	})
	if built.err != nil {
		t.Fatal(built.err)
	}
	return built.dir, built.m
}

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("SKIPPED: loading BPF programs needs root; run the tests as root to load objects into the kernel")
	}
}

func TestNodeSpecSetsValues(t *testing.T) {
	dir, m := datapath(t)
	spec, v, err := loader.NodeSpec(dir, m, "n1")
	if err != nil {
		t.Fatal(err)
	}
	if v.ID != m.Nodes[0].Variant {
		t.Errorf("variant %q, want %q", v.ID, m.Nodes[0].Variant)
	}
	var mtu uint32
	if err := spec.Variables[bpf.VarMTU].Get(&mtu); err != nil || mtu != 1450 {
		t.Errorf("%s = %d (%v), want 1450", bpf.VarMTU, mtu, err)
	}
	// __be32: network byte order, whatever the host's.
	var excl [4]byte
	if err := spec.Variables[bpf.VarSNATExclIPv4].Get(&excl); err != nil || excl != [4]byte{10, 0, 0, 0} {
		t.Errorf("%s = %v (%v), want 10.0.0.0", bpf.VarSNATExclIPv4, excl, err)
	}
	// Map sizes: Cilium's table-size options, defaults included.
	if got := spec.Maps[bpf.MapSNAT].MaxEntries; got != 4096 {
		t.Errorf("%s max entries %d, want 4096 (bpf-nat-global-max)", bpf.MapSNAT, got)
	}
	if got := spec.Maps[bpf.MapConntrack].MaxEntries; got != 524288+262144 {
		t.Errorf("%s max entries %d, want %d (bpf-ct-global-tcp-max + bpf-ct-global-any-max)", bpf.MapConntrack, got, 524288+262144)
	}
	if err := loader.SetMapSizes(spec, map[string]uint32{"dp_nope": 1}); err == nil {
		t.Error("SetMapSizes accepted an unknown map")
	}
	// A spec read again is untouched by the first one's values.
	again, err := loader.VariantSpec(dir, v)
	if err != nil {
		t.Fatal(err)
	}
	again.Variables[bpf.VarMTU].Get(&mtu)
	if mtu == 1450 {
		t.Errorf("values leaked into a fresh spec")
	}
	if _, _, err := loader.NodeSpec(dir, m, "nope"); err == nil || !strings.Contains(err.Error(), `node "nope"`) {
		t.Errorf("unknown node: %v", err)
	}
}

func TestSetValues(t *testing.T) {
	dir, m := datapath(t)
	spec, err := loader.VariantSpec(dir, &m.Variants[0])
	if err != nil {
		t.Fatal(err)
	}
	err = loader.SetValues(spec, map[string]string{
		bpf.VarNodeMAC:       "02:00:00:00:00:2a",
		bpf.VarNodeIPv4:      "192.168.1.7",
		bpf.VarTunnelPort:    "0x2118",
		bpf.VarNodePortMax:   "32767",
		bpf.VarVTEPMask:      "255.255.255.0",
		bpf.VarSNATPortMin:   "1024",
		bpf.VarNativeIfindex: "4294967295",
	})
	if err != nil {
		t.Fatal(err)
	}
	var mac [6]byte
	spec.Variables[bpf.VarNodeMAC].Get(&mac)
	if mac != [6]byte{2, 0, 0, 0, 0, 0x2a} {
		t.Errorf("mac %x", mac)
	}
	var ip [4]byte
	spec.Variables[bpf.VarNodeIPv4].Get(&ip)
	if ip != [4]byte{192, 168, 1, 7} {
		t.Errorf("node ipv4 %v", ip)
	}
	raw := spec.Variables[bpf.VarTunnelPort].Value
	if got := spec.ByteOrder.Uint16(raw); got != 8472 {
		t.Errorf("tunnel port %d, want 8472 in the object's byte order", got)
	}

	// Every problem is reported at once, and nothing is set.
	before := string(spec.Variables[bpf.VarMTU].Value)
	err = loader.SetValues(spec, map[string]string{
		bpf.VarMTU:        "9000",
		bpf.VarTunnelPort: "70000",
		bpf.VarNodeMAC:    "not-a-mac",
		"cfg_bogus":       "1",
		bpf.VarNodeIPv4:   "::1",
	})
	if err == nil {
		t.Fatal("bad values accepted")
	}
	for _, want := range []string{`no variable "cfg_bogus"`, "cfg_mtu,", `"70000" is not a 16-bit unsigned integer`, `"not-a-mac" is not a MAC address`, `variable "cfg_node_ipv4"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if string(spec.Variables[bpf.VarMTU].Value) != before {
		t.Errorf("a failed SetValues changed cfg_mtu")
	}
}

func TestVariantSpecHashMismatch(t *testing.T) {
	dir, m := datapath(t)
	v := m.Variants[0]
	v.SHA256 = strings.Repeat("0", 64)
	if _, err := loader.VariantSpec(dir, &v); err == nil || !strings.Contains(err.Error(), "the manifest says") {
		t.Errorf("error %v, want a hash mismatch", err)
	}
}

func TestLoad(t *testing.T) {
	requireRoot(t)
	dir, m := datapath(t)
	spec, _, err := loader.NodeSpec(dir, m, "n1")
	if err != nil {
		t.Fatal(err)
	}
	coll, err := loader.Load(spec, loader.Options{Variant: m.Variants[0].ID, Programs: []string{bpf.ProgFromNetdev}})
	if err != nil {
		t.Fatalf("Load: %+v", err)
	}
	defer coll.Close()
	if len(coll.Programs) != 1 || coll.Programs[bpf.ProgFromNetdev] == nil {
		t.Errorf("loaded programs %v, want only %s", keys(coll.Programs), bpf.ProgFromNetdev)
	}
	// The values reached the kernel's frozen .rodata.
	var mtu uint32
	if err := coll.Variables[bpf.VarMTU].Get(&mtu); err != nil || mtu != 1450 {
		t.Errorf("loaded %s = %d (%v), want 1450", bpf.VarMTU, mtu, err)
	}
	// No pin path: nothing was pinned, whatever the object says.
	for name, mp := range coll.Maps {
		if mp.IsPinned() {
			t.Errorf("map %s pinned without Options.PinPath", name)
		}
	}
	if len(spec.Programs) != len(bpf.Programs) {
		t.Errorf("Load changed the caller's spec: %d programs", len(spec.Programs))
	}
}

// privateBPFFS mounts a bpffs of the test's own on a fresh directory, so
// that the host's /sys/fs/bpf is never touched, and unmounts it afterwards.
func privateBPFFS(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(tmpRoot, fmt.Sprintf("dpforge-loader-bpffs-%d-%d", os.Getpid(), rand.Uint32()))
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("bpf", dir, "bpf", 0, "mode=0700"); err != nil {
		t.Fatalf("mounting a bpffs on %s: %v", dir, err)
	}
	t.Cleanup(func() {
		if err := unix.Unmount(dir, unix.MNT_DETACH); err != nil {
			t.Errorf("unmounting %s: %v", dir, err)
		}
		os.Remove(dir)
	})
	return dir
}

// TestLoadReusesPinnedMaps: with a pin path, the maps the object pins by
// name survive a reload (a node upgrading its datapath keeps its state).
func TestLoadReusesPinnedMaps(t *testing.T) {
	requireRoot(t)
	dir, m := datapath(t)
	spec, err := loader.VariantSpec(dir, &m.Variants[0])
	if err != nil {
		t.Fatal(err)
	}
	var pinned *ebpf.MapSpec
	for _, name := range bpf.Maps {
		if ms := spec.Maps[name]; ms != nil && ms.Pinning == ebpf.PinByName && ms.Type == ebpf.Hash {
			pinned = ms
			break
		}
	}
	if pinned == nil {
		t.Fatal("the datapath pins no hash map by name")
	}
	pinDir := privateBPFFS(t)

	opts := loader.Options{PinPath: pinDir, Programs: []string{bpf.ProgFromNetdev}}
	first, err := loader.Load(spec, opts)
	if err != nil {
		t.Fatalf("Load: %+v", err)
	}
	key, value := make([]byte, pinned.KeySize), make([]byte, pinned.ValueSize)
	for i := range value {
		value[i] = byte(i + 1)
	}
	binary.NativeEndian.PutUint16(key, 0x2a)
	if err := first.Maps[pinned.Name].Put(key, value); err != nil {
		t.Fatal(err)
	}
	first.Close()
	if _, err := os.Stat(filepath.Join(pinDir, pinned.Name)); err != nil {
		t.Fatalf("map %s not pinned: %v", pinned.Name, err)
	}

	second, err := loader.Load(spec, opts)
	if err != nil {
		t.Fatalf("second Load: %+v", err)
	}
	defer second.Close()
	got := make([]byte, pinned.ValueSize)
	if err := second.Maps[pinned.Name].Lookup(key, &got); err != nil || string(got) != string(value) {
		t.Errorf("after reload, %s[key] = %x (%v), want the entry written before", pinned.Name, got, err)
	}
}

// TestLoadRejected: a program the verifier rejects is named with its
// variant and full log; the others are not blamed.
func TestLoadRejected(t *testing.T) {
	requireRoot(t)
	fixture := filepath.Join("..", "..", "generator", "compile", "testdata")
	h, err := os.ReadFile(filepath.Join(fixture, "variants", "unverifiable.h"))
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	res, err := compile.Build(context.Background(), []compile.Job{{ID: "unverifiable", Header: h, CPU: "v1", Target: "bpfel"}}, compile.Options{
		Source: os.DirFS(filepath.Join(fixture, "datapath")), MainFile: "datapath.c", OutDir: out, CacheDir: t.TempDir(), WorkDir: t.TempDir(),
	})
	if err != nil {
		t.Fatalf("Build: %+v", err)
	}
	spec, err := loader.LoadSpec(filepath.Join(out, res.Variants[0].ObjectPath))
	if err != nil {
		t.Fatal(err)
	}
	_, err = loader.Load(spec, loader.Options{Variant: "unverifiable", Release: "test-kernel"})
	var le *loader.LoadError
	var pe *loader.ProgramError
	if !errors.As(err, &le) || !errors.As(err, &pe) {
		t.Fatalf("error %v, want a *LoadError holding a *ProgramError", err)
	}
	if len(le.Programs) != 1 || pe.Program != "dp_ingress" || pe.Variant != "unverifiable" {
		t.Fatalf("rejected %+v, want only dp_ingress of unverifiable", le.Programs)
	}
	if want := `loading program "dp_ingress" of variant "unverifiable" on test-kernel: R0 invalid mem access 'map_value_or_null'`; err.Error() != want {
		t.Errorf("Error() = %q\nwant       %q", err.Error(), want)
	}
	full := fmt.Sprintf("%+v", err)
	if !strings.Contains(full, "processed ") || strings.Count(full, "\n") < 5 {
		t.Errorf("%%+v lacks the full verifier log:\n%s", full)
	}
	// Pinning is cleared without a pin path, also while explaining.
	if _, err := os.Stat("/sys/fs/bpf/dp_policy"); err == nil {
		t.Errorf("/sys/fs/bpf/dp_policy exists after Load")
	}
}

// openFDs counts this process's open file descriptors.
func openFDs(t *testing.T) int {
	t.Helper()
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(fds)
}

// TestLoadMatchesCollection: the programs Load loads one by one against
// maps it made first are the ones cilium/ebpf loads as one collection, and
// the verifier does the same work on them (.rodata is the same frozen map,
// so the load-time values stay constants to it).
func TestLoadMatchesCollection(t *testing.T) {
	requireRoot(t)
	dir, m := datapath(t)
	spec, _, err := loader.NodeSpec(dir, m, "n1")
	if err != nil {
		t.Fatal(err)
	}
	before := openFDs(t)
	got, err := loader.Load(spec, loader.Options{Variant: m.Variants[0].ID})
	if err != nil {
		t.Fatalf("Load: %+v", err)
	}
	whole := spec.Copy()
	for _, ms := range whole.Maps {
		ms.Pinning = ebpf.PinNone
	}
	want, err := ebpf.NewCollection(whole)
	if err != nil {
		got.Close()
		t.Fatalf("NewCollection: %v", err)
	}
	if diff := cmp.Diff(slices.Sorted(maps.Keys(want.Programs)), slices.Sorted(maps.Keys(got.Programs))); diff != "" {
		t.Errorf("programs (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(slices.Sorted(maps.Keys(want.Maps)), slices.Sorted(maps.Keys(got.Maps))); diff != "" {
		t.Errorf("maps (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(slices.Sorted(maps.Keys(want.Variables)), slices.Sorted(maps.Keys(got.Variables))); diff != "" {
		t.Errorf("variables (-want +got):\n%s", diff)
	}
	for name, wp := range want.Programs {
		gp := got.Programs[name]
		if gp == nil {
			continue
		}
		wi, err1 := wp.Info()
		gi, err2 := gp.Info()
		if err := errors.Join(err1, err2); err != nil {
			t.Fatal(err)
		}
		if gi.Tag != wi.Tag {
			t.Errorf("program %s: tag %s, want %s", name, gi.Tag, wi.Tag)
		}
		wn, wok := wi.VerifiedInstructions()
		gn, gok := gi.VerifiedInstructions()
		if wok && gok && gn != wn {
			t.Errorf("program %s: the verifier processed %d instructions, %d in one collection", name, gn, wn)
		}
	}
	ro := got.Maps[".rodata"]
	if ro == nil {
		t.Fatal("no .rodata map")
	}
	if info, err := ro.Info(); err != nil || !info.Frozen() {
		t.Errorf(".rodata not frozen (%v)", err)
	}
	want.Close()
	got.Close()
	if after := openFDs(t); after != before {
		t.Errorf("%d file descriptors open after Close, %d before", after, before)
	}
}

// TestLoadRejectedClosesEverything: when the verifier rejects some of a
// datapath's programs, all of them are named, sorted, each with its log,
// and nothing Load created stays open.
func TestLoadRejectedClosesEverything(t *testing.T) {
	requireRoot(t)
	dir, m := datapath(t)
	spec, _, err := loader.NodeSpec(dir, m, "n1")
	if err != nil {
		t.Fatal(err)
	}
	broken := []string{bpf.ProgToNetdev, bpf.ProgFromContainer}
	for _, name := range broken {
		spec.Programs[name].Instructions = asm.Instructions{
			asm.LoadMem(asm.R0, asm.R1, 4000, asm.Word), // outside the context
			asm.Return(),
		}
	}
	slices.Sort(broken)
	before := openFDs(t)
	_, err = loader.Load(spec, loader.Options{Variant: "broken"})
	if after := openFDs(t); after != before {
		t.Errorf("%d file descriptors open after a rejected Load, %d before", after, before)
	}
	var le *loader.LoadError
	if !errors.As(err, &le) {
		t.Fatalf("error %v, want a *LoadError", err)
	}
	var names []string
	for _, pe := range le.Programs {
		names = append(names, pe.Program)
		if !strings.Contains(pe.Error(), "invalid bpf_context access") || len(pe.Log) == 0 {
			t.Errorf("program %s: %v with %d log lines, want the verifier's complaint and its log", pe.Program, pe, len(pe.Log))
		}
	}
	if diff := cmp.Diff(broken, names); diff != "" {
		t.Errorf("rejected programs (-want +got):\n%s", diff)
	}
	if want := `loading variant "broken": the verifier rejects programs ` + strings.Join(broken, ", "); err.Error() != want {
		t.Errorf("Error() = %q\nwant       %q", err.Error(), want)
	}
}

// BenchmarkLoad loads a datapath's every program the way Load does (maps
// first, then the programs concurrently) and, for comparison, as one
// cilium/ebpf collection (one program after another). To compare them
// under the same machine load, run -bench BenchmarkLoad/loader and
// -bench BenchmarkLoad/collection alternately, several times.
func BenchmarkLoad(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("SKIPPED: loading BPF programs needs root")
	}
	dir, m := datapath(b)
	spec, _, err := loader.NodeSpec(dir, m, "n1")
	if err != nil {
		b.Fatal(err)
	}
	b.Run("loader", func(b *testing.B) {
		for range b.N {
			coll, err := loader.Load(spec, loader.Options{})
			if err != nil {
				b.Fatalf("Load: %+v", err)
			}
			coll.Close()
		}
	})
	b.Run("collection", func(b *testing.B) {
		whole := spec.Copy()
		for _, ms := range whole.Maps {
			ms.Pinning = ebpf.PinNone
		}
		for range b.N {
			coll, err := ebpf.NewCollection(whole)
			if err != nil {
				b.Fatal(err)
			}
			coll.Close()
		}
	})
}

func TestLoadUnknownProgram(t *testing.T) {
	dir, m := datapath(t)
	spec, err := loader.VariantSpec(dir, &m.Variants[0])
	if err != nil {
		t.Fatal(err)
	}
	_, err = loader.Load(spec, loader.Options{Programs: []string{"nope"}})
	if err == nil || !strings.Contains(err.Error(), `no program "nope"`) {
		t.Errorf("error %v, want the missing program named", err)
	}
}

func TestErrNotPermitted(t *testing.T) {
	if !errors.Is(loader.ErrNotPermitted, syscall.EPERM) {
		t.Errorf("ErrNotPermitted does not wrap EPERM")
	}
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
