package scenario

import (
	"encoding/binary"
	"fmt"
	"slices"

	"github.com/cilium/ebpf/btf"
	"gopkg.in/yaml.v3"
)

// codec encodes YAML values into bytes laid out by a BTF type, and decodes
// such bytes back into YAML nodes for display. Integers use order, the
// object's byte order, unless a typedef on the way names the order
// (__be16/32/64, __le16/32/64).
type codec struct {
	order binary.ByteOrder
}

// image is an encoded value: its bytes, a mask of the bits the YAML gave,
// and the leaves written, for reporting mismatches field by field.
type image struct {
	buf, mask []byte
	leaves    []leaf
}

// leaf is one scalar (or byte string, or raw hex) written by the encoder.
type leaf struct {
	path      string
	off, bits uint32 // in bits from the start of the image
	node      *yaml.Node
	typ       btf.Type // nil for a bitfield and for raw bytes without BTF
	bitfield  bool
	signed    bool // for a bitfield
}

func (im *image) clone() *image {
	return &image{buf: slices.Clone(im.buf), mask: slices.Clone(im.mask), leaves: slices.Clone(im.leaves)}
}

// full reports whether every bit of the image was given.
func (im *image) full() bool {
	for _, m := range im.mask {
		if m != 0xff {
			return false
		}
	}
	return true
}

// matches reports whether b agrees with the image on every given bit.
func (im *image) matches(b []byte) bool {
	if len(b) < len(im.buf) {
		return false
	}
	for i, m := range im.mask {
		if (b[i]^im.buf[i])&m != 0 {
			return false
		}
	}
	return true
}

// leafMatches reports whether b agrees with the image on the bits of l.
func (im *image) leafMatches(b []byte, l leaf) bool {
	for i := l.off / 8; i < (l.off+l.bits+7)/8; i++ {
		if (b[i]^im.buf[i])&im.mask[i] != 0 {
			return false
		}
	}
	return true
}

// special names a byte order or address format that a typedef gives.
type special struct {
	order binary.ByteOrder // nil: the object's
	be32  bool             // __be32: shown as an IPv4 address
}

// resolve strips qualifiers and typedefs from t. The first typedef on the
// chain named __be16/32/64 or __le16/32/64 sets the byte order.
func resolve(t btf.Type) (btf.Type, special) {
	var sp special
	for {
		switch tt := t.(type) {
		case *btf.Typedef:
			if sp.order == nil {
				switch tt.Name {
				case "__be16", "__be64":
					sp.order = binary.BigEndian
				case "__be32":
					sp.order, sp.be32 = binary.BigEndian, true
				case "__le16", "__le32", "__le64":
					sp.order = binary.LittleEndian
				}
			}
			t = tt.Type
		case *btf.Volatile:
			t = tt.Type
		case *btf.Const:
			t = tt.Type
		case *btf.Restrict:
			t = tt.Type
		case *btf.TypeTag:
			t = tt.Type
		default:
			return t, sp
		}
	}
}

// typeName renders t like C: "__be32", "struct route", "__u8[6]".
func typeName(t btf.Type) string {
	switch t := t.(type) {
	case nil:
		return "untyped bytes"
	case *btf.Typedef:
		return t.Name
	case *btf.Int:
		return t.Name
	case *btf.Float:
		return t.Name
	case *btf.Struct:
		if t.Name == "" {
			return "anonymous struct"
		}
		return "struct " + t.Name
	case *btf.Union:
		if t.Name == "" {
			return "anonymous union"
		}
		return "union " + t.Name
	case *btf.Enum:
		if t.Name == "" {
			return "anonymous enum"
		}
		return "enum " + t.Name
	case *btf.Array:
		return fmt.Sprintf("%s[%d]", typeName(t.Type), t.Nelems)
	case *btf.Pointer:
		return typeName(t.Target) + " *"
	case *btf.Volatile:
		return typeName(t.Type)
	case *btf.Const:
		return typeName(t.Type)
	case *btf.Restrict:
		return typeName(t.Type)
	case *btf.TypeTag:
		return typeName(t.Type)
	case *btf.Var:
		return typeName(t.Type)
	default:
		return fmt.Sprint(t)
	}
}

func sizeof(t btf.Type) uint32 {
	n, err := btf.Sizeof(t)
	if err != nil {
		return 0
	}
	return uint32(n)
}

// field is a named member of a struct or union, with anonymous members
// flattened; off is in bits from the start of the value.
type field struct {
	name string
	m    btf.Member
	off  uint32
}

func fields(members []btf.Member, base uint32) []field {
	var out []field
	for _, m := range members {
		if m.Name == "" {
			under, _ := resolve(m.Type)
			switch u := under.(type) {
			case *btf.Struct:
				out = append(out, fields(u.Members, base+uint32(m.Offset))...)
			case *btf.Union:
				out = append(out, fields(u.Members, base+uint32(m.Offset))...)
			}
			continue // unnamed padding bitfields
		}
		out = append(out, field{name: m.Name, m: m, off: base + uint32(m.Offset)})
	}
	return out
}

func fieldNames(fs []field) []string {
	names := make([]string, len(fs))
	for i, f := range fs {
		names[i] = f.name
	}
	return names
}

// isByte reports whether t is a one-byte integer; text reports whether it
// is char.
func isByte(t btf.Type) (byteSized, text bool) {
	i, ok := t.(*btf.Int)
	if !ok || i.Size != 1 {
		return false, false
	}
	return true, i.Encoding&btf.Char != 0 || i.Name == "char"
}

func putUint(b []byte, v uint64, order binary.ByteOrder) {
	switch len(b) {
	case 1:
		b[0] = byte(v)
	case 2:
		order.PutUint16(b, uint16(v))
	case 4:
		order.PutUint32(b, uint32(v))
	case 8:
		order.PutUint64(b, v)
	}
}

func getUint(b []byte, order binary.ByteOrder) uint64 {
	switch len(b) {
	case 1:
		return uint64(b[0])
	case 2:
		return uint64(order.Uint16(b))
	case 4:
		return uint64(order.Uint32(b))
	case 8:
		return order.Uint64(b)
	}
	return 0
}

// bitPos returns the byte and bit (0 = least significant) of bit i of a
// field starting at bit off. BTF bit offsets count from the first byte's
// least significant bit on little-endian and its most significant bit on
// big-endian; the field's value is stored with its least significant bit
// last on big-endian.
func bitPos(off, bits, i uint32, order binary.ByteOrder) (uint32, uint32) {
	if order == binary.BigEndian {
		p := off + bits - 1 - i
		return p / 8, 7 - p%8
	}
	p := off + i
	return p / 8, p % 8
}

func setBits(b []byte, off, bits uint32, v uint64, order binary.ByteOrder) {
	for i := range bits {
		by, bit := bitPos(off, bits, i, order)
		if v>>i&1 != 0 {
			b[by] |= 1 << bit
		} else {
			b[by] &^= 1 << bit
		}
	}
}

func getBits(b []byte, off, bits uint32, order binary.ByteOrder) uint64 {
	var v uint64
	for i := range bits {
		by, bit := bitPos(off, bits, i, order)
		v |= uint64(b[by]>>bit&1) << i
	}
	return v
}

// sumPerCPU combines the per-CPU copies of a value of type t: integer
// fields (in the object's byte order, not bool or char) are summed, with
// wraparound, and everything else is taken from the first CPU.
func (c codec) sumPerCPU(t btf.Type, cpus [][]byte) []byte {
	out := slices.Clone(cpus[0])
	if t == nil {
		return out
	}
	c.counters(t, 0, 0, func(off, bits uint32) {
		var sum uint64
		for _, b := range cpus {
			sum += getBits(b, off, bits, c.order)
		}
		setBits(out, off, bits, sum, c.order)
	})
	return out
}

// counters calls f for every integer field of t that sumPerCPU adds up.
func (c codec) counters(t btf.Type, off, bitfield uint32, f func(off, bits uint32)) {
	under, sp := resolve(t)
	switch u := under.(type) {
	case *btf.Int:
		if sp.order != nil || u.Encoding&(btf.Bool|btf.Char) != 0 || u.Name == "char" {
			return
		}
		if bitfield > 0 {
			f(off, bitfield)
		} else {
			f(off, u.Size*8)
		}
	case *btf.Struct:
		for _, m := range u.Members {
			c.counters(m.Type, off+uint32(m.Offset), uint32(m.BitfieldSize), f)
		}
	case *btf.Array:
		esz := sizeof(u.Type) * 8
		for i := range u.Nelems {
			c.counters(u.Type, off+i*esz, 0, f)
		}
	}
}
