package loader

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/cilium/ebpf"
)

// A node loader keeps its stateful maps pinned across loads: a new build or
// variant must find the conntrack and NAT entries the old one made. Load's
// PinPath reuses a compatible pinned map but fails on one whose layout
// changed, and it pins new maps at once, before the programs that use them
// are attached anywhere. PlanPins decides per map instead and pins nothing:
// the caller pins the new maps (MapPlan.Pin) only once the programs that
// use them are in place, so a failure part-way leaves the old pins alone.

// MapPlan says which map each of a spec's maps is loaded with: a pinned
// map reused as it is, or a new one (empty, or with the entries of an
// incompatible pinned map copied in).
type MapPlan struct {
	// Replacements are for Options.MapReplacements: every map of the spec.
	Replacements map[string]*ebpf.Map
	// New are the maps that are not pinned yet (a subset of Replacements).
	New map[string]*ebpf.Map
	// Migrated names the maps whose pinned entries were copied into a map
	// of the new layout.
	Migrated []string
}

// Close closes every map of the plan (pinned maps stay pinned).
func (p *MapPlan) Close() {
	for _, m := range p.Replacements {
		m.Close()
	}
}

// PlanPins plans the maps of spec against the maps pinned by name in dir.
// A pinned map the spec is compatible with is reused. One whose layout
// changed is migrated when its entries still fit (same key and value size,
// both hash maps, or the same type with another size limit or flags), or
// replaced by an empty map if fresh(name) says its state may be dropped;
// otherwise PlanPins fails naming the map, and nothing is changed.
func PlanPins(spec *ebpf.CollectionSpec, dir string, fresh func(name string) bool) (*MapPlan, error) {
	p := &MapPlan{Replacements: map[string]*ebpf.Map{}, New: map[string]*ebpf.Map{}}
	// A map to create: its spec and the incompatible pinned map, if any.
	type create struct {
		name string
		spec *ebpf.MapSpec
		old  *ebpf.Map
		m    *ebpf.Map
		err  error
	}
	var todo []*create
	fail := func(err error) (*MapPlan, error) {
		for _, c := range todo {
			if c.old != nil {
				c.old.Close()
			}
			if c.m != nil && p.Replacements[c.name] == nil {
				c.m.Close()
			}
		}
		p.Close()
		return nil, err
	}
	for _, name := range slices.Sorted(maps.Keys(spec.Maps)) {
		if strings.HasPrefix(name, ".") {
			continue // .rodata, .bss: part of the programs
		}
		ms := spec.Maps[name].Copy()
		ms.Pinning = ebpf.PinNone
		old, err := ebpf.LoadPinnedMap(filepath.Join(dir, name), nil)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return fail(fmt.Errorf("map %s: opening its pin: %w", name, err))
		}
		if err == nil && ms.Compatible(old) == nil {
			p.Replacements[name] = old
			continue
		}
		todo = append(todo, &create{name: name, spec: ms, old: old})
	}
	// Large preallocated maps (conntrack, NAT) take the kernel tens of
	// milliseconds each to create: create them at once.
	concurrently(len(todo), func(i int) { todo[i].m, todo[i].err = ebpf.NewMap(todo[i].spec) })
	for _, c := range todo {
		if c.err != nil {
			return fail(fmt.Errorf("map %s: creating: %w", c.name, c.err))
		}
	}
	for _, c := range todo {
		p.Replacements[c.name] = c.m
		p.New[c.name] = c.m
		if c.old == nil {
			continue
		}
		if fresh != nil && fresh(c.name) {
			continue
		}
		if err := migrate(c.old, c.m); err != nil {
			return fail(fmt.Errorf("map %s: the new layout (%s, key %d, value %d bytes, %d entries) is incompatible with the pinned map and cannot be migrated: %w",
				c.name, c.spec.Type, c.spec.KeySize, c.spec.ValueSize, c.spec.MaxEntries, err))
		}
		p.Migrated = append(p.Migrated, c.name)
	}
	for _, c := range todo {
		if c.old != nil {
			c.old.Close()
		}
	}
	return p, nil
}

// migrate copies every entry of old into m.
func migrate(old, m *ebpf.Map) error {
	if old.KeySize() != m.KeySize() || old.ValueSize() != m.ValueSize() {
		return fmt.Errorf("key/value size %d/%d would become %d/%d", old.KeySize(), old.ValueSize(), m.KeySize(), m.ValueSize())
	}
	hash := func(t ebpf.MapType) bool { return t == ebpf.Hash || t == ebpf.LRUHash }
	if old.Type() != m.Type() && !(hash(old.Type()) && hash(m.Type())) {
		return fmt.Errorf("map type %s would become %s", old.Type(), m.Type())
	}
	key := make([]byte, old.KeySize())
	val := make([]byte, old.ValueSize())
	it := old.Iterate()
	for it.Next(&key, &val) {
		if err := m.Put(key, val); err != nil {
			return fmt.Errorf("copying an entry: %w", err)
		}
	}
	return it.Err()
}
