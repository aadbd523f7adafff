package loader

import (
	"fmt"
	"maps"
	"net"
	"net/netip"
	"slices"
	"strconv"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"
)

// SetValues writes load-time values, given as text the way a manifest
// records them, into spec's variables. The variable's BTF type decides the
// encoding: a __be32 is an IPv4 address in network byte order, a 6-byte
// array a MAC address, other integers decimal numbers in host order.
func SetValues(spec *ebpf.CollectionSpec, values map[string]string) error {
	for _, name := range slices.Sorted(maps.Keys(values)) {
		vs, ok := spec.Variables[name]
		if !ok {
			return fmt.Errorf("setting %s: the object has no such variable", name)
		}
		if err := setText(vs, values[name]); err != nil {
			return fmt.Errorf("setting %s to %q: %w", name, values[name], err)
		}
	}
	return nil
}

func setText(vs *ebpf.VariableSpec, text string) error {
	if vs.Type == nil {
		return fmt.Errorf("variable has no BTF type")
	}
	typ := vs.Type.Type
	named := ""
	for {
		switch t := typ.(type) {
		case *btf.Volatile:
			typ = t.Type
			continue
		case *btf.Const:
			typ = t.Type
			continue
		case *btf.Typedef:
			if named == "" {
				named = t.Name
			}
			typ = t.Type
			continue
		}
		break
	}
	switch t := typ.(type) {
	case *btf.Array:
		if t.Nelems != 6 {
			return fmt.Errorf("array of %d elements: only MAC addresses (6 bytes) are supported", t.Nelems)
		}
		mac, err := net.ParseMAC(text)
		if err != nil || len(mac) != 6 {
			return fmt.Errorf("not a MAC address")
		}
		return vs.Set([6]byte(mac))
	case *btf.Int:
		if named == "__be32" {
			a, err := netip.ParseAddr(text)
			if err != nil || !a.Is4() {
				return fmt.Errorf("not an IPv4 address")
			}
			return vs.Set(a.As4())
		}
		n, err := strconv.ParseUint(text, 10, int(t.Size*8))
		if err != nil {
			return fmt.Errorf("not a %d-bit unsigned number", t.Size*8)
		}
		switch t.Size {
		case 1:
			return vs.Set(uint8(n))
		case 2:
			return vs.Set(uint16(n))
		case 4:
			return vs.Set(uint32(n))
		case 8:
			return vs.Set(n)
		}
	}
	return fmt.Errorf("unsupported type %s", typ)
}
