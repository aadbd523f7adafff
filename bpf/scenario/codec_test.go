package scenario

import (
	"encoding/binary"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/cilium/ebpf/btf"
	"gopkg.in/yaml.v3"
)

var (
	u8   = &btf.Typedef{Name: "__u8", Type: &btf.Int{Name: "unsigned char", Size: 1}}
	u16  = &btf.Typedef{Name: "__u16", Type: &btf.Int{Name: "unsigned short", Size: 2}}
	u32  = &btf.Typedef{Name: "__u32", Type: &btf.Int{Name: "unsigned int", Size: 4}}
	u64  = &btf.Typedef{Name: "__u64", Type: &btf.Int{Name: "unsigned long long", Size: 8}}
	s16  = &btf.Typedef{Name: "__s16", Type: &btf.Int{Name: "short", Size: 2, Encoding: btf.Signed}}
	be16 = &btf.Typedef{Name: "__be16", Type: u16}
	be32 = &btf.Typedef{Name: "__be32", Type: u32}
	be64 = &btf.Typedef{Name: "__be64", Type: u64}
	le16 = &btf.Typedef{Name: "__le16", Type: u16}
	char = &btf.Int{Name: "char", Size: 1, Encoding: btf.Signed}
	boo  = &btf.Int{Name: "_Bool", Size: 1, Encoding: btf.Bool}
)

func arr(t btf.Type, n uint32) *btf.Array {
	return &btf.Array{Index: &btf.Int{Name: "__ARRAY_SIZE_TYPE__", Size: 4}, Type: t, Nelems: n}
}

// st builds a struct from name/type pairs laid out with natural alignment.
func st(name string, fields ...any) *btf.Struct {
	s := &btf.Struct{Name: name}
	var off uint32
	for i := 0; i < len(fields); i += 2 {
		t := fields[i+1].(btf.Type)
		size := sizeof(t)
		align := size
		if a, ok := t.(*btf.Array); ok {
			align = sizeof(a.Type)
		}
		switch t.(type) {
		case *btf.Struct, *btf.Union:
			align = 4
		}
		if align > 8 {
			align = 8
		}
		if align > 0 {
			off = (off + align - 1) / align * align
		}
		s.Members = append(s.Members, btf.Member{Name: fields[i].(string), Type: t, Offset: btf.Bits(off * 8)})
		off += size
	}
	s.Size = (off + 3) / 4 * 4
	return s
}

func node(t *testing.T, src string) *yaml.Node {
	t.Helper()
	var n yaml.Node
	if err := yaml.Unmarshal([]byte(src), &n); err != nil {
		t.Fatal(err)
	}
	return n.Content[0]
}

var le = codec{order: binary.LittleEndian}

func TestEncode(t *testing.T) {
	v4addr := &btf.Union{Name: "v4addr", Size: 4, Members: []btf.Member{
		{Name: "be32", Type: be32}, {Name: "addr", Type: arr(u8, 4)}}}
	v6addr := &btf.Union{Name: "v6addr", Size: 16, Members: []btf.Member{
		{Name: "p", Type: st("", "p1", u32, "p2", u32, "p3", u32, "p4", u32)}, {Name: "addr", Type: arr(u8, 16)}}}
	enum := &btf.Enum{Name: "color", Size: 4, Values: []btf.EnumValue{{Name: "RED", Value: 1}, {Name: "BLUE", Value: 7}}}
	bits := &btf.Struct{Name: "bits", Size: 4, Members: []btf.Member{
		{Name: "a", Type: u8, Offset: 0, BitfieldSize: 3},
		{Name: "b", Type: u8, Offset: 3, BitfieldSize: 5},
		{Name: "c", Type: u16, Offset: 16, BitfieldSize: 16}}}
	anon := &btf.Struct{Name: "outer", Size: 8, Members: []btf.Member{
		{Name: "x", Type: u32},
		{Name: "", Type: &btf.Union{Size: 4, Members: []btf.Member{{Name: "y", Type: u32}, {Name: "z", Type: u16}}}, Offset: 32}}}

	for _, tc := range []struct {
		name  string
		typ   btf.Type
		yaml  string
		want  string // hex of the bytes
		codec codec
		back  string // decoded form, if not yaml
	}{
		{"u32 decimal", u32, "258", "02010000", le, ""},
		{"u32 hex", u32, "0x102", "02010000", le, "258"},
		{"u32 ipv4 as on the wire", u32, "10.0.1.5", "0a000105", le, "83951626"},
		{"be16 port", be16, "80", "0050", le, ""},
		{"be32 address", be32, "10.0.1.5", "0a000105", le, ""},
		{"be32 number", be32, "0x0a000105", "0a000105", le, "10.0.1.5"},
		{"be64", be64, "1", "0000000000000001", le, ""},
		{"le16 on big-endian", le16, "1", "0100", codec{order: binary.BigEndian}, ""},
		{"u16 on big-endian", u16, "1", "0001", codec{order: binary.BigEndian}, ""},
		{"s16 negative", s16, "-2", "feff", le, ""},
		{"bool", boo, "true", "01", le, ""},
		{"enum by name", enum, "BLUE", "07000000", le, ""},
		{"enum by number", enum, "1", "01000000", le, "RED"},
		{"enum unnamed value", enum, "3", "03000000", le, ""},
		{"mac", arr(u8, 6), "02:00:00:00:00:aa", "0200000000aa", le, ""},
		{"u8[4] ipv4", arr(u8, 4), "10.0.1.5", "0a000105", le, ""},
		{"u8[16] ipv6", arr(u8, 16), "f00d::1", "f00d0000000000000000000000000001", le, ""},
		{"u8[3] bare hex", arr(u8, 3), "0a0b0c", "0a0b0c", le, "hex:0a0b0c"},
		{"u8[3] list", arr(u8, 3), "[1, 2]", "010200", le, "hex:010200"},
		{"u32[2] list", arr(u32, 2), "[1, 0x10]", "0100000010000000", le, "[1, 16]"},
		{"char text", arr(char, 8), "eth0", "6574683000000000", le, `"eth0"`},
		{"raw hex struct", st("p", "a", u16, "b", u16), "hex:01 02 03 04", "01020304", le, "{a: 513, b: 1027}"},
		{"struct partial", st("p", "a", u16, "b", be16), "{b: 1}", "00000001", le, "{a: 0, b: 1}"},
		{"bitfields little-endian", bits, "{a: 5, b: 3, c: 0x1234}", "1d003412", le, "{a: 5, b: 3, c: 4660}"},
		{"bitfields big-endian", bits, "{a: 5, b: 3, c: 0x1234}", "a3001234", codec{order: binary.BigEndian}, "{a: 5, b: 3, c: 4660}"},
		{"anonymous union flattened", anon, "{x: 1, y: 2}", "0100000002000000", le, "{x: 1, y: 2}"},
		{"union scalar takes first fitting member", v4addr, "10.0.0.1", "0a000001", le, "{addr: 10.0.0.1}"},
		{"union v6 skips struct member", v6addr, "f00d::1", "f00d0000000000000000000000000001", le, "{addr: f00d::1}"},
		{"union by member", v6addr, "{p: {p4: 1}}", "00000000000000000000000001000000", le, "{addr: ::100:0}"},
		{"lpm cidr", st("lpm_key", "prefixlen", u32, "addr", be32), "10.0.0.0/8", "080000000a000000", le, "10.0.0.0/8"},
		{"lpm cidr v6 union", st("lpm6", "prefixlen", u32, "addr", v6addr), "f00d::/16", "10000000f00d0000000000000000000000000000", le, "{prefixlen: 16, addr: {addr: f00d::}}"},
		{"lpm fields", st("lpm_key", "prefixlen", u32, "addr", be32), "{prefixlen: 32, addr: 1.2.3.4}", "2000000001020304", le, "1.2.3.4/32"},
		{"null is zero", u32, "~", "00000000", le, "0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			size := int(sizeof(tc.typ))
			img, probs := tc.codec.encode(node(t, tc.yaml), tc.typ, size, "v")
			if len(probs) > 0 {
				t.Fatalf("problems: %+v", probs)
			}
			if got := hex.EncodeToString(img.buf); got != tc.want {
				t.Errorf("bytes: got %s, want %s", got, tc.want)
			}
			back := tc.back
			if back == "" {
				back = tc.yaml
			}
			if got := render(tc.codec.decode(img.buf, tc.typ, 0)); got != back {
				t.Errorf("decoded: got %s, want %s", got, back)
			}
		})
	}
}

func TestEncodeErrors(t *testing.T) {
	route := st("route", "ifindex", u32, "mac", arr(u8, 6), "flags", u16, "gw", be32)
	for _, tc := range []struct {
		name, yaml string
		typ        btf.Type
		want       string // substring of the first problem
		rule       string
	}{
		{"unknown field", "{ifindx: 1}", route, `v: unknown field "ifindx" in struct route, did you mean "ifindex"? (fields: ifindex, mac, flags, gw)`, ruleUnknownField},
		{"duplicate field", "{flags: 1, flags: 2}", route, `duplicate field "flags"`, ruleDuplicate},
		{"u16 range", "{flags: 65536}", route, "v.flags: value 65536 out of range for __u16 (0..65535)", ruleOutOfRange},
		{"negative unsigned", "{ifindex: -1}", route, "out of range for __u32", ruleOutOfRange},
		{"s16 range", "-32769", s16, "out of range for __s16 (-32768..32767)", ruleOutOfRange},
		{"bitfield range", "{a: 8}", &btf.Struct{Name: "b", Size: 1, Members: []btf.Member{{Name: "a", Type: u8, BitfieldSize: 3}}}, "out of range for a 3-bit field (0..7)", ruleOutOfRange},
		{"bad mac", "{mac: 02:00:00}", route, `invalid MAC address "02:00:00"`, ruleBadAddress},
		{"bad ipv4 in be32", "{gw: 10.0.0.256}", route, `bad IP address "10.0.0.256" for __be32`, ruleBadAddress},
		{"ipv4 in u16", "{flags: 10.0.0.1}", route, "an IPv4 address needs a 4-byte field, not __u16", ruleBadAddress},
		{"ipv4 in u8[16]", "10.0.0.1", arr(u8, 16), "write it as ::ffff:10.0.0.1", ruleBadAddress},
		{"scalar for struct", "5", route, "want a mapping of the fields of struct route (ifindex, mac, flags, gw)", ruleBadValue},
		{"list too long", "[1, 2, 3]", arr(u32, 2), "3 elements for __u32[2]", ruleOutOfRange},
		{"hex size", "hex:0102", u32, "2 hex bytes for __u32, which is 4 bytes", ruleBadValue},
		{"enum name", "GREEN", &btf.Enum{Name: "color", Size: 4, Values: []btf.EnumValue{{Name: "RED", Value: 1}}}, `bad value "GREEN" for enum color: want a number or one of RED`, ruleBadValue},
		{"text too long", "toolongname", arr(char, 4), "longer than the 4 bytes", ruleOutOfRange},
		{"pointer", "1", &btf.Pointer{Target: u32}, "cannot encode a value of type __u32 *", ruleUnsupported},
		{"union nothing fits", "{}", &btf.Union{Name: "u", Size: 4, Members: []btf.Member{{Name: "a", Type: u32}}}, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, probs := le.encode(node(t, tc.yaml), tc.typ, int(sizeof(tc.typ)), "v")
			if tc.want == "" {
				if len(probs) > 0 {
					t.Fatalf("unexpected problems %+v", probs)
				}
				return
			}
			if len(probs) == 0 {
				t.Fatalf("no problem, want %q", tc.want)
			}
			if !strings.Contains(probs[0].msg, tc.want) || probs[0].rule != tc.rule {
				t.Errorf("got %q [%s], want %q [%s]", probs[0].msg, probs[0].rule, tc.want, tc.rule)
			}
			if probs[0].node == nil || probs[0].node.Line == 0 {
				t.Errorf("problem has no position")
			}
		})
	}
}

func TestEncodeWithoutBTF(t *testing.T) {
	img, probs := le.encode(node(t, "hex:01020304"), nil, 4, "value")
	if len(probs) > 0 || hex.EncodeToString(img.buf) != "01020304" {
		t.Errorf("hex without BTF: %x %+v", img.buf, probs)
	}
	_, probs = le.encode(node(t, "{a: 1}"), nil, 4, "value")
	if len(probs) != 1 || !strings.Contains(probs[0].msg, "value has no BTF type information: give it as hex bytes") {
		t.Errorf("got %+v", probs)
	}
	_, probs = le.encode(node(t, "1"), u64, 4, "value")
	if len(probs) != 1 || !strings.Contains(probs[0].msg, "BTF type __u64 is 8 bytes, the map or variable 4") {
		t.Errorf("got %+v", probs)
	}
}

func TestPattern(t *testing.T) {
	key := st("flow_key", "saddr", be32, "daddr", be32, "sport", be16, "dport", be16, "proto", u8, "pad", arr(u8, 3))
	full, _ := le.encode(node(t, "{saddr: 10.0.1.5, daddr: 10.0.2.7, sport: 40000, dport: 80, proto: 6}"), key, 16, "key")
	part, _ := le.encode(node(t, "{daddr: 10.0.2.7, dport: 80}"), key, 16, "key")
	other, _ := le.encode(node(t, "{dport: 81}"), key, 16, "key")
	if full.full() || !part.matches(full.buf) || other.matches(full.buf) {
		t.Errorf("full %v (pad not given), part matches %v, other matches %v", full.full(), part.matches(full.buf), other.matches(full.buf))
	}
	if len(part.leaves) != 2 || part.leaves[1].path != "key.dport" {
		t.Errorf("leaves %+v", part.leaves)
	}
	if got := render(le.decode(full.buf, key, 0)); got != "{saddr: 10.0.1.5, daddr: 10.0.2.7, sport: 40000, dport: 80, proto: 6}" {
		t.Errorf("decoded %s", got)
	}
}

func TestSumPerCPU(t *testing.T) {
	stats := st("stats", "packets", u64, "port", be16, "flag", boo, "small", u8)
	cpu := func(packets uint64, port uint16, small byte) []byte {
		b := make([]byte, sizeof(stats))
		binary.LittleEndian.PutUint64(b, packets)
		binary.BigEndian.PutUint16(b[8:], port)
		b[10], b[11] = 1, small
		return b
	}
	got := le.sumPerCPU(stats, [][]byte{cpu(1, 80, 200), cpu(2, 443, 100), cpu(3, 8080, 0)})
	if s := render(le.decode(got, stats, 0)); s != "{packets: 6, port: 80, flag: true, small: 44}" {
		t.Errorf("sum: %s (integers summed with wraparound, be16 and bool from the first CPU)", s)
	}
}
