package loader_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/cilium/ebpf"

	"github.com/dpforge/dpforge/bpf/loader"
)

func pinnedHash(t *testing.T, dir, name string, max uint32, entries int) {
	t.Helper()
	m, err := ebpf.NewMap(&ebpf.MapSpec{Name: name, Type: ebpf.Hash, KeySize: 4, ValueSize: 8, MaxEntries: max})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	for i := range entries {
		if err := m.Put(uint32(i), uint64(i)*10); err != nil {
			t.Fatal(err)
		}
	}
	if err := m.Pin(filepath.Join(dir, name)); err != nil {
		t.Fatal(err)
	}
}

// TestPlanPins: a compatible pinned map is reused, one with another size
// is migrated with its entries, an ephemeral one is replaced empty, a
// layout whose entries cannot fit is refused, and a map not pinned yet is
// new. Nothing under the pin directory changes.
func TestPlanPins(t *testing.T) {
	requireRoot(t)
	dir := privateBPFFS(t)
	pinnedHash(t, dir, "same", 64, 3)
	pinnedHash(t, dir, "grown", 64, 5)
	pinnedHash(t, dir, "events", 64, 2)
	spec := &ebpf.CollectionSpec{Maps: map[string]*ebpf.MapSpec{
		"same":   {Name: "same", Type: ebpf.Hash, KeySize: 4, ValueSize: 8, MaxEntries: 64},
		"grown":  {Name: "grown", Type: ebpf.Hash, KeySize: 4, ValueSize: 8, MaxEntries: 128},
		"events": {Name: "events", Type: ebpf.Hash, KeySize: 4, ValueSize: 16, MaxEntries: 64},
		"fresh":  {Name: "fresh", Type: ebpf.Hash, KeySize: 4, ValueSize: 8, MaxEntries: 8},
	}}
	plan, err := loader.PlanPins(spec, dir, func(name string) bool { return name == "events" })
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Replacements) != 4 {
		t.Errorf("%d replacements, want 4", len(plan.Replacements))
	}
	for name, isNew := range map[string]bool{"same": false, "grown": true, "events": true, "fresh": true} {
		if _, ok := plan.New[name]; ok != isNew {
			t.Errorf("%s: new %v, want %v", name, ok, isNew)
		}
	}
	if len(plan.Migrated) != 1 || plan.Migrated[0] != "grown" {
		t.Errorf("migrated %q, want [grown]", plan.Migrated)
	}
	grown := plan.New["grown"]
	if grown.MaxEntries() != 128 {
		t.Errorf("grown: %d entries max, want 128", grown.MaxEntries())
	}
	for i := range 5 {
		var v uint64
		if err := grown.Lookup(uint32(i), &v); err != nil || v != uint64(i)*10 {
			t.Errorf("grown: key %d: %d, %v; want %d", i, v, err, i*10)
		}
	}
	var k uint32
	var v [16]byte
	if plan.New["events"].Iterate().Next(&k, &v) {
		t.Error("events: the ephemeral map's replacement is not empty")
	}
	// The pins are untouched: the old maps, with their old sizes.
	old, err := ebpf.LoadPinnedMap(filepath.Join(dir, "grown"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if old.MaxEntries() != 64 {
		t.Errorf("the pinned grown map changed: %d entries max", old.MaxEntries())
	}
	old.Close()

	// A value that no longer fits is refused, naming the map, and every
	// map the plan opened or created is closed.
	plan.Close()
	before := openFDs(t)
	spec.Maps["same"].ValueSize = 16
	if _, err := loader.PlanPins(spec, dir, func(name string) bool { return name == "events" }); err == nil || !strings.Contains(err.Error(), "map same") || !strings.Contains(err.Error(), "cannot be migrated") {
		t.Errorf("incompatible layout: %v, want a refusal naming map same", err)
	}
	if after := openFDs(t); after != before {
		t.Errorf("%d file descriptors open after a refused plan, %d before", after, before)
	}
}
