package scenario

import (
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"unsafe"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"
	"gopkg.in/yaml.v3"

	"github.com/dpforge/dpforge/bpf/packet"
)

const simple = `
name: simple
program: fixture_fwd
maps:
  routes:
    - key: 10.0.2.0/24
      value: {ifindex: 11, mac: "02:00:00:00:02:07"}
packet:
  eth: {src: "02:00:00:00:01:05", dst: "02:00:00:00:00:aa"}
  ipv4: {src: 10.0.1.5, dst: 10.0.2.7}
  udp: {sport: 5000, dport: 53}
expect:
  verdict: TC_ACT_REDIRECT
`

func mustParse(t testing.TB, src string) *Scenario {
	t.Helper()
	s, err := Parse(t.Name()+".yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestSkbCtxLayout checks the Go mirror of __sk_buff against the running
// kernel's BTF.
func TestSkbCtxLayout(t *testing.T) {
	if n := binary.Size(skbCtx{}); n != skbCtxSize || unsafe.Sizeof(skbCtx{}) != skbCtxSize {
		t.Fatalf("skbCtx: binary size %d, memory size %d, want %d", n, unsafe.Sizeof(skbCtx{}), skbCtxSize)
	}
	spec, err := btf.LoadKernelSpec()
	if err != nil {
		t.Skipf("SKIP: no kernel BTF to check the layout against: %v", err)
	}
	var sk *btf.Struct
	if err := spec.TypeByName("__sk_buff", &sk); err != nil {
		t.Fatal(err)
	}
	offsets := map[string]uint32{}
	for _, m := range sk.Members {
		offsets[m.Name] = uint32(m.Offset) / 8
	}
	typ := reflect.TypeFor[skbCtx]()
	cNames := map[string]string{
		"Mark": "mark", "Priority": "priority", "IngressIfindex": "ingress_ifindex", "Ifindex": "ifindex",
		"CB": "cb", "Tstamp": "tstamp", "WireLen": "wire_len", "GSOSegs": "gso_segs", "GSOSize": "gso_size",
		"HWTstamp": "hwtstamp",
	}
	for i := range typ.NumField() {
		f := typ.Field(i)
		if f.Name == "_" {
			continue
		}
		off, ok := offsets[cNames[f.Name]]
		if !ok {
			t.Errorf("kernel __sk_buff has no %s", cNames[f.Name])
			continue
		}
		if uint32(f.Offset) != off {
			t.Errorf("%s at %d, kernel __sk_buff.%s at %d", f.Name, f.Offset, cNames[f.Name], off)
		}
	}
	if sk.Size < skbCtxSize {
		t.Logf("kernel __sk_buff is %d bytes; the zero tail is accepted", sk.Size)
	}
}

func TestApplies(t *testing.T) {
	s := mustParse(t, `
name: x
program: p
applies:
  all: [ENABLE_IPV4, ENABLE_HOST_ROUTING]
  none: [TUNNEL_MODE, "DSR_ENCAP_MODE=DSR_ENCAP_NONE"]
  any: [TUNNEL_PROTOCOL=2, ENABLE_NODEPORT]
packet: {raw: "0200000000aa0200000001050800"}
`)
	for _, tc := range []struct {
		defines map[string]string
		want    bool
	}{
		{map[string]string{"ENABLE_IPV4": "1", "ENABLE_HOST_ROUTING": "1", "ENABLE_NODEPORT": "1"}, true},
		{map[string]string{"ENABLE_IPV4": "1", "ENABLE_HOST_ROUTING": "1", "TUNNEL_PROTOCOL": "2"}, true},
		{map[string]string{"ENABLE_IPV4": "1", "ENABLE_HOST_ROUTING": "1", "TUNNEL_PROTOCOL": "1"}, false},
		{map[string]string{"ENABLE_IPV4": "1", "ENABLE_NODEPORT": "1"}, false},
		{map[string]string{"ENABLE_IPV4": "1", "ENABLE_HOST_ROUTING": "1", "ENABLE_NODEPORT": "1", "TUNNEL_MODE": "1"}, false},
		{map[string]string{"ENABLE_IPV4": "1", "ENABLE_HOST_ROUTING": "1", "ENABLE_NODEPORT": "1", "DSR_ENCAP_MODE": "DSR_ENCAP_NONE"}, false},
		{map[string]string{"ENABLE_IPV4": "1", "ENABLE_HOST_ROUTING": "1", "ENABLE_NODEPORT": "1", "DSR_ENCAP_MODE": "2"}, true},
	} {
		if got := s.Applies(tc.defines); got != tc.want {
			t.Errorf("Applies(%v) = %v, want %v", tc.defines, got, tc.want)
		}
	}
	if !(&Scenario{}).Applies(nil) {
		t.Error("an empty condition must apply to every variant")
	}
}

func TestParseDocuments(t *testing.T) {
	for _, tc := range []struct{ src, want string }{
		{"", "empty scenario [missing-key]"},
		{simple + "---\nname: other\n", "more than one YAML document; a file holds one scenario [syntax]"},
		{"name: a b\nprogram: p\npacket: {raw: 0200000000aa0200000001050800}\n", `name "a b" must be letters, digits, '.', '_' and '-'`},
		{"name: a\nprogram: p\npacket: {raw: 0200}\n", ""}, // too short, but only Check knows
	} {
		_, err := Parse("x.yaml", []byte(tc.src))
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("Parse(%q): %v", tc.src, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("Parse(%q) = %v, want %q", tc.src, err, tc.want)
		}
	}
}

func TestLoadDir(t *testing.T) {
	dir := t.TempDir()
	write := func(name, src string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("b.yaml", simple)
	write("a.yml", strings.Replace(simple, "name: simple", "name: first", 1))
	write("notes.txt", "not a scenario")
	got, err := LoadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Name != "first" || got[1].Name != "simple" {
		t.Fatalf("LoadDir: got %d scenarios, want first and simple in file name order", len(got))
	}

	write("c.yaml", simple)
	write("d.yaml", "name: broken\nprogram: p\npaket: {}\n")
	_, err = LoadDir(dir)
	var se *Error
	if !errors.As(err, &se) || len(se.Diagnostics) != 3 {
		t.Fatalf("got %v, want three diagnostics", err)
	}
	want := []string{
		filepath.Join(dir, "c.yaml") + `:2:7: error: scenario name "simple" is also used at ` + filepath.Join(dir, "b.yaml") + ":2 [duplicate]",
		filepath.Join(dir, "d.yaml") + `:1:1: error: missing key "packet" (or "steps") [missing-key]`,
		filepath.Join(dir, "d.yaml") + `:3:1: error: unknown key "paket", did you mean "packet"?`,
	}
	for i, w := range want {
		if !strings.HasPrefix(se.Diagnostics[i].String(), w) {
			t.Errorf("diagnostic %d: got %q, want prefix %q", i, se.Diagnostics[i], w)
		}
	}
}

func TestRunResult(t *testing.T) {
	requireRoot(t)
	spec := fixture(t)
	s := mustParse(t, simple+`ctx: {ingress_ifindex: 3, priority: 6, cb: [0, 9]}
`)
	res, err := Run(spec, s)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Passed() || len(res.Runs) != 1 {
		t.Fatal(res.Report())
	}
	r := res.Runs[0]
	in, _ := s.Packet.Marshal()
	if r.Verdict != TCActRedirect || len(r.Output) != len(in) || r.Packet.UDP == nil || r.Packet.IPv4.TTL != 63 {
		t.Errorf("run: verdict %s, %d output bytes for %d in, packet %s", r.Verdict, len(r.Output), len(in), r.Packet)
	}
	if *r.Ctx.IngressIfindex != 3 || *r.Ctx.Priority != 6 || r.Ctx.CB[1] != 9 || *r.Ctx.WireLen != uint32(len(in)) {
		t.Errorf("ctx out: %+v", r.Ctx)
	}
	if res.Report() != "PASS simple (TestRunResult.yaml)\n" {
		t.Errorf("report %q", res.Report())
	}
	out, err := yaml.Marshal(res)
	if err != nil || !strings.Contains(string(out), "verdict: TC_ACT_REDIRECT") || !strings.Contains(string(out), "ttl: 63") {
		t.Errorf("result YAML (%v):\n%s", err, out)
	}
	// The output packet decodes back in the notation of scenarios.
	var back struct {
		Runs []struct{ Packet *packet.Packet }
	}
	if err := yaml.Unmarshal(out, &back); err != nil || len(back.Runs) != 1 || back.Runs[0].Packet.IPv4.TTL != 63 {
		t.Errorf("result packet does not decode back (%v):\n%s", err, out)
	}
}

func TestRunErrors(t *testing.T) {
	requireRoot(t)
	spec := fixture(t)

	t.Run("kernel rejects entry", func(t *testing.T) {
		s := mustParse(t, strings.Replace(simple, "- key: 10.0.2.0/24", "- key: {prefixlen: 40, addr: 10.0.2.0}", 1))
		_, err := Run(spec, s)
		var se *Error
		if !errors.As(err, &se) || se.Diagnostics[0].Rule != ruleRejected || se.Diagnostics[0].Pos.Line != 6 {
			t.Fatalf("got %v, want a rejected diagnostic on line 6", err)
		}
		if !strings.Contains(err.Error(), `map "routes" rejected the entry`) {
			t.Error(err)
		}
	})

	t.Run("ctx ifindex", func(t *testing.T) {
		s := mustParse(t, simple+"ctx: {ifindex: 99999}\n")
		_, err := Run(spec, s)
		if err == nil || !strings.Contains(err.Error(), "ctx ifindex 99999 is not an interface of this network namespace") {
			t.Fatalf("got %v", err)
		}
	})

	t.Run("verifier log", func(t *testing.T) {
		bad := buildObject(t, "unverifiable.c")
		s := mustParse(t, "name: bad\nprogram: unchecked\npacket: {raw: 0200000000aa0200000001050800}\n")
		_, err := Run(bad, s)
		var le *LoadError
		var ve *ebpf.VerifierError
		if !errors.As(err, &le) || !errors.As(err, &ve) {
			t.Fatalf("got %v (%T), want a *LoadError wrapping a *ebpf.VerifierError", err, err)
		}
		// The full log, not only its last line: it starts at instruction 0.
		if msg := err.Error(); !strings.Contains(msg, "verifier log of unchecked:") || !strings.Contains(msg, "0: (") ||
			!strings.Contains(msg, "invalid access to packet") {
			t.Errorf("error lacks the full verifier log:\n%s", msg)
		}
	})

	t.Run("pinning cleared", func(t *testing.T) {
		if spec.Maps["routes"].Pinning != ebpf.PinByName {
			t.Fatal("fixture's routes map should be pinned by name")
		}
		if _, err := Run(spec, mustParse(t, simple)); err != nil {
			t.Fatal(err)
		}
		if spec.Maps["routes"].Pinning != ebpf.PinByName {
			t.Error("Run changed the caller's spec")
		}
	})
}

// BenchmarkRun measures the fixture's routed path per packet, timed by the
// kernel. The kernel reruns the program on the same packet, so the scenario
// uses a route that leaves the TTL alone: with a decrement, the path turns
// into a drop after 63 runs.
func BenchmarkRun(b *testing.B) {
	requireRoot(b)
	spec := fixture(b)
	s, err := Load("testdata/pass/route-no-ttl.yaml")
	if err != nil {
		b.Fatal(err)
	}
	verdict, perRun, err := Benchmark(spec, s, b.N)
	if err != nil {
		b.Fatal(err)
	}
	if verdict != *s.Expect.Verdict {
		b.Fatalf("verdict %s, want %s", verdict, s.Expect.Verdict)
	}
	b.ReportMetric(float64(perRun.Nanoseconds()), "ns/packet")
}

// BenchmarkScenario measures a whole Run: check, load, write, run, compare.
func BenchmarkScenario(b *testing.B) {
	requireRoot(b)
	spec := fixture(b)
	s, err := Load("testdata/pass/route-redirect.yaml")
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if res, err := Run(spec, s); err != nil || !res.Passed() {
			b.Fatal(err, res.Report())
		}
	}
}
