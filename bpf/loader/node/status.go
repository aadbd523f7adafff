package node

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/cilium/ebpf"

	"github.com/dpforge/dpforge/bpf"
)

// Status is what `dpload status` reports.
type Status struct {
	Record *Record      `json:"record"`
	Hooks  []HookStatus `json:"hooks"`
	Maps   []MapFill    `json:"maps"`
	// Drops are the datapath's drop counters, by reason, hook and direction.
	Drops []Counter `json:"drops"`
}

// HookStatus is one hook and whether the recorded program is on it.
type HookStatus struct {
	Hook
	ProgramID ebpf.ProgramID `json:"program_id"`
	// Attached is true when the hook runs the pinned program of its name.
	Attached bool   `json:"attached"`
	Problem  string `json:"problem,omitempty"`
}

// MapFill is how full a pinned map is.
type MapFill struct {
	Name       string `json:"name"`
	Type       string `json:"type"`
	Entries    int    `json:"entries"`
	MaxEntries uint32 `json:"max_entries"`
}

// Counter is one entry of the metrics map.
type Counter struct {
	Reason  string `json:"reason"`
	Hook    string `json:"hook"`
	Dir     string `json:"dir"`
	Packets uint64 `json:"packets"`
	Bytes   uint64 `json:"bytes"`
}

// Status reads the record and checks it against the kernel.
func (n *Node) Status() (*Status, error) {
	r, err := n.LoadRecord()
	if err != nil {
		return nil, err
	}
	st := &Status{Record: r, Hooks: []HookStatus{}, Maps: []MapFill{}, Drops: []Counter{}}
	progIDs := map[string]ebpf.ProgramID{}
	for _, name := range bpf.Programs {
		p, err := ebpf.LoadPinnedProgram(n.progPath(name), nil)
		if err != nil {
			continue
		}
		if info, err := p.Info(); err == nil {
			if id, ok := info.ID(); ok {
				progIDs[name] = id
			}
		}
		p.Close()
	}
	for _, h := range r.Hooks {
		hs := HookStatus{Hook: h}
		id, err := hookProgramID(h)
		switch {
		case err != nil:
			hs.Problem = err.Error()
		case id != progIDs[h.Program]:
			hs.ProgramID = id
			hs.Problem = fmt.Sprintf("runs program %d, not the pinned %s (%d)", id, h.Program, progIDs[h.Program])
		default:
			hs.ProgramID, hs.Attached = id, true
		}
		st.Hooks = append(st.Hooks, hs)
	}
	for _, name := range bpf.Maps {
		m, err := ebpf.LoadPinnedMap(n.mapPath(name), nil)
		if err != nil {
			continue
		}
		fill := MapFill{Name: name, Type: m.Type().String(), MaxEntries: m.MaxEntries(), Entries: -1}
		if m.Type() != ebpf.RingBuf && m.Type() != ebpf.PerfEventArray {
			fill.Entries = countEntries(m)
		}
		st.Maps = append(st.Maps, fill)
		if name == bpf.MapMetrics {
			st.Drops, err = drops(m)
			if err != nil {
				m.Close()
				return nil, err
			}
		}
		m.Close()
	}
	return st, nil
}

func countEntries(m *ebpf.Map) int {
	switch m.Type() {
	case ebpf.Array, ebpf.PerCPUArray:
		return int(m.MaxEntries())
	}
	n := 0
	key := make([]byte, m.KeySize())
	buf := make([]byte, m.ValueSize())
	var val any = &buf
	if m.Type() == ebpf.PerCPUHash || m.Type() == ebpf.LRUCPUHash {
		val = &[][]byte{} // one copy per CPU
	}
	it := m.Iterate()
	for it.Next(&key, val) {
		n++
	}
	return n
}

// Counters returns every entry of the metrics map, drops and forwards,
// sorted by reason, hook and direction.
func Counters(m *ebpf.Map) ([]Counter, error) {
	var out []Counter
	var k bpf.MetricsKey
	add := func(v bpf.MetricsValue) {
		out = append(out, Counter{Reason: k.Reason.String(), Hook: k.Hook.String(), Dir: k.Dir.String(), Packets: v.Packets, Bytes: v.Bytes})
	}
	it := m.Iterate()
	switch m.Type() {
	case ebpf.PerCPUArray:
		// Every slot exists; those never counted are left out.
		var i uint32
		var vs []bpf.MetricsValue
		for it.Next(&i, &vs) {
			k = bpf.MetricsKeyAt(i)
			if sum := sumMetrics(vs); sum.Packets != 0 {
				add(sum)
			}
		}
	case ebpf.PerCPUHash, ebpf.LRUCPUHash:
		// Pins of a datapath that kept the counters in a hash.
		var vs []bpf.MetricsValue
		for it.Next(&k, &vs) {
			add(sumMetrics(vs))
		}
	default:
		var v bpf.MetricsValue
		for it.Next(&k, &v) {
			add(v)
		}
	}
	if err := it.Err(); err != nil {
		return nil, fmt.Errorf("reading %s: %w", bpf.MapMetrics, err)
	}
	slices.SortFunc(out, func(a, b Counter) int {
		return strings.Compare(a.Reason+"/"+a.Hook+"/"+a.Dir, b.Reason+"/"+b.Hook+"/"+b.Dir)
	})
	return out, nil
}

func sumMetrics(vs []bpf.MetricsValue) bpf.MetricsValue {
	var sum bpf.MetricsValue
	for _, v := range vs {
		sum.Packets += v.Packets
		sum.Bytes += v.Bytes
	}
	return sum
}

func drops(m *ebpf.Map) ([]Counter, error) {
	all, err := Counters(m)
	if err != nil {
		return nil, err
	}
	out := []Counter{}
	for _, c := range all {
		if strings.HasPrefix(c.Reason, "DROP_") {
			out = append(out, c)
		}
	}
	return out, nil
}

// PinnedMap opens one of the node's pinned maps by name.
func (n *Node) PinnedMap(name string) (*ebpf.Map, error) {
	if !slices.Contains(bpf.Maps, name) {
		return nil, fmt.Errorf("no map %q (maps: %s)", name, strings.Join(bpf.Maps, ", "))
	}
	m, err := ebpf.LoadPinnedMap(n.mapPath(name), nil)
	if err != nil {
		return nil, fmt.Errorf("map %s: %w", name, err)
	}
	return m, nil
}

// sortedKeys is maps.Keys, sorted.
func sortedKeys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }
