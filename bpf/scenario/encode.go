package scenario

import (
	"encoding/hex"
	"fmt"
	"math"
	"math/big"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"github.com/cilium/ebpf/btf"
	"gopkg.in/yaml.v3"

	"github.com/dpforge/dpforge/bpf/packet"
)

type encoder struct {
	codec
	img   *image
	probs []problem
}

func (e *encoder) fail(n *yaml.Node, rule, format string, args ...any) {
	e.probs = append(e.probs, problem{node: n, rule: rule, msg: fmt.Sprintf(format, args...)})
}

// encode encodes n as a value of type t, size bytes long. path names the
// value in messages ("key", "value", a variable's name). A nil t accepts
// only raw hex, for maps declared without BTF.
func (c codec) encode(n *yaml.Node, t btf.Type, size int, path string) (*image, []problem) {
	e := &encoder{codec: c, img: &image{buf: make([]byte, size), mask: make([]byte, size)}}
	n = deref(n)
	switch {
	case isNull(n):
	case t == nil:
		if !e.rawHex(n, nil, 0, uint32(size), path) {
			e.fail(n, ruleUnsupported, "%s has no BTF type information: give it as hex bytes (\"hex:...\", %d bytes), or declare it with __type() in the C source", path, size)
		}
	default:
		if ts, err := btf.Sizeof(t); err != nil || ts != size {
			e.fail(n, ruleUnsupported, "%s: BTF type %s is %d bytes, the map or variable %d", path, typeName(t), ts, size)
			break
		}
		e.value(n, t, 0, path)
	}
	return e.img, e.probs
}

func isNull(n *yaml.Node) bool {
	return n == nil || (n.Kind == yaml.ScalarNode && n.Tag == "!!null")
}

// value encodes n as type t at bit offset off.
func (e *encoder) value(n *yaml.Node, t btf.Type, off uint32, path string) {
	n = deref(n)
	if isNull(n) {
		return
	}
	under, sp := resolve(t)
	if e.rawHex(n, t, off, sizeof(under), path) {
		return
	}
	switch u := under.(type) {
	case *btf.Int:
		e.intBits(n, t, off, u.Size*8, u.Encoding == btf.Signed, u.Encoding == btf.Bool, nil, sp, false, path)
	case *btf.Enum:
		e.intBits(n, t, off, u.Size*8, u.Signed, false, u, sp, false, path)
	case *btf.Float:
		e.float(n, t, off, u.Size, path)
	case *btf.Struct:
		e.composite(n, t, u.Members, false, off, path)
	case *btf.Union:
		e.composite(n, t, u.Members, true, off, path)
	case *btf.Array:
		e.array(n, t, u, off, path)
	default:
		e.fail(n, ruleUnsupported, "%s: cannot encode a value of type %s", path, typeName(t))
	}
}

// rawHex writes a "hex:" string of exactly size bytes; it reports whether n
// was one (errors included).
func (e *encoder) rawHex(n *yaml.Node, t btf.Type, off, size uint32, path string) bool {
	if n.Kind != yaml.ScalarNode || !strings.HasPrefix(n.Value, "hex:") {
		return false
	}
	b, err := decodeHex(strings.TrimPrefix(n.Value, "hex:"))
	switch {
	case err != nil:
		e.fail(n, ruleBadValue, "%s: %v", path, err)
	case uint32(len(b)) != size:
		e.fail(n, ruleBadValue, "%s: %d hex bytes for %s, which is %d bytes", path, len(b), typeName(t), size)
	case off%8 != 0:
		e.fail(n, ruleUnsupported, "%s: hex bytes for a bitfield", path)
	default:
		e.put(off, b)
		e.img.leaves = append(e.img.leaves, leaf{path: path, off: off, bits: size * 8, node: n, typ: t})
	}
	return true
}

func decodeHex(s string) ([]byte, error) {
	s = strings.Map(func(r rune) rune {
		if r == ':' || unicode.IsSpace(r) {
			return -1
		}
		return r
	}, s)
	b, err := hex.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("invalid hex bytes: %v", err)
	}
	return b, nil
}

// put writes whole bytes at bit offset off and marks them given.
func (e *encoder) put(off uint32, b []byte) {
	i := off / 8
	copy(e.img.buf[i:], b)
	for j := range b {
		e.img.mask[int(i)+j] = 0xff
	}
}

// intBits encodes an integer or enum of bits bits: a whole-byte field at a
// byte-aligned off, in sp's byte order or the object's, or a bitfield.
func (e *encoder) intBits(n *yaml.Node, t btf.Type, off, bits uint32, signed, boolean bool, enum *btf.Enum, sp special, bitfield bool, path string) {
	if n.Kind != yaml.ScalarNode {
		e.fail(n, ruleBadValue, "%s: want a number for %s", path, typeName(t))
		return
	}
	s := n.Value
	// An IPv4 address in a 4-byte integer is stored as on the wire, in
	// network byte order, whatever the declared order.
	if looksLikeAddress(s) {
		a, err := netip.ParseAddr(s)
		switch {
		case err != nil:
			e.fail(n, ruleBadAddress, "%s: bad IP address %q for %s", path, s, typeName(t))
			return
		case !a.Is4():
			e.fail(n, ruleBadAddress, "%s: IPv6 address %q does not fit %s; an IPv6 address needs a __u8[16]", path, s, typeName(t))
			return
		case bits != 32 || bitfield:
			e.fail(n, ruleBadAddress, "%s: an IPv4 address needs a 4-byte field, not %s", path, typeName(t))
			return
		}
		b := a.As4()
		e.put(off, b[:])
		e.img.leaves = append(e.img.leaves, leaf{path: path, off: off, bits: 32, node: n, typ: t})
		return
	}
	v, ok := e.parseInt(n, t, bits, signed, boolean, enum, path)
	if !ok {
		return
	}
	if bitfield {
		setBits(e.img.buf, off, bits, v, e.order)
		setBits(e.img.mask, off, bits, math.MaxUint64, e.order)
		e.img.leaves = append(e.img.leaves, leaf{path: path, off: off, bits: bits, node: n, bitfield: true, signed: signed})
		return
	}
	order := sp.order
	if order == nil {
		order = e.order
	}
	b := make([]byte, bits/8)
	putUint(b, v, order)
	e.put(off, b)
	e.img.leaves = append(e.img.leaves, leaf{path: path, off: off, bits: bits, node: n, typ: t})
}

// parseInt reads a YAML integer (decimal, 0x, 0o, 0b, negative), a boolean,
// or an enumerator name, checking it fits bits bits.
func (e *encoder) parseInt(n *yaml.Node, t btf.Type, bits uint32, signed, boolean bool, enum *btf.Enum, path string) (uint64, bool) {
	s := n.Value
	if enum != nil {
		for _, ev := range enum.Values {
			if ev.Name == s {
				return ev.Value & (math.MaxUint64 >> (64 - bits)), true
			}
		}
	}
	if n.Tag == "!!bool" || boolean {
		switch strings.ToLower(s) {
		case "true":
			return 1, true
		case "false":
			return 0, true
		}
	}
	v, ok := new(big.Int).SetString(strings.ReplaceAll(s, "_", ""), 0)
	if !ok {
		want := "a number"
		if enum != nil {
			names := make([]string, len(enum.Values))
			for i, ev := range enum.Values {
				names[i] = ev.Name
			}
			want = "a number or one of " + nameList(names)
		}
		e.fail(n, ruleBadValue, "%s: bad value %q for %s: want %s", path, s, typeName(t), want)
		return 0, false
	}
	lo, hi := new(big.Int), new(big.Int).Lsh(big.NewInt(1), uint(bits))
	if signed {
		lo.Neg(new(big.Int).Lsh(big.NewInt(1), uint(bits-1)))
		hi.Lsh(big.NewInt(1), uint(bits-1))
	}
	hi.Sub(hi, big.NewInt(1))
	if v.Cmp(lo) < 0 || v.Cmp(hi) > 0 {
		what := typeName(t)
		if t == nil || bits%8 != 0 {
			what = fmt.Sprintf("a %d-bit field", bits)
		}
		e.fail(n, ruleOutOfRange, "%s: value %s out of range for %s (%s..%s)", path, s, what, lo, hi)
		return 0, false
	}
	if v.Sign() < 0 {
		v.Add(v, new(big.Int).Lsh(big.NewInt(1), uint(bits)))
	}
	return v.Uint64(), true
}

// looksLikeAddress reports whether s is meant as an IP address rather than
// a number: it has a colon, or a dot and is no number.
func looksLikeAddress(s string) bool {
	if strings.Contains(s, ":") {
		return true
	}
	if !strings.Contains(s, ".") {
		return false
	}
	_, err := strconv.ParseFloat(s, 64)
	return err != nil || strings.Count(s, ".") > 1
}

func (e *encoder) float(n *yaml.Node, t btf.Type, off, size uint32, path string) {
	f, err := strconv.ParseFloat(n.Value, int(size*8))
	if n.Kind != yaml.ScalarNode || err != nil || (size != 4 && size != 8) {
		e.fail(n, ruleBadValue, "%s: bad value %q for %s", path, n.Value, typeName(t))
		return
	}
	b := make([]byte, size)
	if size == 4 {
		putUint(b, uint64(math.Float32bits(float32(f))), e.order)
	} else {
		putUint(b, math.Float64bits(f), e.order)
	}
	e.put(off, b)
	e.img.leaves = append(e.img.leaves, leaf{path: path, off: off, bits: size * 8, node: n, typ: t})
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

func (e *encoder) composite(n *yaml.Node, t btf.Type, members []btf.Member, union bool, off uint32, path string) {
	fs := fields(members, off)
	switch n.Kind {
	case yaml.MappingNode:
		seen := map[string]bool{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			idx := slices.IndexFunc(fs, func(f field) bool { return f.name == k.Value })
			switch {
			case k.Kind != yaml.ScalarNode:
				e.fail(k, ruleBadValue, "%s: field names must be strings", path)
				continue
			case idx < 0:
				msg := fmt.Sprintf("%s: unknown field %q in %s", path, k.Value, typeName(t))
				if s := suggest(k.Value, fieldNames(fs)); s != "" {
					msg += fmt.Sprintf(", did you mean %q?", s)
				}
				e.fail(k, ruleUnknownField, "%s (fields: %s)", msg, nameList(fieldNames(fs)))
				continue
			case seen[k.Value]:
				e.fail(k, ruleDuplicate, "%s: duplicate field %q", path, k.Value)
				continue
			}
			seen[k.Value] = true
			f := fs[idx]
			if f.m.BitfieldSize > 0 {
				e.bitfield(deref(v), f, join(path, f.name))
				continue
			}
			e.value(v, f.m.Type, f.off, join(path, f.name))
		}
		return
	case yaml.ScalarNode:
		if !union && e.cidr(n, t, fs, path) {
			return
		}
	}
	if union && (n.Kind == yaml.ScalarNode || n.Kind == yaml.SequenceNode) {
		// A union given a scalar or a list takes the first member that
		// accepts it, such as the __u8[16] of a v6 address union.
		for _, f := range fs {
			if f.m.BitfieldSize > 0 {
				continue
			}
			sub := &encoder{codec: e.codec, img: e.img.clone()}
			sub.value(n, f.m.Type, f.off, join(path, f.name))
			if len(sub.probs) == 0 {
				e.img = sub.img
				return
			}
		}
		e.fail(n, ruleBadValue, "%s: %q fits no member of %s (members: %s)", path, n.Value, typeName(t), nameList(fieldNames(fs)))
		return
	}
	e.fail(n, ruleBadValue, "%s: want a mapping of the fields of %s (%s)", path, typeName(t), nameList(fieldNames(fs)))
}

// cidr encodes "10.0.0.0/8" into an LPM trie key: a struct whose first
// field is prefixlen, followed by the address. It reports whether n was a
// prefix for such a struct.
func (e *encoder) cidr(n *yaml.Node, t btf.Type, fs []field, path string) bool {
	if len(fs) < 2 || fs[0].name != "prefixlen" || !strings.Contains(n.Value, "/") {
		return false
	}
	p, err := netip.ParsePrefix(n.Value)
	if err != nil {
		msg := err.Error()
		if i := strings.LastIndex(msg, "): "); i >= 0 {
			msg = msg[i+3:] // drop netip's repetition of the input
		}
		e.fail(n, ruleBadAddress, "%s: bad prefix %q for %s: %s", path, n.Value, typeName(t), msg)
		return true
	}
	sub := &encoder{codec: e.codec, img: e.img.clone()}
	bitsNode := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: strconv.Itoa(p.Bits()), Line: n.Line, Column: n.Column}
	addrNode := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: p.Addr().String(), Line: n.Line, Column: n.Column}
	sub.value(bitsNode, fs[0].m.Type, fs[0].off, join(path, fs[0].name))
	sub.value(addrNode, fs[1].m.Type, fs[1].off, join(path, fs[1].name))
	if len(sub.probs) > 0 {
		e.fail(n, ruleBadAddress, "%s: prefix %q does not fit %s: %s", path, n.Value, typeName(t), sub.probs[0].msg)
		return true
	}
	// Report the prefix as one leaf covering both fields.
	start := fs[0].off
	end := fs[1].off + sizeof(fs[1].m.Type)*8
	sub.img.leaves = append(slices.Clip(e.img.leaves), leaf{path: path, off: start, bits: end - start, node: n, typ: cidrType(fs)})
	e.img = sub.img
	return true
}

// cidrType is a struct type of the prefixlen and address fields, so that a
// leaf covering them decodes as a prefix.
func cidrType(fs []field) btf.Type {
	return &btf.Struct{Size: sizeof(fs[1].m.Type) + uint32(fs[1].off-fs[0].off)/8,
		Members: []btf.Member{{Name: fs[0].name, Type: fs[0].m.Type}, {Name: fs[1].name, Type: fs[1].m.Type, Offset: btf.Bits(fs[1].off - fs[0].off)}}}
}

func (e *encoder) bitfield(n *yaml.Node, f field, path string) {
	under, sp := resolve(f.m.Type)
	bits := uint32(f.m.BitfieldSize)
	switch u := under.(type) {
	case *btf.Int:
		e.intBits(n, f.m.Type, f.off, bits, u.Encoding == btf.Signed, u.Encoding == btf.Bool, nil, sp, true, path)
	case *btf.Enum:
		e.intBits(n, f.m.Type, f.off, bits, u.Signed, false, u, sp, true, path)
	default:
		e.fail(n, ruleUnsupported, "%s: bitfield of type %s", path, typeName(f.m.Type))
	}
}

func (e *encoder) array(n *yaml.Node, t btf.Type, a *btf.Array, off uint32, path string) {
	elem, _ := resolve(a.Type)
	if byteSized, text := isByte(elem); byteSized && n.Kind == yaml.ScalarNode {
		e.bytes(n, t, a.Nelems, text, off, path)
		return
	}
	if n.Kind != yaml.SequenceNode {
		e.fail(n, ruleBadValue, "%s: want a list of up to %d elements for %s, or hex:...", path, a.Nelems, typeName(t))
		return
	}
	if uint32(len(n.Content)) > a.Nelems {
		e.fail(n, ruleOutOfRange, "%s: %d elements for %s", path, len(n.Content), typeName(t))
		return
	}
	esz := sizeof(a.Type) * 8
	for i, c := range n.Content {
		e.value(c, a.Type, off+uint32(i)*esz, fmt.Sprintf("%s[%d]", path, i))
	}
}

// bytes encodes a string into a byte array: an IPv4 address into 4 bytes,
// a MAC into 6, an IPv6 address into 16, text into a char array, or hex
// digits of the array's exact length.
func (e *encoder) bytes(n *yaml.Node, t btf.Type, size uint32, text bool, off uint32, path string) {
	s := n.Value
	var b []byte
	switch {
	case size == 4 && strings.Contains(s, "."):
		a, err := netip.ParseAddr(s)
		if err != nil || !a.Is4() {
			e.fail(n, ruleBadAddress, "%s: bad IPv4 address %q", path, s)
			return
		}
		b = a.AsSlice()
	case size == 16 && strings.Contains(s, ":"):
		a, err := netip.ParseAddr(s)
		if err != nil || !a.Is6() || a.Zone() != "" {
			e.fail(n, ruleBadAddress, "%s: bad IPv6 address %q", path, s)
			return
		}
		b = a.AsSlice()
	case size == 16 && strings.Count(s, ".") == 3:
		e.fail(n, ruleBadAddress, "%s: IPv4 address %q in the 16 bytes of %s: write it as ::ffff:%s", path, s, typeName(t), s)
		return
	case size == 6 && strings.ContainsAny(s, ":-"):
		m, err := packet.ParseMAC(s)
		if err != nil {
			e.fail(n, ruleBadAddress, "%s: %v", path, err)
			return
		}
		b = m[:]
	case text:
		if uint32(len(s)) > size {
			e.fail(n, ruleOutOfRange, "%s: text %q is longer than the %d bytes of %s", path, s, size, typeName(t))
			return
		}
		b = make([]byte, size)
		copy(b, s)
	default:
		h, err := hex.DecodeString(s)
		if err != nil || uint32(len(h)) != size {
			var want string
			switch size {
			case 4:
				want = "an IPv4 address, "
			case 6:
				want = "a MAC address, "
			case 16:
				want = "an IPv6 address, "
			}
			e.fail(n, ruleBadValue, "%s: bad value %q for %s: want %s%d hex bytes (\"hex:...\") or a list", path, s, typeName(t), want, size)
			return
		}
		b = h
	}
	e.put(off, b)
	e.img.leaves = append(e.img.leaves, leaf{path: path, off: off, bits: size * 8, node: n, typ: t})
}
