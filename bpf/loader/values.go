package loader

import (
	"encoding/binary"
	"fmt"
	"maps"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"
)

// SetValues sets load-time variables (the datapath's volatile const
// globals) of spec from their text form, as the manifest records a node's
// values. Each text is read according to the variable's BTF type:
//
//   - an integer type: a number in Go syntax ("1450", "0x1f"), range-checked
//     for the type's size and sign, stored in the object's byte order; a
//     big-endian typedef (__be16, __be32, __be64) is stored in network order,
//     and a __be32 also takes an IPv4 address ("10.0.0.0");
//   - an array of 4 or 16 bytes: an IPv4 or IPv6 address; of 6 bytes: a MAC
//     address ("02:00:00:00:00:01").
//
// Every problem is reported (unknown names, with the names the object has;
// malformed values), and spec is changed only when there is none.
func SetValues(spec *ebpf.CollectionSpec, values map[string]string) error {
	encoded := map[string][]byte{}
	var problems []string
	for _, name := range slices.Sorted(maps.Keys(values)) {
		vs := spec.Variables[name]
		if vs == nil {
			problems = append(problems, fmt.Sprintf("no variable %q (the object has %s)", name, strings.Join(slices.Sorted(maps.Keys(spec.Variables)), ", ")))
			continue
		}
		b, err := encode(vs, values[name], spec.ByteOrder)
		if err != nil {
			problems = append(problems, fmt.Sprintf("variable %q: %v", name, err))
			continue
		}
		encoded[name] = b
	}
	if len(problems) > 0 {
		return fmt.Errorf("setting load-time values: %s", strings.Join(problems, "; "))
	}
	for name, b := range encoded {
		if err := spec.Variables[name].Set(b); err != nil {
			return fmt.Errorf("setting load-time value %q: %w", name, err)
		}
	}
	return nil
}

// encode turns text into the bytes of a variable of vs's type.
func encode(vs *ebpf.VariableSpec, text string, order binary.ByteOrder) ([]byte, error) {
	if vs.Type == nil {
		return nil, fmt.Errorf("no BTF type")
	}
	size := int(vs.Size())
	bigEndian := false
	t := vs.Type.Type
	for {
		switch tt := t.(type) {
		case *btf.Typedef:
			switch tt.Name {
			case "__be16", "__be32", "__be64":
				bigEndian = true
			}
			t = tt.Type
			continue
		case *btf.Volatile:
			t = tt.Type
			continue
		case *btf.Const:
			t = tt.Type
			continue
		}
		break
	}
	if order == nil {
		order = binary.NativeEndian
	}
	switch tt := t.(type) {
	case *btf.Int:
		if bigEndian {
			order = binary.BigEndian
			if size == 4 {
				if a, err := netip.ParseAddr(text); err == nil && a.Is4() {
					b := a.As4()
					return b[:], nil
				}
			}
		}
		return encodeInt(text, size, tt.Encoding&btf.Signed != 0, order)
	case *btf.Array:
		if elem, ok := btf.UnderlyingType(tt.Type).(*btf.Int); !ok || elem.Size != 1 {
			break
		}
		switch tt.Nelems {
		case 4, 16:
			a, err := netip.ParseAddr(text)
			if err != nil || a.BitLen() != int(tt.Nelems)*8 {
				return nil, fmt.Errorf("%q is not an IPv%d address", text, map[uint32]int{4: 4, 16: 6}[tt.Nelems])
			}
			return a.AsSlice(), nil
		case 6:
			mac, err := net.ParseMAC(text)
			if err != nil || len(mac) != 6 {
				return nil, fmt.Errorf("%q is not a MAC address", text)
			}
			return mac, nil
		}
	}
	return nil, fmt.Errorf("type %v cannot be set from text", vs.Type.Type)
}

func encodeInt(text string, size int, signed bool, order binary.ByteOrder) ([]byte, error) {
	bits := size * 8
	var u uint64
	if signed {
		n, err := strconv.ParseInt(text, 0, bits)
		if err != nil {
			return nil, fmt.Errorf("%q is not a %d-bit signed integer", text, bits)
		}
		u = uint64(n)
	} else {
		n, err := strconv.ParseUint(text, 0, bits)
		if err != nil {
			return nil, fmt.Errorf("%q is not a %d-bit unsigned integer", text, bits)
		}
		u = n
	}
	// Truncation is safe: Parse*Int checked the range for bits.
	var v any
	switch size {
	case 1:
		v = uint8(u)
	case 2:
		v = uint16(u)
	case 4:
		v = uint32(u)
	case 8:
		v = u
	default:
		return nil, fmt.Errorf("integer of %d bytes", size)
	}
	return binary.Append(nil, order, v)
}
