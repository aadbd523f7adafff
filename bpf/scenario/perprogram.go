package scenario

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"golang.org/x/sys/unix"

	"github.com/dpforge/dpforge/bpf/loader"
)

// perProgram is the Runner's finer way of loading, for objects where it
// gives the same results: every load shares one set of maps, and each
// program is loaded once per set of the values it reads, rather than once
// per set of all the scenario's values.
//
// The verifier's work on a program, and what the program does, depend on
// the maps (the same ones here) and on the read-only values the program
// reads; a value it never reads changes neither. So a scenario's programs
// may come from different loads, each with the scenario's values of what
// it reads, as long as they share every map they can write or read at run
// time. That holds when the object's only data sections are read-only
// (no .data or .bss, which a load would have its own copy of), it has no
// program or map arrays (whose contents a load fills), and every reference
// to a data section falls inside one variable (reads).
type perProgram struct {
	reads  map[string][]string // program -> the variables it reads
	shared map[string]*ebpf.Map
	maps   *loaded // the shared maps, with their state after creation
	loads  map[string]*ebpf.Collection
	failed map[string]bool // keys whose load the kernel rejected
}

// newPerProgram returns the per-program mode for spec, or nil when spec
// does not allow it.
func newPerProgram(spec *ebpf.CollectionSpec) *perProgram {
	reads, ok := programReads(spec)
	if !ok {
		return nil
	}
	return &perProgram{reads: reads, loads: map[string]*ebpf.Collection{}, failed: map[string]bool{}}
}

// programReads returns, for each program, the variables it reads, and
// whether the object allows loading its programs apart (see perProgram).
func programReads(spec *ebpf.CollectionSpec) (map[string][]string, bool) {
	for name, ms := range spec.Maps {
		switch ms.Type {
		case ebpf.ProgramArray, ebpf.ArrayOfMaps, ebpf.HashOfMaps:
			return nil, false
		}
		if strings.HasPrefix(name, ".") && ms.Flags&unix.BPF_F_RDONLY_PROG == 0 {
			return nil, false // a writable data section
		}
	}
	reads := map[string][]string{}
	for name, ps := range spec.Programs {
		vars := map[string]bool{}
		for _, ins := range ps.Instructions {
			section := ins.Reference()
			if !strings.HasPrefix(section, ".") || spec.Maps[section] == nil {
				continue // not a data section: a named map, a function
			}
			if ins.OpCode != asm.LoadImmOp(asm.DWord) || ins.Src != asm.PseudoMapValue {
				return nil, false
			}
			off := uint64(ins.Constant) >> 32
			found := false
			for vn, vs := range spec.Variables {
				if vs.SectionName == section && off >= uint64(vs.Offset) && off < uint64(vs.Offset)+uint64(vs.Size()) {
					vars[vn], found = true, true
				}
			}
			if !found {
				return nil, false
			}
		}
		reads[name] = slices.Sorted(maps.Keys(vars))
	}
	return reads, true
}

// collection returns a collection of the shared maps and the plan's
// programs, each from a load with the plan's values of what it reads, the
// maps in their state after creation. ok is false when a program cannot
// be had this way (its load was rejected: the caller loads as Run does).
func (pp *perProgram) collection(r *Runner, p *plan) (_ *ebpf.Collection, ok bool, err error) {
	if pp.maps == nil {
		if err := pp.createMaps(r.spec); err != nil {
			return nil, false, err
		}
	} else if pp.maps.used {
		if err := pp.maps.reset(); err != nil {
			return nil, false, err
		}
		pp.maps.used = false
	}
	coll := &ebpf.Collection{Programs: map[string]*ebpf.Program{}, Maps: pp.shared}
	for _, name := range p.programs {
		vals := planValues(p, func(v string) bool { return slices.Contains(pp.reads[name], v) })
		key := loadKey([]string{name}, valuesKeyOf(vals))
		if pp.failed[key] {
			return nil, false, nil
		}
		l := pp.loads[key]
		if l == nil {
			if l, err = pp.load(r, name, vals); err != nil {
				pp.failed[key] = true
				return nil, false, nil
			}
			pp.loads[key] = l
		}
		coll.Programs[name] = l.Programs[name]
	}
	pp.maps.used = true
	return coll, true, nil
}

// createMaps creates the maps every load shares (all but data sections)
// and records their state.
func (pp *perProgram) createMaps(spec *ebpf.CollectionSpec) error {
	pp.shared = map[string]*ebpf.Map{}
	for name, ms := range spec.Maps {
		if strings.HasPrefix(name, ".") {
			continue
		}
		ms = ms.Copy()
		ms.Pinning = ebpf.PinNone
		m, err := ebpf.NewMap(ms)
		if err != nil {
			pp.closeMaps()
			return fmt.Errorf("creating map %q: %w", name, err)
		}
		pp.shared[name] = m
	}
	pp.maps = &loaded{coll: &ebpf.Collection{Maps: pp.shared}}
	if err := pp.maps.snapshot(); err != nil {
		pp.closeMaps()
		return err
	}
	return nil
}

// load loads one program with the given values and the shared maps.
func (pp *perProgram) load(r *Runner, name string, vals map[string][]byte) (*ebpf.Collection, error) {
	start := time.Now()
	defer func() { r.stats.Loads++; r.stats.LoadTime += time.Since(start) }()
	cs := r.spec.Copy()
	for vn, b := range vals {
		if err := cs.Variables[vn].Set(b); err != nil {
			return nil, fmt.Errorf("setting variable %q: %w", vn, err)
		}
	}
	coll, err := loader.Load(cs, loader.Options{Programs: []string{name}, MapReplacements: pp.shared, LogLevel: r.LogLevel})
	if err != nil {
		return nil, err
	}
	r.loadedPrograms(coll)
	return coll, nil
}

func (pp *perProgram) closeMaps() {
	if pp.maps != nil {
		pp.maps.closeRings()
	}
	for _, m := range pp.shared {
		m.Close()
	}
	pp.shared, pp.maps = nil, nil
}

func (pp *perProgram) close() {
	for _, c := range pp.loads {
		c.Close()
	}
	pp.loads = nil
	pp.closeMaps()
}
