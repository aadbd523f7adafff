package bpf

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"
	"github.com/google/go-cmp/cmp"
)

// clang is the compiler the tests drive; override with DPFORGE_CC, as for
// dpforge build.
func clang() string {
	if cc := os.Getenv("DPFORGE_CC"); cc != "" {
		return cc
	}
	return "clang-19"
}

// variant is one macro combination plus the clang target and ISA.
type variant struct {
	name   string
	macros []string // NAME or NAME=VALUE
	target string   // bpfel (default) or bpfeb
	mcpu   string   // v1, v2 (default) or v3
	flags  []string // extra clang flags
}

func (v variant) has(macro string) bool {
	return slices.ContainsFunc(v.macros, func(m string) bool {
		name, _, _ := strings.Cut(m, "=")
		return name == macro
	})
}

// header renders dp_variant.h the way the generator is expected to.
func (v variant) header() []byte {
	var b bytes.Buffer
	b.WriteString("/* test variant " + v.name + " */\n")
	for _, m := range v.macros {
		name, value, ok := strings.Cut(m, "=")
		if !ok {
			value = "1"
		}
		fmt.Fprintf(&b, "#define %s %s\n", name, value)
	}
	return b.Bytes()
}

var allFeatures = []string{
	"ENABLE_IPV4", "ENABLE_IPV6", "ENABLE_HOST_ROUTING", "ENABLE_NODEPORT",
	"ENABLE_DSR", "DSR_ENCAP_MODE=DSR_ENCAP_NONE", "ENABLE_MASQUERADE_IPV4",
	"ENABLE_MASQUERADE_IPV6", "ENABLE_IP_MASQ_AGENT_IPV4", "ENABLE_BANDWIDTH_MANAGER",
	"ENABLE_HOST_FIREWALL", "ENABLE_EGRESS_GATEWAY", "ENABLE_VTEP", "HAVE_ENCAP", "HAVE_RINGBUF",
	"ENABLE_SESSION_AFFINITY",
}

// Everything except host routing and the ring buffer: the largest legacy
// object. Kernels before 5.2 (4096-instruction limit) cannot take it; the
// old-kernel variants below are the shapes they get, and dpforge verify
// refuses a compiled-in-values variant over the limit.
var allLegacy = slices.DeleteFunc(slices.Clone(allFeatures), func(m string) bool {
	return m == "ENABLE_HOST_ROUTING" || m == "HAVE_RINGBUF"
})

var variants = []variant{
	{name: "minimal", macros: []string{"ENABLE_IPV4"}},
	{name: "minimal-ringbuf", macros: []string{"ENABLE_IPV4", "HAVE_RINGBUF"}, mcpu: "v3"},
	{name: "tunnel-vxlan", macros: []string{"ENABLE_IPV4", "TUNNEL_MODE", "HAVE_ENCAP",
		"TUNNEL_PROTOCOL=TUNNEL_PROTOCOL_VXLAN", "ENABLE_NODEPORT", "ENABLE_MASQUERADE_IPV4"}},
	{name: "tunnel-geneve", macros: []string{"ENABLE_IPV4", "ENABLE_IPV6", "TUNNEL_MODE", "HAVE_ENCAP",
		"TUNNEL_PROTOCOL=TUNNEL_PROTOCOL_GENEVE"}, mcpu: "v3", flags: []string{"-std=gnu89"}},
	{name: "host-routing", macros: []string{"ENABLE_IPV4", "ENABLE_HOST_ROUTING"}, mcpu: "v3"},
	{name: "nodeport", macros: []string{"ENABLE_IPV4", "ENABLE_NODEPORT"}},
	{name: "nodeport-maglev-affinity", macros: []string{"ENABLE_IPV4", "ENABLE_NODEPORT",
		"ENABLE_SESSION_AFFINITY", "LB_SELECTION=LB_SELECTION_MAGLEV", "ENABLE_MASQUERADE_IPV4"}},
	{name: "dsr-hybrid", macros: []string{"ENABLE_IPV4", "ENABLE_NODEPORT", "ENABLE_DSR",
		"DSR_ENCAP_MODE=1", "ENABLE_DSR_HYBRID", "ENABLE_MASQUERADE_IPV4"}},
	{name: "ipv4-ipv6", macros: []string{"ENABLE_IPV4", "ENABLE_IPV6"}},
	{name: "ipv6-only", macros: []string{"ENABLE_IPV6", "ENABLE_MASQUERADE_IPV6"}},
	{name: "all-legacy", macros: allLegacy},
	{name: "all-legacy-v1", macros: allLegacy, mcpu: "v1"}, // bpf2go's default ISA
	{name: "all-features", macros: allFeatures, mcpu: "v3"},
	// Also proves the sources need no libc or compiler headers.
	{name: "all-features-v2", macros: allFeatures, mcpu: "v2", flags: []string{"-nostdinc", "-isystem", "/usr/include"}},
	{name: "all-features-bpfeb", macros: allFeatures, target: "bpfeb", mcpu: "v3"},
	{name: "minimal-bpfeb", macros: []string{"ENABLE_IPV4"}, target: "bpfeb"},
}

func variantByName(t testing.TB, name string) variant {
	t.Helper()
	for _, v := range variants {
		if v.name == name {
			return v
		}
	}
	t.Fatalf("no variant %q", name)
	return variant{}
}

var (
	srcOnce sync.Once
	srcDir  string
	srcErr  error

	objMu    sync.Mutex
	objCache = map[string]*object{}
)

// object is one variant's compilation, shared by all tests of a run.
type object struct {
	once sync.Once
	path string
	err  error
}

// sourceDir writes the embedded Source once per test binary, so that the
// tests compile exactly what the generator will get.
func sourceDir() (string, error) {
	srcOnce.Do(func() {
		srcDir, srcErr = os.MkdirTemp("", "dpforge-bpf-src-")
		if srcErr != nil {
			return
		}
		srcErr = os.CopyFS(srcDir, Source)
	})
	return srcDir, srcErr
}

func TestMain(m *testing.M) {
	code := m.Run()
	if srcDir != "" {
		os.RemoveAll(srcDir)
	}
	for _, o := range objCache {
		if o.path != "" {
			os.RemoveAll(filepath.Dir(o.path))
		}
	}
	os.Exit(code)
}

// compile builds v with clang and returns the object's path. Each variant
// is compiled once per test binary; different variants in parallel.
func compile(t testing.TB, v variant) string {
	t.Helper()
	objMu.Lock()
	o := objCache[v.name]
	if o == nil {
		o = &object{}
		objCache[v.name] = o
	}
	objMu.Unlock()

	o.once.Do(func() { o.path, o.err = compileVariant(v) })
	if errors.Is(o.err, exec.ErrNotFound) {
		t.Skipf("%s not installed: %v", clang(), o.err)
	}
	if o.err != nil {
		t.Fatal(o.err)
	}
	return o.path
}

func compileVariant(v variant) (_ string, err error) {
	src, err := sourceDir()
	if err != nil {
		return "", fmt.Errorf("writing sources: %w", err)
	}
	dir, err := os.MkdirTemp("", "dpforge-bpf-"+v.name+"-")
	if err != nil {
		return "", err
	}
	defer func() {
		if err != nil { // TestMain removes only the directories of objects
			os.RemoveAll(dir)
		}
	}()
	if err := os.WriteFile(filepath.Join(dir, VariantHeader), v.header(), 0o644); err != nil {
		return "", err
	}
	target, mcpu := v.target, v.mcpu
	if target == "" {
		target = "bpfel"
	}
	if mcpu == "" {
		mcpu = "v2"
	}
	obj := filepath.Join(dir, v.name+".o")
	// Stricter than the generator's -Wall -Werror: Cilium's warning set,
	// so the sources stay clean for whoever builds them with it.
	args := []string{
		"-O2", "-g", "-target", target, "-mcpu=" + mcpu,
		"-Wall", "-Wextra", "-Wshadow", "-Wimplicit-int-conversion", "-Wenum-conversion",
		"-Wimplicit-fallthrough", "-Wdeclaration-after-statement", "-Werror",
		"-I" + dir, "-I/usr/include/x86_64-linux-gnu",
		"-c", filepath.Join(src, MainFile), "-o", obj,
	}
	args = append(args, v.flags...)
	cmd := exec.Command(clang(), args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		if errors.Is(err, exec.ErrNotFound) {
			return "", err
		}
		return "", fmt.Errorf("compiling variant %q: %w\n%s", v.name, err, stderr.String())
	}
	return obj, nil
}

func loadSpec(t testing.TB, v variant) *ebpf.CollectionSpec {
	t.Helper()
	spec, err := ebpf.LoadCollectionSpec(compile(t, v))
	if err != nil {
		t.Fatalf("variant %q: %v", v.name, err)
	}
	return spec
}

func sortedKeys[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}

// mirrors maps each C struct to its Go mirror.
var mirrors = map[string]any{
	"affinity_key":         AffinityKey{},
	"affinity_value":       AffinityValue{},
	"backend_key":          BackendKey{},
	"backend_value":        BackendValue{},
	"ct_entry":             CTEntry{},
	"egw_key":              EgressGWKey{},
	"egw_value":            EgressGWValue{},
	"endpoint_info":        EndpointInfo{},
	"endpoint_key":         EndpointKey{},
	"endpoint6_key":        Endpoint6Key{},
	"frag6_key":            Frag6Key{},
	"lpm6_key":             LPM6Key{},
	"tuple6":               Tuple6{},
	"event_rate":           EventRate{},
	"frag_key":             FragKey{},
	"frag_ports":           FragPorts{},
	"lpm4_key":             LPM4Key{},
	"maglev_key":           MaglevKey{},
	"maglev_value":         MaglevValue{},
	"metrics_value":        MetricsValue{},
	"nonmasq_value":        NonMasqValue{},
	"policy_entry":         PolicyEntry{},
	"policy_key":           PolicyKey{},
	"remote_endpoint_info": RemoteEndpointInfo{},
	"revnat_key":           RevNATKey{},
	"revnat_value":         RevNATValue{},
	"snat_entry":           SNATEntry{},
	"svc_key":              SvcKey{},
	"svc_value":            SvcValue{},
	"throttle_key":         ThrottleKey{},
	"throttle_value":       ThrottleValue{},
	"trace_info":           TraceInfo{},
	"tuple4":               Tuple4{},
	"vtep_key":             VTEPKey{},
	"vtep_value":           VTEPValue{},
}

// mapTypes gives each map's Go key and value mirror; dp_events has none.
var mapTypes = map[string][2]any{
	MapAffinity:   {AffinityKey{}, AffinityValue{}},
	MapBackends:   {BackendKey{}, BackendValue{}},
	MapConntrack6: {Tuple6{}, CTEntry{}},
	MapConntrack:  {Tuple4{}, CTEntry{}},
	MapEgressGW:   {EgressGWKey{}, EgressGWValue{}},
	MapEndpoints6: {Endpoint6Key{}, EndpointInfo{}},
	MapEndpoints:  {EndpointKey{}, EndpointInfo{}},
	MapEventRate:  {uint32(0), EventRate{}},
	MapFrags6:     {Frag6Key{}, FragPorts{}},
	MapFrags:      {FragKey{}, FragPorts{}},
	MapIPCache6:   {LPM6Key{}, RemoteEndpointInfo{}},
	MapIPCache:    {LPM4Key{}, RemoteEndpointInfo{}},
	MapMaglev:     {MaglevKey{}, MaglevValue{}},
	MapMetrics:    {uint32(0), MetricsValue{}},
	MapNonMasq:    {LPM4Key{}, NonMasqValue{}},
	MapPolicy:     {PolicyKey{}, PolicyEntry{}},
	MapPolicyRev:  {uint32(0), uint32(0)},
	MapRevNAT:     {RevNATKey{}, RevNATValue{}},
	MapSNAT:       {Tuple4{}, SNATEntry{}},
	MapServices:   {SvcKey{}, SvcValue{}},
	MapThrottle:   {ThrottleKey{}, ThrottleValue{}},
	MapTrace:      {uint32(0), TraceInfo{}},
	MapVTEP:       {VTEPKey{}, VTEPValue{}},
}

// variableSizes are the C sizes of the load-time variables.
var variableSizes = map[string]uint32{
	VarClusterID: 4, VarEncapIfindex: 4, VarEventsBurst: 4, VarEventsRate: 4, VarLoopbackIPv4: 4, VarMaglevTableSize: 4,
	VarMTU: 4, VarNativeIfindex: 4,
	VarNodeIPv4: 4, VarNodeMAC: 6, VarNodePortMax: 2, VarNodePortMin: 2,
	VarSNATExclIPv4: 4, VarSNATExclIPv4Len: 4, VarSNATPortMax: 2, VarSNATPortMin: 2,
	VarTrace: 4, VarTunnelPort: 2, VarVTEPMask: 4,
}

func TestNameListsSorted(t *testing.T) {
	for name, list := range map[string][]string{"Programs": Programs, "Maps": Maps, "Variables": Variables} {
		if !slices.IsSorted(list) {
			t.Errorf("%s is not sorted: %q", name, list)
		}
	}
	if !slices.IsSortedFunc(Macros, func(a, b Macro) int { return strings.Compare(a.Name, b.Name) }) {
		t.Error("Macros is not sorted by name")
	}
	if got := sortedKeys(mapTypes); !slices.Equal(got, slices.DeleteFunc(slices.Clone(Maps), func(m string) bool { return m == MapEvents })) {
		t.Errorf("mapTypes does not cover Maps: %q", got)
	}
}

// TestVariantsSpec compiles every variant and checks that they expose the
// same programs, maps and variables, with the layouts the Go mirrors have.
func TestVariantsSpec(t *testing.T) {
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			t.Parallel()
			spec := loadSpec(t, v)

			if diff := cmp.Diff(Programs, sortedKeys(spec.Programs)); diff != "" {
				t.Errorf("programs (-want +got):\n%s", diff)
			}
			// Sections such as .rodata show up as maps too; they are not ours to list.
			ours := slices.DeleteFunc(sortedKeys(spec.Maps), func(m string) bool { return strings.HasPrefix(m, ".") })
			if diff := cmp.Diff(Maps, ours); diff != "" {
				t.Errorf("maps (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(Variables, sortedKeys(spec.Variables)); diff != "" {
				t.Errorf("variables (-want +got):\n%s", diff)
			}
			for name, p := range spec.Programs {
				if p.Type != ebpf.SchedCLS || p.SectionName != "tc" {
					t.Errorf("program %s: type %s section %q, want SchedCLS in \"tc\"", name, p.Type, p.SectionName)
				}
			}
			for name, vs := range spec.Variables {
				if !vs.Constant() {
					t.Errorf("variable %s is in %s, want .rodata", name, vs.SectionName)
				}
				if want := variableSizes[name]; vs.Size() != want {
					t.Errorf("variable %s: size %d, want %d", name, vs.Size(), want)
				}
			}

			for name, kv := range mapTypes {
				ms := spec.Maps[name]
				if ms == nil {
					continue
				}
				if ms.Pinning != ebpf.PinByName {
					t.Errorf("map %s is not pinned by name", name)
				}
				if got, want := ms.KeySize, uint32(binary.Size(kv[0])); got != want {
					t.Errorf("map %s: key size %d, Go %T has %d", name, got, kv[0], want)
				}
				if got, want := ms.ValueSize, uint32(binary.Size(kv[1])); got != want {
					t.Errorf("map %s: value size %d, Go %T has %d", name, got, kv[1], want)
				}
			}
			for name, ik := range IndexedKeys {
				ms := spec.Maps[name]
				if ms == nil {
					continue
				}
				if ms.Type != ebpf.Array && ms.Type != ebpf.PerCPUArray {
					t.Errorf("map %s is a %s, want an array: its index packs a %s", name, ms.Type, ik.Type.Name)
				}
			}
			if ms := spec.Maps[MapMetrics]; ms != nil {
				// The largest slot MetricsKey.Index can return must exist.
				last, _ := MetricsKey{Reason: 255, Dir: DirEgress, Hook: 7}.Index()
				if ms.MaxEntries != last+1 {
					t.Errorf("map %s has %d entries, want %d: one per reason, direction and hook", MapMetrics, ms.MaxEntries, last+1)
				}
			}
			wantEvents := ebpf.PerfEventArray
			if v.has("HAVE_RINGBUF") {
				wantEvents = ebpf.RingBuf
			}
			if ms := spec.Maps[MapEvents]; ms != nil && ms.Type != wantEvents {
				t.Errorf("events map is %s, want %s", ms.Type, wantEvents)
			}

			for cname, goval := range mirrors {
				var s *btf.Struct
				if err := spec.Types.TypeByName(cname, &s); err != nil {
					t.Errorf("BTF struct %s: %v", cname, err)
					continue
				}
				if got, want := s.Size, uint32(binary.Size(goval)); got != want {
					t.Errorf("struct %s: BTF size %d, Go %T has %d", cname, got, goval, want)
				}
			}

		})
	}
}

const asmInsnSize = 8

func TestDropEventSize(t *testing.T) {
	// Not in BTF (only a local variable in C); the C side has a
	// _Static_assert for 40, and the ring buffer smoke test reads one.
	if got := binary.Size(DropEvent{}); got != 40 {
		t.Errorf("DropEvent is %d bytes, the C struct drop_event is 40", got)
	}
}

func requireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("SKIPPED: loading BPF programs needs root (CAP_BPF, CAP_NET_ADMIN); run the tests as root, as CI does")
	}
}

// newCollection loads a variant without pinning, so tests never touch
// /sys/fs/bpf. vars sets load-time variables.
func newCollection(t testing.TB, v variant, vars map[string]any) *ebpf.Collection {
	t.Helper()
	requireRoot(t)
	spec := loadSpec(t, v)
	for _, m := range spec.Maps {
		m.Pinning = ebpf.PinNone
	}
	for name, val := range vars {
		if err := spec.Variables[name].Set(val); err != nil {
			t.Fatalf("setting %s: %v", name, err)
		}
	}
	coll, err := ebpf.NewCollectionWithOptions(spec, ebpf.CollectionOptions{})
	if err != nil {
		var ve *ebpf.VerifierError
		if errors.As(err, &ve) {
			t.Fatalf("variant %q: verifier rejected a program:\n%+v", v.name, ve)
		}
		t.Fatalf("variant %q: loading: %v", v.name, err)
	}
	t.Cleanup(func() { coll.Close() })
	return coll
}

// TestVariantsLoad loads every little-endian variant into the running
// kernel and logs how many instructions the verifier processed.
func TestVariantsLoad(t *testing.T) {
	requireRoot(t)
	for _, v := range variants {
		if v.target == "bpfeb" {
			continue // compile-only: the host is little endian
		}
		t.Run(v.name, func(t *testing.T) {
			// Real per-node values: they decide which branches the verifier walks.
			coll := newCollection(t, v, nodeVars)
			spec := loadSpec(t, v)
			var lines []string
			for _, name := range Programs {
				info, err := coll.Programs[name].Info()
				if err != nil {
					t.Fatal(err)
				}
				verified, ok := info.VerifiedInstructions()
				static := spec.Programs[name].Instructions.Size() / asmInsnSize
				if !ok {
					lines = append(lines, fmt.Sprintf("%-19s %5d insns (verified count unavailable)", name, static))
					continue
				}
				lines = append(lines, fmt.Sprintf("%-19s %5d insns, %6d verified", name, static, verified))
			}
			t.Logf("variant %s (%s):\n%s", v.name, strings.Join(v.macros, " "), strings.Join(lines, "\n"))
		})
	}
}

// TestSourceEmbedded guards the embed pattern: every header is shipped.
func TestSourceEmbedded(t *testing.T) {
	var embedded []string
	err := fs.WalkDir(Source, ".", func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			embedded = append(embedded, path)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	onDisk, err := filepath.Glob("include/*.h")
	if err != nil {
		t.Fatal(err)
	}
	onDisk = append(onDisk, MainFile)
	slices.Sort(onDisk)
	if diff := cmp.Diff(onDisk, embedded); diff != "" {
		t.Errorf("embedded sources (-disk +embedded):\n%s", diff)
	}
}

// TestVariantsSameMaps checks that maps are defined identically in every
// variant (a node can switch variants and keep its pinned maps). Only the
// events map's type follows HAVE_RINGBUF.
func TestVariantsSameMaps(t *testing.T) {
	type shape struct {
		Type                 ebpf.MapType
		Key, Value, Max, Flg uint32
	}
	shapes := func(spec *ebpf.CollectionSpec) map[string]shape {
		out := map[string]shape{}
		for _, name := range Maps {
			if name == MapEvents {
				continue
			}
			ms := spec.Maps[name]
			out[name] = shape{ms.Type, ms.KeySize, ms.ValueSize, ms.MaxEntries, ms.Flags}
		}
		return out
	}
	want := shapes(loadSpec(t, variants[0]))
	for _, v := range variants[1:] {
		if diff := cmp.Diff(want, shapes(loadSpec(t, v))); diff != "" {
			t.Errorf("variant %s maps differ from %s (-want +got):\n%s", v.name, variants[0].name, diff)
		}
	}
}

// oldKernelVariants are the shapes nodes on kernels before 5.2 get (the
// seeds' 4.19 node, RHEL 8's 4.18): values compiled in, no global data.
var oldKernelVariants = []variant{
	{name: "old-kernel-tunnel", macros: []string{"DP_STATIC_CONFIG", "ENABLE_IPV4", "TUNNEL_MODE", "HAVE_ENCAP",
		"TUNNEL_PROTOCOL=TUNNEL_PROTOCOL_VXLAN", "ENABLE_NODEPORT", "ENABLE_MASQUERADE_IPV4"}},
	{name: "old-kernel-native", macros: []string{"DP_STATIC_CONFIG", "ENABLE_IPV4", "ENABLE_NODEPORT",
		"ENABLE_MASQUERADE_IPV4", "IPV4_SNAT_EXCLUSION_DST_CIDR=0x0a000000", "IPV4_SNAT_EXCLUSION_DST_CIDR_LEN=8",
		"CLUSTER_ID=0", "MTU=1500", "IPV4_LOOPBACK=0xa9fe2a01", "NODEPORT_PORT_MIN_NAT=32768", "NODEPORT_PORT_MAX_NAT=65535"}},
	{name: "old-kernel-native-v1", macros: []string{"DP_STATIC_CONFIG", "ENABLE_IPV4", "ENABLE_NODEPORT",
		"ENABLE_MASQUERADE_IPV4", "IPV4_SNAT_EXCLUSION_DST_CIDR=0x0a000000", "IPV4_SNAT_EXCLUSION_DST_CIDR_LEN=8"}, mcpu: "v1"},
}

// TestOldKernelVariants checks what kernels before 5.2 need of an object:
// the same programs and maps plus dp_node_cfg, no variables (no global
// data), and no program over their 4096-instruction limit.
func TestOldKernelVariants(t *testing.T) {
	for _, v := range oldKernelVariants {
		t.Run(v.name, func(t *testing.T) {
			t.Parallel()
			spec := loadSpec(t, v)
			if diff := cmp.Diff(Programs, sortedKeys(spec.Programs)); diff != "" {
				t.Errorf("programs (-want +got):\n%s", diff)
			}
			wantMaps := slices.Sorted(slices.Values(append(slices.Clone(Maps), "dp_node_cfg")))
			if diff := cmp.Diff(wantMaps, sortedKeys(spec.Maps)); diff != "" {
				t.Errorf("maps (-want +got; no .rodata, .data or .bss):\n%s", diff)
			}
			if len(spec.Variables) > 0 {
				t.Errorf("variables %q: kernels before 5.2 have no global data", sortedKeys(spec.Variables))
			}
			// Constants the compiler placed there (an initializer copied
			// from .rodata) carry no variable: read the sections themselves.
			f, err := elf.Open(compile(t, v))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			for _, sec := range f.Sections {
				for _, global := range []string{".rodata", ".data", ".bss"} {
					if sec.Name == global || strings.HasPrefix(sec.Name, global+".") {
						t.Errorf("section %s (%d bytes): kernels before 5.2 have no global data", sec.Name, sec.Size)
					}
				}
			}
			for name, p := range spec.Programs {
				if n := p.Instructions.Size() / asmInsnSize; n > 4096 {
					t.Errorf("program %s: %d instructions, kernels before 5.2 allow 4096", name, n)
				}
				// Their objects stay inlined (__dp_outline in include/common.h).
				for i, ins := range p.Instructions {
					if ins.IsFunctionCall() || (i > 0 && ins.Symbol() != "") { // a symbol starts a function, with or without BTF
						t.Errorf("program %s: BPF-to-BPF call or subprogram at instruction %d: kernels before 4.16 have none", name, i)
						break
					}
				}
			}
		})
	}
}

// TestMetricsIndex checks that every key a program can count under has a
// slot of its own, that the slot's key is the key, and that the IndexedKey
// byte form agrees.
func TestMetricsIndex(t *testing.T) {
	seen := map[uint32]MetricsKey{}
	for r := range 256 {
		for _, d := range []Dir{DirIngress, DirEgress} {
			for h := range Hook(8) {
				k := MetricsKey{Reason: Reason(r), Dir: d, Hook: h}
				i, ok := k.Index()
				if !ok {
					t.Fatalf("%+v has no slot", k)
				}
				if prev, dup := seen[i]; dup {
					t.Fatalf("%+v and %+v share slot %d", prev, k, i)
				}
				seen[i] = k
				if got := MetricsKeyAt(i); got != k {
					t.Errorf("MetricsKeyAt(%d) = %+v, want %+v", i, got, k)
				}
				ik := IndexedKeys[MapMetrics]
				b := ik.Key(i)
				if j, ok := ik.Index(b); !ok || j != i {
					t.Errorf("IndexedKey: %x indexes %d (%v), want %d", b, j, ok, i)
				}
			}
		}
	}
	if got, want := IndexedKeys[MapMetrics].Type.Size, uint32(binary.Size(MetricsKey{})); got != want {
		t.Errorf("IndexedKey type of %s: %d bytes, MetricsKey has %d", MapMetrics, got, want)
	}
	for _, k := range []MetricsKey{{Dir: 0, Hook: 1}, {Dir: 3, Hook: 1}, {Dir: DirIngress, Hook: 8}} {
		if i, ok := k.Index(); ok {
			t.Errorf("%+v: slot %d, want none", k, i)
		}
	}
}
