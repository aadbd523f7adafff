package node

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"

	"github.com/dpforge/dpforge/bpf"
	"github.com/dpforge/dpforge/bpf/loader"
)

// Map entries are shown the way `cilium map get` shows them: one line per
// entry, key then value, each a list of field=value decoded through the
// object's BTF: a __be32 is an IPv4 address, a __be16 a port in host
// order, a 6-byte array a MAC address, an LPM key ADDR/LEN; padding is
// left out.

// Entry is one decoded map entry.
type Entry struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// MapView decodes one pinned map through its BTF in a build. A per-CPU
// map's value is shown summed over the CPUs; an array whose index packs a
// key (bpf.IndexedKeys) is shown by that key, without its zero slots.
type MapView struct {
	Name       string
	key, value btf.Type
	m          *ebpf.Map
	indexed    *bpf.IndexedKey
}

// OpenMap opens a pinned map for display, with its key and value types
// from b's variant v.
func (n *Node) OpenMap(b *Build, variant, name string) (*MapView, error) {
	spec, err := b.Spec(variant)
	if err != nil {
		return nil, err
	}
	ms := spec.Maps[name]
	if ms == nil || strings.HasPrefix(name, ".") {
		return nil, fmt.Errorf("variant %s has no map %q", variant, name)
	}
	if ms.Key == nil || ms.Value == nil {
		return nil, fmt.Errorf("map %s has no BTF key and value types", name)
	}
	m, err := n.PinnedMap(name)
	if err != nil {
		return nil, err
	}
	return newMapView(name, ms.Key, ms.Value, m), nil
}

func newMapView(name string, key, value btf.Type, m *ebpf.Map) *MapView {
	v := &MapView{Name: name, key: key, value: value, m: m}
	if ik, ok := bpf.IndexedKeys[name]; ok && ik.Type.Size == m.KeySize() &&
		(m.Type() == ebpf.Array || m.Type() == ebpf.PerCPUArray) {
		v.indexed, v.key = &ik, ik.Type
	}
	return v
}

func (v *MapView) perCPU() bool {
	switch v.m.Type() {
	case ebpf.PerCPUArray, ebpf.PerCPUHash, ebpf.LRUCPUHash:
		return true
	}
	return false
}

// shown returns the key and value as displayed: the key unpacked from an
// index, the per-CPU copies summed; false for a zero slot of an indexed map.
func (v *MapView) shown(key []byte, vals [][]byte) (k, val []byte, ok bool) {
	val = sumCPUs(vals, v.value)
	if v.indexed == nil {
		return key, val, true
	}
	if !slices.ContainsFunc(val, func(b byte) bool { return b != 0 }) {
		return nil, nil, false
	}
	return v.indexed.Key(binary.NativeEndian.Uint32(key)), val, true
}

// sumCPUs adds up the integer fields of a value's per-CPU copies (of one
// copy: that copy).
func sumCPUs(vals [][]byte, t btf.Type) []byte {
	s, ok := btf.UnderlyingType(t).(*btf.Struct)
	if len(vals) == 1 || !ok {
		return vals[0]
	}
	out := make([]byte, size(t))
	for _, m := range s.Members {
		off, n := int(m.Offset.Bytes()), size(m.Type)
		if _, isInt := btf.UnderlyingType(m.Type).(*btf.Int); !isInt || m.BitfieldSize != 0 || off+n > len(out) {
			continue
		}
		var sum uint64
		for _, v := range vals {
			sum += uintAt(v[off : off+n])
		}
		putUint(out[off:off+n], sum)
	}
	return out
}

func uintAt(b []byte) uint64 {
	switch len(b) {
	case 1:
		return uint64(b[0])
	case 2:
		return uint64(binary.NativeEndian.Uint16(b))
	case 4:
		return uint64(binary.NativeEndian.Uint32(b))
	case 8:
		return binary.NativeEndian.Uint64(b)
	}
	return 0
}

func putUint(b []byte, v uint64) {
	switch len(b) {
	case 1:
		b[0] = byte(v)
	case 2:
		binary.NativeEndian.PutUint16(b, uint16(v))
	case 4:
		binary.NativeEndian.PutUint32(b, uint32(v))
	case 8:
		binary.NativeEndian.PutUint64(b, v)
	}
}

// Close closes the map.
func (v *MapView) Close() error { return v.m.Close() }

// List returns every entry, sorted by key text.
func (v *MapView) List() ([]Entry, error) {
	switch v.m.Type() {
	case ebpf.RingBuf, ebpf.PerfEventArray:
		return nil, fmt.Errorf("map %s is a %s: its records are events, not entries", v.Name, v.m.Type())
	}
	var out []Entry
	key := make([]byte, v.m.KeySize())
	val := make([]byte, v.m.ValueSize())
	var vals [][]byte
	it := v.m.Iterate()
	for {
		var more bool
		if v.perCPU() {
			more = it.Next(&key, &vals)
		} else {
			more = it.Next(&key, &val)
			vals = [][]byte{val}
		}
		if !more {
			break
		}
		if k, val, ok := v.shown(key, vals); ok {
			out = append(out, Entry{Key: format(k, v.key), Value: format(val, v.value)})
		}
	}
	if err := it.Err(); err != nil {
		return nil, fmt.Errorf("listing %s: %w", v.Name, err)
	}
	slices.SortFunc(out, func(a, b Entry) int { return strings.Compare(a.Key, b.Key) })
	return out, nil
}

// Get looks up the entry whose key is text: "ADDR/LEN" or "ADDR" for an
// LPM key (the lookup finds the longest prefix covering it), a bare value
// for a key of one field, else field=value pairs
// separated by commas or spaces (fields not given are zero).
func (v *MapView) Get(text string) (Entry, error) {
	key, err := parse(text, v.key)
	if err != nil {
		return Entry{}, fmt.Errorf("key %q for %s: %w", text, v.Name, err)
	}
	raw := key
	if v.indexed != nil {
		i, ok := v.indexed.Index(key)
		if !ok {
			return Entry{}, fmt.Errorf("%s has no slot for %s", v.Name, format(key, v.key))
		}
		raw = binary.NativeEndian.AppendUint32(nil, i)
	}
	val := make([]byte, v.m.ValueSize())
	vals := [][]byte{val}
	if v.perCPU() {
		err = v.m.Lookup(raw, &vals)
	} else {
		err = v.m.Lookup(raw, &val)
	}
	if err != nil {
		if errors.Is(err, ebpf.ErrKeyNotExist) {
			return Entry{}, fmt.Errorf("%s has no entry for %s", v.Name, format(key, v.key))
		}
		return Entry{}, fmt.Errorf("looking up %s: %w", v.Name, err)
	}
	return Entry{Key: format(key, v.key), Value: format(sumCPUs(vals, v.value), v.value)}, nil
}

// kind classifies a leaf type for display and parsing.
type kind int

const (
	kindInt kind = iota
	kindIPv4
	kindPort
	kindMAC
	kindBytes
)

func leaf(t btf.Type) (kind, btf.Type) {
	t, typedefs := loader.Peel(t)
	name := ""
	if len(typedefs) > 0 {
		name = typedefs[0]
	}
	switch tt := t.(type) {
	case *btf.Int:
		switch name {
		case "__be32":
			return kindIPv4, t
		case "__be16":
			return kindPort, t
		}
		return kindInt, t
	case *btf.Array:
		if tt.Nelems == 6 {
			return kindMAC, t
		}
		return kindBytes, t
	}
	return kindInt, t
}

func size(t btf.Type) int {
	n, err := btf.Sizeof(t)
	if err != nil {
		return 0
	}
	return n
}

func padding(name string) bool {
	return name == "" || strings.HasPrefix(name, "_") || strings.HasPrefix(name, "pad")
}

// format renders b laid out as t.
func format(b []byte, t btf.Type) string {
	if s, ok := btf.UnderlyingType(t).(*btf.Struct); ok {
		if pfx, ok := lpm(b, s); ok {
			return pfx
		}
		var parts []string
		for _, m := range s.Members {
			if padding(m.Name) || m.BitfieldSize != 0 {
				continue
			}
			off := int(m.Offset.Bytes())
			n := size(m.Type)
			if off+n > len(b) {
				continue
			}
			parts = append(parts, m.Name+"="+format(b[off:off+n], m.Type))
		}
		return strings.Join(parts, " ")
	}
	k, lt := leaf(t)
	switch k {
	case kindIPv4:
		if len(b) == 4 {
			return netip.AddrFrom4([4]byte(b)).String()
		}
	case kindPort:
		if len(b) == 2 {
			return strconv.Itoa(int(binary.BigEndian.Uint16(b)))
		}
	case kindMAC:
		return net.HardwareAddr(b).String()
	case kindBytes:
		return fmt.Sprintf("%x", b)
	}
	if i, ok := lt.(*btf.Int); ok {
		var u uint64
		switch len(b) {
		case 1:
			u = uint64(b[0])
		case 2:
			u = uint64(binary.NativeEndian.Uint16(b))
		case 4:
			u = uint64(binary.NativeEndian.Uint32(b))
		case 8:
			u = binary.NativeEndian.Uint64(b)
		default:
			return fmt.Sprintf("%x", b)
		}
		if i.Encoding&btf.Signed != 0 {
			return strconv.FormatInt(int64(u)<<(64-8*len(b))>>(64-8*len(b)), 10)
		}
		return strconv.FormatUint(u, 10)
	}
	return fmt.Sprintf("%x", b)
}

// lpm recognises an LPM trie key (prefixlen, then an address).
func lpm(b []byte, s *btf.Struct) (string, bool) {
	if len(s.Members) != 2 || s.Members[0].Name != "prefixlen" || len(b) != 8 {
		return "", false
	}
	if k, _ := leaf(s.Members[1].Type); k != kindIPv4 {
		return "", false
	}
	return fmt.Sprintf("%s/%d", netip.AddrFrom4([4]byte(b[4:8])), binary.NativeEndian.Uint32(b[:4])), true
}

// parse encodes key text into bytes laid out as t.
func parse(text string, t btf.Type) ([]byte, error) {
	out := make([]byte, size(t))
	s, ok := btf.UnderlyingType(t).(*btf.Struct)
	if !ok {
		return out, put(out, t, text)
	}
	var fields []btf.Member
	for _, m := range s.Members {
		if !padding(m.Name) {
			fields = append(fields, m)
		}
	}
	if len(fields) == 2 && fields[0].Name == "prefixlen" && !strings.Contains(text, "=") {
		p, err := netip.ParsePrefix(text)
		if err != nil {
			a, aerr := netip.ParseAddr(text)
			if aerr != nil || !a.Is4() {
				return nil, fmt.Errorf("want ADDR/LEN or ADDR")
			}
			p = netip.PrefixFrom(a, 32)
		}
		binary.NativeEndian.PutUint32(out[:4], uint32(p.Bits()))
		a := p.Masked().Addr().As4()
		copy(out[4:8], a[:])
		return out, nil
	}
	if len(fields) == 1 && !strings.Contains(text, "=") {
		text = fields[0].Name + "=" + text
	}
	for _, kv := range strings.FieldsFunc(text, func(r rune) bool { return r == ',' || r == ' ' }) {
		name, val, ok := strings.Cut(kv, "=")
		if !ok {
			return nil, fmt.Errorf("%q is not field=value", kv)
		}
		i := slices.IndexFunc(fields, func(m btf.Member) bool { return m.Name == name })
		if i < 0 {
			var names []string
			for _, m := range fields {
				names = append(names, m.Name)
			}
			return nil, fmt.Errorf("no field %q (fields: %s)", name, strings.Join(names, ", "))
		}
		m := fields[i]
		off, n := int(m.Offset.Bytes()), size(m.Type)
		if err := put(out[off:off+n], m.Type, val); err != nil {
			return nil, fmt.Errorf("field %s: %w", name, err)
		}
	}
	return out, nil
}

// put encodes one leaf value.
func put(b []byte, t btf.Type, text string) error {
	k, _ := leaf(t)
	switch k {
	case kindIPv4:
		a, err := netip.ParseAddr(text)
		if err != nil || !a.Is4() || len(b) != 4 {
			return fmt.Errorf("%q is not an IPv4 address", text)
		}
		a4 := a.As4()
		copy(b, a4[:])
		return nil
	case kindPort:
		n, err := strconv.ParseUint(text, 10, 16)
		if err != nil || len(b) != 2 {
			return fmt.Errorf("%q is not a port", text)
		}
		binary.BigEndian.PutUint16(b, uint16(n))
		return nil
	case kindMAC:
		mac, err := net.ParseMAC(text)
		if err != nil || len(mac) != len(b) {
			return fmt.Errorf("%q is not a MAC address", text)
		}
		copy(b, mac)
		return nil
	}
	n, err := strconv.ParseUint(text, 0, 8*len(b))
	if err != nil {
		return fmt.Errorf("%q is not a %d-bit number", text, 8*len(b))
	}
	switch len(b) {
	case 1, 2, 4, 8:
		putUint(b, n)
	default:
		return fmt.Errorf("a field of %d bytes cannot be given as a number", len(b))
	}
	return nil
}
