package scenario

import (
	"encoding/hex"
	"math"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"github.com/cilium/ebpf/btf"
	"gopkg.in/yaml.v3"

	"github.com/dpforge/dpforge/bpf/packet"
)

// decode renders the value of type t at bit offset off of b as a YAML node,
// in the notation the encoder accepts: addresses and MACs as strings, be16
// as host numbers, enums by name.
func (c codec) decode(b []byte, t btf.Type, off uint32) *yaml.Node {
	if t == nil {
		return str("hex:" + hex.EncodeToString(b))
	}
	under, sp := resolve(t)
	size := sizeof(under)
	if int(off/8+size) > len(b) {
		return str("?")
	}
	at := b[off/8 : off/8+size]
	switch u := under.(type) {
	case *btf.Int:
		order := sp.order
		if order == nil {
			order = c.order
		}
		if sp.be32 {
			return str(netip.AddrFrom4([4]byte(at)).String())
		}
		v := getUint(at, order)
		if u.Encoding == btf.Bool {
			return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: strconv.FormatBool(v != 0)}
		}
		return intNode(v, u.Size*8, u.Encoding == btf.Signed)
	case *btf.Enum:
		v := getUint(at, c.order)
		for _, ev := range u.Values {
			if ev.Value&(math.MaxUint64>>(64-u.Size*8)) == v {
				return str(ev.Name)
			}
		}
		return intNode(v, u.Size*8, u.Signed)
	case *btf.Float:
		if size == 4 {
			return num(strconv.FormatFloat(float64(math.Float32frombits(uint32(getUint(at, c.order)))), 'g', -1, 32))
		}
		return num(strconv.FormatFloat(math.Float64frombits(getUint(at, c.order)), 'g', -1, 64))
	case *btf.Array:
		return c.decodeArray(b, u, off)
	case *btf.Struct:
		if p, ok := c.prefix(b, fields(u.Members, off)); ok {
			return str(p)
		}
		m := &yaml.Node{Kind: yaml.MappingNode, Style: yaml.FlowStyle}
		c.decodeMembers(m, b, u.Members, false, off)
		return m
	case *btf.Union:
		m := &yaml.Node{Kind: yaml.MappingNode, Style: yaml.FlowStyle}
		c.decodeMembers(m, b, u.Members, true, off)
		return m
	default:
		return str("hex:" + hex.EncodeToString(at))
	}
}

// decodeMembers appends the members of a struct, or the one shown member of
// a union, to mapping m; anonymous members are flattened into m.
func (c codec) decodeMembers(m *yaml.Node, b []byte, members []btf.Member, union bool, off uint32) {
	if union {
		members = []btf.Member{shownMember(members)}
	}
	for _, mb := range members {
		f := field{name: mb.Name, m: mb, off: off + uint32(mb.Offset)}
		if mb.Name == "" {
			under, _ := resolve(mb.Type)
			switch u := under.(type) {
			case *btf.Struct:
				c.decodeMembers(m, b, u.Members, false, f.off)
			case *btf.Union:
				c.decodeMembers(m, b, u.Members, true, f.off)
			}
			continue
		}
		if padding(b, f) {
			continue
		}
		var v *yaml.Node
		if mb.BitfieldSize > 0 {
			under, _ := resolve(mb.Type)
			signed := false
			if i, ok := under.(*btf.Int); ok {
				signed = i.Encoding == btf.Signed
			}
			v = intNode(getBits(b, f.off, uint32(mb.BitfieldSize), c.order), uint32(mb.BitfieldSize), signed)
		} else {
			v = c.decode(b, mb.Type, f.off)
		}
		m.Content = append(m.Content, str(mb.Name), v)
	}
}

// shownMember picks the union member decode shows: the largest, which
// covers every byte; among equals a byte array (an address, a MAC, hex),
// else the first.
func shownMember(members []btf.Member) btf.Member {
	best := -1
	for i, mb := range members {
		if mb.BitfieldSize > 0 {
			continue
		}
		switch {
		case best < 0 || sizeof(mb.Type) > sizeof(members[best].Type):
			best = i
		case sizeof(mb.Type) == sizeof(members[best].Type) && byteArray(mb.Type) && !byteArray(members[best].Type):
			best = i
		}
	}
	if best < 0 {
		return members[0]
	}
	return members[best]
}

func byteArray(t btf.Type) bool {
	under, _ := resolve(t)
	a, ok := under.(*btf.Array)
	if !ok {
		return false
	}
	elem, _ := resolve(a.Type)
	byteSized, _ := isByte(elem)
	return byteSized
}

// padding reports whether f is an all-zero field named like padding
// ("pad", "_pad", "__pad1", ...), which decode leaves out.
func padding(b []byte, f field) bool {
	if !strings.HasPrefix(strings.TrimLeft(f.name, "_"), "pad") || f.m.BitfieldSize > 0 {
		return false
	}
	start, end := f.off/8, f.off/8+sizeof(f.m.Type)
	return end <= uint32(len(b)) && !slices.ContainsFunc(b[start:end], func(x byte) bool { return x != 0 })
}

// prefix renders an LPM trie key {prefixlen, address} as "10.0.0.0/8".
func (c codec) prefix(b []byte, fs []field) (string, bool) {
	if len(fs) != 2 || fs[0].name != "prefixlen" || fs[0].m.BitfieldSize != 0 || fs[1].m.BitfieldSize != 0 {
		return "", false
	}
	plen := c.decode(b, fs[0].m.Type, fs[0].off)
	addr := c.decode(b, fs[1].m.Type, fs[1].off)
	if addr.Kind != yaml.ScalarNode || plen.Tag != "!!int" {
		return "", false
	}
	a, err := netip.ParseAddr(addr.Value)
	bits, err2 := strconv.Atoi(plen.Value)
	if err != nil || err2 != nil || bits > a.BitLen() {
		return "", false
	}
	return netip.PrefixFrom(a, bits).String(), true
}

func (c codec) decodeArray(b []byte, a *btf.Array, off uint32) *yaml.Node {
	elem, _ := resolve(a.Type)
	if byteSized, text := isByte(elem); byteSized {
		at := b[off/8 : off/8+a.Nelems]
		switch {
		case a.Nelems == 4 && !text:
			return str(netip.AddrFrom4([4]byte(at)).String())
		case a.Nelems == 6 && !text:
			return str(packet.MAC(at).String())
		case a.Nelems == 16 && !text:
			return str(netip.AddrFrom16([16]byte(at)).String())
		case text:
			s := strings.TrimRight(string(at), "\x00")
			if strings.IndexFunc(s, func(r rune) bool { return r > unicode.MaxASCII || !unicode.IsPrint(r) }) < 0 {
				return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s, Style: yaml.DoubleQuotedStyle}
			}
		}
		return str("hex:" + hex.EncodeToString(at))
	}
	seq := &yaml.Node{Kind: yaml.SequenceNode, Style: yaml.FlowStyle}
	esz := sizeof(a.Type) * 8
	for i := range a.Nelems {
		seq.Content = append(seq.Content, c.decode(b, a.Type, off+i*esz))
	}
	return seq
}

// decodeLeaf renders the bits of b that leaf l covers.
func (c codec) decodeLeaf(b []byte, l leaf) *yaml.Node {
	if l.bitfield {
		return intNode(getBits(b, l.off, l.bits, c.order), l.bits, l.signed)
	}
	return c.decode(b, l.typ, l.off)
}

func str(s string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s} }
func num(s string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: s} }

func intNode(v uint64, bits uint32, signed bool) *yaml.Node {
	if signed && bits < 64 && v&(1<<(bits-1)) != 0 {
		return num(strconv.FormatInt(int64(v)-int64(1)<<bits, 10))
	}
	if signed && bits == 64 {
		return num(strconv.FormatInt(int64(v), 10))
	}
	return num(strconv.FormatUint(v, 10))
}

// render writes n in YAML flow style on one line.
func render(n *yaml.Node) string {
	n = deref(n)
	if n == nil {
		return "~"
	}
	var sb strings.Builder
	renderTo(&sb, n)
	return sb.String()
}

func renderTo(sb *strings.Builder, n *yaml.Node) {
	n = deref(n)
	switch n.Kind {
	case yaml.MappingNode:
		sb.WriteByte('{')
		for i := 0; i+1 < len(n.Content); i += 2 {
			if i > 0 {
				sb.WriteString(", ")
			}
			renderTo(sb, n.Content[i])
			sb.WriteString(": ")
			renderTo(sb, n.Content[i+1])
		}
		sb.WriteByte('}')
	case yaml.SequenceNode:
		sb.WriteByte('[')
		for i, c := range n.Content {
			if i > 0 {
				sb.WriteString(", ")
			}
			renderTo(sb, c)
		}
		sb.WriteByte(']')
	case yaml.DocumentNode:
		for _, c := range n.Content {
			renderTo(sb, c)
		}
	default:
		v := n.Value
		if n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) != 0 || v == "" ||
			strings.ContainsAny(v, ",{}[]#&*!|>'\"%@`") || strings.Contains(v, ": ") || strings.TrimSpace(v) != v {
			v = strconv.Quote(v)
		}
		sb.WriteString(v)
	}
}
