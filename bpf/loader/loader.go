package loader

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"syscall"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/btf"
)

// ErrNotPermitted is wrapped by Load when the kernel refuses to load
// programs for lack of privileges (EPERM). errors.Is(err, syscall.EPERM)
// holds for it too.
var ErrNotPermitted = fmt.Errorf("loading BPF programs needs root (CAP_BPF, CAP_SYS_ADMIN): %w", syscall.EPERM)

// explainLogSize is the verifier log buffer used to explain a rejected
// program. cilium/ebpf grows it on ENOSPC, but starting large saves the
// retries for the multi-megabyte logs of a real datapath.
const explainLogSize = 16 << 20

// LoadSpec reads and parses the object at path.
func LoadSpec(path string) (*ebpf.CollectionSpec, error) {
	spec, err := ebpf.LoadCollectionSpec(path)
	if err != nil {
		return nil, fmt.Errorf("parsing object: %w", err)
	}
	return spec, nil
}

// ParseSpec parses an object held in memory.
func ParseSpec(obj []byte) (*ebpf.CollectionSpec, error) {
	spec, err := ebpf.LoadCollectionSpecFromReader(bytes.NewReader(obj))
	if err != nil {
		return nil, fmt.Errorf("parsing object: %w", err)
	}
	return spec, nil
}

// Options configure Load. The zero value loads every program with maps
// created unpinned and no verifier log for accepted programs.
type Options struct {
	// Variant and Release name what is loaded (the variant id, the kernel
	// release) in errors; both are optional.
	Variant, Release string
	// Programs restricts the load to these programs and those a program
	// array's contents refer to; nil loads all.
	Programs []string
	// PinPath is a directory on bpffs. Maps the object marks as pinned by
	// name (LIBBPF_PIN_BY_NAME) are then taken from PinPath if a
	// compatible map is pinned there, and created and pinned otherwise:
	// their state survives a reload. Empty: every map is created unpinned
	// and nothing on bpffs is touched, whatever the object says.
	PinPath string
	// MapReplacements are maps to use instead of creating the named ones
	// (type, key and value size, max entries and flags must match).
	MapReplacements map[string]*ebpf.Map
	// LogLevel and LogSize configure the verifier log of accepted
	// programs, e.g. ebpf.LogLevelStats to read the instruction count from
	// the log on kernels whose program info lacks it. A rejected program
	// is always explained with the full log.
	LogLevel ebpf.LogLevel
	LogSize  uint32
}

// Load loads spec (which it does not change) into the kernel.
//
// The maps (and the frozen .rodata holding the load-time values) are
// created first; then the programs are loaded against them, up to
// GOMAXPROCS at a time, since the kernel verifies one program on one CPU
// and a datapath's load time is almost all verifier time. The result is
// the collection cilium/ebpf would have loaded from the same spec.
//
// If the kernel rejects programs, Load loads each rejected one again with
// the verifier's branch log and returns a *LoadError naming every rejected
// program with its full log; everything created is closed. Without
// privileges the error wraps ErrNotPermitted.
func Load(spec *ebpf.CollectionSpec, opts Options) (*ebpf.Collection, error) {
	cs, err := restrict(spec, opts.Programs)
	if err != nil {
		return nil, &LoadError{Variant: opts.Variant, Release: opts.Release, Err: err}
	}
	if opts.PinPath == "" {
		unpin(cs)
	}
	// One kernel BTF cache for every program (cilium/ebpf makes one per
	// collection otherwise).
	cache := btf.NewCache()
	coll, err := loadMaps(cs, opts, cache)
	if err != nil {
		if errors.Is(err, syscall.EPERM) {
			return nil, fmt.Errorf("%s: %w (%w)", opts.what(), ErrNotPermitted, err)
		}
		return nil, &LoadError{Variant: opts.Variant, Release: opts.Release, Err: err}
	}
	progs, failed := loadPrograms(cs, coll.Maps, ebpf.CollectionOptions{
		Programs: ebpf.ProgramOptions{
			LogLevel: opts.LogLevel, LogSizeStart: opts.LogSize,
			// No second verifier run with a log when a program fails:
			// explain does that, with a larger log, for rejected ones only.
			LogDisabled: opts.LogLevel == 0,
		},
		Cache: cache,
	})
	if len(failed) > 0 {
		err = explain(cs, coll.Maps, cache, opts, failed)
	} else if err = fillProgramArrays(cs, coll.Maps, progs); err != nil {
		err = &LoadError{Variant: opts.Variant, Release: opts.Release, Err: err}
	}
	if err != nil {
		for _, p := range progs {
			p.Close()
		}
		coll.Close()
		return nil, err
	}
	coll.Programs = progs
	return coll, nil
}

// loadMaps creates cs's maps (taken from MapReplacements or a pin where
// the options say so) and its variables, with no program: .rodata is
// frozen with the load-time values in it, so the verifier treats them as
// constants. Program arrays are left empty for fillProgramArrays.
func loadMaps(cs *ebpf.CollectionSpec, opts Options, cache *btf.Cache) (*ebpf.Collection, error) {
	data := &ebpf.CollectionSpec{
		Maps:      make(map[string]*ebpf.MapSpec, len(cs.Maps)),
		Variables: cs.Variables,
		Types:     cs.Types,
		ByteOrder: cs.ByteOrder,
	}
	for name, ms := range cs.Maps {
		if ms.Type == ebpf.ProgramArray && len(ms.Contents) > 0 {
			ms = ms.Copy()
			ms.Contents = nil
		}
		data.Maps[name] = ms
	}
	return ebpf.NewCollectionWithOptions(data, ebpf.CollectionOptions{
		Maps:            ebpf.MapOptions{PinPath: opts.PinPath},
		MapReplacements: opts.MapReplacements,
		Cache:           cache,
	})
}

// loadPrograms loads every program of cs against mapsByName,
// concurrently, the largest first (the longest verification starts at
// once). It returns the programs loaded and the error of each that was
// not.
func loadPrograms(cs *ebpf.CollectionSpec, mapsByName map[string]*ebpf.Map, co ebpf.CollectionOptions) (map[string]*ebpf.Program, map[string]error) {
	var names []string
	for name, ps := range cs.Programs {
		if ps.Type != ebpf.UnspecifiedProgram { // cilium/ebpf skips these too
			names = append(names, name)
		}
	}
	slices.SortFunc(names, func(a, b string) int {
		return cmp.Or(cmp.Compare(len(cs.Programs[b].Instructions), len(cs.Programs[a].Instructions)), strings.Compare(a, b))
	})
	progs := make([]*ebpf.Program, len(names))
	errs := make([]error, len(names))
	concurrently(len(names), func(i int) {
		progs[i], errs[i] = loadProgram(names[i], cs.Programs[names[i]], mapsByName, co)
	})
	loaded, failed := map[string]*ebpf.Program{}, map[string]error{}
	for i, name := range names {
		if errs[i] != nil {
			failed[name] = errs[i]
		} else {
			loaded[name] = progs[i]
		}
	}
	return loaded, failed
}

// loadProgram loads one program with its map references pointing at
// mapsByName.
func loadProgram(name string, ps *ebpf.ProgramSpec, mapsByName map[string]*ebpf.Map, co ebpf.CollectionOptions) (*ebpf.Program, error) {
	ps = ps.Copy()
	for i := range ps.Instructions {
		ins := &ps.Instructions[i]
		if !ins.IsLoadFromMap() || ins.Reference() == "" {
			continue
		}
		m := mapsByName[ins.Reference()]
		if m == nil {
			return nil, fmt.Errorf("program %s: missing map %s", name, ins.Reference())
		}
		if err := ins.AssociateMap(m); err != nil {
			return nil, fmt.Errorf("program %s: map %s: %w", name, ins.Reference(), err)
		}
	}
	one, err := ebpf.NewCollectionWithOptions(&ebpf.CollectionSpec{
		Programs: map[string]*ebpf.ProgramSpec{name: ps},
	}, co)
	if err != nil {
		return nil, err
	}
	return one.Programs[name], nil
}

func (o Options) what() string {
	s := "loading"
	if o.Variant != "" {
		s += fmt.Sprintf(" variant %q", o.Variant)
	}
	if o.Release != "" {
		s += " on " + o.Release
	}
	return s
}

// restrict returns a copy of spec with only the named programs and those
// that map contents (program arrays) refer to.
func restrict(spec *ebpf.CollectionSpec, programs []string) (*ebpf.CollectionSpec, error) {
	cs := spec.Copy()
	if programs == nil {
		return cs, nil
	}
	keep := map[string]bool{}
	for _, name := range programs {
		if cs.Programs[name] == nil {
			return nil, fmt.Errorf("object has no program %q (it has %v)", name, slices.Sorted(maps.Keys(cs.Programs)))
		}
		keep[name] = true
	}
	for _, ms := range cs.Maps {
		for _, kv := range ms.Contents {
			if name, ok := kv.Value.(string); ok {
				keep[name] = true // a program or inner map a map refers to
			}
		}
	}
	for name := range cs.Programs {
		if !keep[name] {
			delete(cs.Programs, name)
		}
	}
	return cs, nil
}

// unpin clears every map's pinning.
func unpin(cs *ebpf.CollectionSpec) {
	for _, m := range cs.Maps {
		m.Pinning = ebpf.PinNone
	}
}

// fillProgramArrays puts the programs that program arrays' contents name
// into them, once every program is loaded.
func fillProgramArrays(cs *ebpf.CollectionSpec, mapsByName map[string]*ebpf.Map, progs map[string]*ebpf.Program) error {
	for _, name := range slices.Sorted(maps.Keys(cs.Maps)) {
		ms := cs.Maps[name]
		if ms.Type != ebpf.ProgramArray {
			continue
		}
		for _, kv := range ms.Contents {
			prog, ok := kv.Value.(string)
			if !ok {
				continue
			}
			if progs[prog] == nil {
				return fmt.Errorf("map %s: no program %q to put at %v", name, prog, kv.Key)
			}
			if err := mapsByName[name].Put(kv.Key, progs[prog]); err != nil {
				return fmt.Errorf("map %s: putting program %q at %v: %w", name, prog, kv.Key, err)
			}
		}
	}
	return nil
}

// explain runs after the programs in failed (name to error) did not load:
// it loads each again, against the same maps, with the verifier's branch
// log, and returns a *LoadError naming every one, sorted, with its full
// log. A failure for lack of privileges is ErrNotPermitted instead.
func explain(cs *ebpf.CollectionSpec, mapsByName map[string]*ebpf.Map, cache *btf.Cache, opts Options, failed map[string]error) error {
	names := slices.Sorted(maps.Keys(failed))
	for _, name := range names {
		if errors.Is(failed[name], syscall.EPERM) {
			return fmt.Errorf("%s: %w (%w)", opts.what(), ErrNotPermitted, failed[name])
		}
	}
	le := &LoadError{Variant: opts.Variant, Release: opts.Release, Err: failed[names[0]]}
	for _, name := range names {
		pe := &ProgramError{Variant: opts.Variant, Program: name, Release: opts.Release, Err: failed[name]}
		prog, err := loadProgram(name, cs.Programs[name], mapsByName, ebpf.CollectionOptions{
			Programs: ebpf.ProgramOptions{
				LogLevel:     ebpf.LogLevelBranch | ebpf.LogLevelStats,
				LogSizeStart: explainLogSize,
			},
			Cache: cache,
		})
		var ve *ebpf.VerifierError
		switch {
		case err == nil:
			prog.Close() // accepted this time: keep the first error
		case errors.As(err, &ve):
			pe.Err, pe.Log = err, ve.Log
		}
		le.Programs = append(le.Programs, pe)
	}
	return le
}

// CallGraph returns the functions each function of a program calls, all
// numbered in their order in insns (the program's own first), which is
// the order the verifier's "stack depth" line lists their frames in: see
// manifest.ParseVerifierStats. A function whose address is loaded (a
// callback) counts as called. ok is false when a call names no function
// of insns.
func CallGraph(insns asm.Instructions) (calls [][]int, ok bool) {
	index := map[string]int{}
	for _, ins := range insns {
		if sym := ins.Symbol(); sym != "" {
			index[sym] = len(index)
		}
	}
	calls = make([][]int, len(index))
	f := -1
	for _, ins := range insns {
		if ins.Symbol() != "" {
			f++
		}
		if !ins.IsFunctionCall() && !ins.IsLoadOfFunctionPointer() {
			continue
		}
		callee, found := index[ins.Reference()]
		if !found || f < 0 {
			return nil, false
		}
		calls[f] = append(calls[f], callee)
	}
	return calls, len(index) > 0
}
