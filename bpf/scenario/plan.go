package scenario

import (
	"encoding/binary"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"
	"gopkg.in/yaml.v3"

	"github.com/dpforge/dpforge/bpf"
	"github.com/dpforge/dpforge/bpf/packet"
)

// plan is a scenario encoded against one object: everything Run needs,
// with every value already checked against the object's BTF.
type plan struct {
	codec    codec
	vars     []varValue
	programs []string // distinct, in order of use
	runs     []*runPlan
}

type varValue struct {
	name string
	b    []byte
}

type runPlan struct {
	label   string // "" for the scenario's own packet
	program string
	writes  []write
	data    []byte
	ctx     skbCtx
	ifindex uint32
	expect  expectPlan
}

type write struct {
	m          string
	key, value []byte
	node       *yaml.Node
}

type expectPlan struct {
	verdict *Verdict
	packet  *packet.Packet
	ctx     *Ctx
	maps    []mapPlan
}

type mapPlan struct {
	name    string
	spec    *ebpf.MapSpec
	entries []entryPlan
	absent  []absentPlan
	count   *int
	node    *yaml.Node
}

type entryPlan struct {
	key, value *image // value nil: the entry must exist
	keyNode    *yaml.Node
}

type absentPlan struct {
	key  *image
	node *yaml.Node
}

// Check checks a scenario against an object without loading it: its
// programs exist and are tc programs, its variables and maps exist, and
// every key, value and variable encodes into its BTF type. All problems are
// returned together as an *Error. Run does the same checks first.
func Check(spec *ebpf.CollectionSpec, s *Scenario) error {
	_, err := compile(spec, s)
	return err
}

// compile checks s against spec and encodes it.
func compile(spec *ebpf.CollectionSpec, s *Scenario) (*plan, error) {
	order := spec.ByteOrder
	if order == nil {
		order = binary.NativeEndian
	}
	c := &compiler{spec: spec, s: s, d: &diags{file: s.File}, p: &plan{codec: codec{order: order}}}
	// Parse has validated a parsed scenario; one built in Go has not.
	s.validate(c.d)
	if err := c.d.err(); err != nil {
		return nil, err
	}
	c.values()
	if s.Packet != nil {
		c.run("", s.Program, s.node("program"), s.Maps, s.Packet, s.Ctx, &s.Expect, []any{})
	}
	for i, st := range s.Steps {
		label := st.Name
		if label == "" {
			label = fmt.Sprintf("step %d", i+1)
		}
		prog, progNode := st.Program, s.node("steps", i, "program")
		if prog == "" {
			prog, progNode = s.Program, s.node("program")
		}
		writes := st.Maps
		if i == 0 && s.Packet == nil {
			writes = append(slices.Clip(s.Maps), st.Maps...)
		}
		c.run(label, prog, progNode, writes, st.Packet, st.Ctx, &st.Expect, []any{"steps", i})
	}
	if err := c.d.err(); err != nil {
		return nil, err
	}
	return c.p, nil
}

type compiler struct {
	spec *ebpf.CollectionSpec
	s    *Scenario
	d    *diags
	p    *plan
}

func (c *compiler) values() {
	for _, v := range c.s.Values {
		vs, ok := c.spec.Variables[v.Name]
		if !ok {
			c.d.add(v.key, ruleUnknownVariable, "%s", unknownName("variable", v.Name, slices.Sorted(maps.Keys(c.spec.Variables))))
			continue
		}
		var t btf.Type
		if vs.Type != nil {
			t = vs.Type.Type
		}
		img, probs := c.p.codec.encode(v.Node, t, int(vs.Size()), v.Name)
		c.d.addProblems(probs)
		if len(probs) == 0 {
			c.p.vars = append(c.p.vars, varValue{name: v.Name, b: img.buf})
		}
	}
}

func (c *compiler) run(label, prog string, progNode *yaml.Node, writes MapWrites, pkt *packet.Packet, ctx *Ctx, exp *Expect, at []any) {
	r := &runPlan{label: label, program: prog}
	c.program(prog, progNode)
	for _, w := range writes {
		ms := c.mapSpec(w.Map, w.key)
		if ms == nil {
			continue
		}
		for _, e := range w.Entries {
			k, kp := c.p.codec.encode(e.Key, mapKey(ms), int(ms.KeySize), "key")
			v, vp := c.p.codec.encode(e.Value, mapValue(ms), int(ms.ValueSize), "value")
			c.d.addProblems(kp)
			c.d.addProblems(vp)
			key, ok := c.p.codec.rawKey(ms, k.buf)
			if !ok && len(kp) == 0 {
				c.d.add(e.Key, ruleOutOfRange, "key %s has no slot in map %q", render(e.Key), w.Map)
			}
			r.writes = append(r.writes, write{m: w.Map, key: key, value: v.buf, node: e.node})
		}
	}
	if pkt != nil {
		data, err := pkt.Marshal()
		switch {
		case err != nil:
			c.d.add(c.s.node(append(at, "packet")...), ruleBadValue, "packet: %v", err)
		case len(data) < 14:
			c.d.add(c.s.node(append(at, "packet")...), ruleBadValue, "packet: %d bytes; a tc program needs at least an Ethernet header (14)", len(data))
		}
		r.data = data
	}
	r.ctx = ctx.skb()
	r.ifindex = r.ctx.Ifindex
	c.ctx(ctx, append(at, "ctx"))
	c.ctx(exp.Ctx, append(at, "expect", "ctx"))
	r.expect = expectPlan{verdict: exp.Verdict, packet: exp.Packet, ctx: exp.Ctx}
	for _, mc := range exp.Maps {
		ms := c.mapSpec(mc.Map, mc.key)
		if ms == nil {
			continue
		}
		mp := mapPlan{name: mc.Map, spec: ms, count: mc.Count, node: mc.key}
		for _, e := range mc.Entries {
			k, kp := c.p.codec.encode(e.Key, mapKey(ms), int(ms.KeySize), "key")
			c.d.addProblems(kp)
			ep := entryPlan{key: k, keyNode: e.Key}
			if !isNull(deref(e.Value)) {
				v, vp := c.p.codec.encode(e.Value, mapValue(ms), int(ms.ValueSize), "value")
				c.d.addProblems(vp)
				ep.value = v
			}
			mp.entries = append(mp.entries, ep)
		}
		for _, a := range mc.Absent {
			k, kp := c.p.codec.encode(a, mapKey(ms), int(ms.KeySize), "key")
			c.d.addProblems(kp)
			mp.absent = append(mp.absent, absentPlan{key: k, node: a})
		}
		r.expect.maps = append(r.expect.maps, mp)
	}
	c.p.runs = append(c.p.runs, r)
}

func (c *compiler) ctx(ctx *Ctx, at []any) {
	if ctx != nil && len(ctx.CB) > 5 {
		c.d.add(c.s.node(append(at, "cb")...), ruleOutOfRange, "cb has %d words; __sk_buff has 5", len(ctx.CB))
	}
}

func (c *compiler) program(name string, n *yaml.Node) {
	ps, ok := c.spec.Programs[name]
	switch {
	case name == "":
		return // reported by validate
	case !ok:
		c.d.add(n, ruleUnknownProgram, "%s", unknownName("program", name, slices.Sorted(maps.Keys(c.spec.Programs))))
		return
	case ps.Type != ebpf.SchedCLS && ps.Type != ebpf.SchedACT:
		c.d.add(n, ruleUnsupported, "program %q is %s; scenarios run tc programs (SchedCLS, SchedACT)", name, ps.Type)
		return
	}
	if !slices.Contains(c.p.programs, name) {
		c.p.programs = append(c.p.programs, name)
	}
}

// mapSpec returns the map that a scenario reads or writes, or nil after
// reporting why it cannot.
func (c *compiler) mapSpec(name string, n *yaml.Node) *ebpf.MapSpec {
	ms, ok := c.spec.Maps[name]
	switch {
	case ok && strings.HasPrefix(name, "."):
		c.d.add(n, ruleUnsupported, "%q is a data section: set its variables under \"values\"", name)
		return nil
	case !ok:
		var known []string
		for k := range c.spec.Maps {
			if !strings.HasPrefix(k, ".") {
				known = append(known, k)
			}
		}
		slices.Sort(known)
		c.d.add(n, ruleUnknownMap, "%s", unknownName("map", name, known))
		return nil
	case !dataMap(ms.Type):
		c.d.add(n, ruleUnsupported, "map %q is a %s map; scenarios read and write hash, array and LPM trie maps and their per-CPU and LRU kinds", name, ms.Type)
		return nil
	}
	if ik, ok := indexed(ms); ok {
		// Scenarios write the key the index packs, as readers show it.
		ms = ms.Copy()
		ms.Key = ik.Type
	}
	return ms
}

// indexed returns how the keys of an array are packed into its index, if
// they are (bpf.IndexedKeys).
func indexed(ms *ebpf.MapSpec) (bpf.IndexedKey, bool) {
	ik, ok := bpf.IndexedKeys[ms.Name]
	return ik, ok && arrayMap(ms.Type) && ik.Type.Size == ms.KeySize
}

// rawKey returns the bytes the kernel takes for key, which is laid out as
// ms's key: for an array whose index packs a struct key, the index; false
// when the key has no slot.
func (c codec) rawKey(ms *ebpf.MapSpec, key []byte) ([]byte, bool) {
	ik, ok := indexed(ms)
	if !ok {
		return key, true
	}
	i, ok := ik.Index(key)
	b := make([]byte, 4)
	c.order.PutUint32(b, i)
	return b, ok
}

// viewKey is the inverse of rawKey, for a key the kernel returned.
func (c codec) viewKey(ms *ebpf.MapSpec, raw []byte) []byte {
	ik, ok := indexed(ms)
	if !ok || len(raw) != 4 {
		return raw
	}
	return ik.Key(c.order.Uint32(raw))
}

func dataMap(t ebpf.MapType) bool {
	switch t {
	case ebpf.Hash, ebpf.Array, ebpf.PerCPUHash, ebpf.PerCPUArray, ebpf.LRUHash, ebpf.LRUCPUHash, ebpf.LPMTrie:
		return true
	}
	return false
}

func arrayMap(t ebpf.MapType) bool { return t == ebpf.Array || t == ebpf.PerCPUArray }

// mapKey and mapValue return a map's BTF key and value types, nil when the
// map has none.
func mapKey(ms *ebpf.MapSpec) btf.Type   { return typed(ms.Key) }
func mapValue(ms *ebpf.MapSpec) btf.Type { return typed(ms.Value) }

func typed(t btf.Type) btf.Type {
	if _, void := t.(*btf.Void); void {
		return nil
	}
	return t
}
