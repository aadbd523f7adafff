package scenario

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/ringbuf"
	"golang.org/x/sys/unix"
)

// A Runner keeps as many loaded collections as fit in runnerMemory by
// their maps' preallocated size (a guest has little memory), within
// [1, runnerMaxCached].
const (
	runnerMemory    = 256 << 20
	runnerMaxCached = 32
)

// mapEntryOverhead is a rough per-element cost of a preallocated hash map
// entry besides its key and value.
const mapEntryOverhead = 64

// cacheSize is how many collections of spec a Runner keeps.
func cacheSize(spec *ebpf.CollectionSpec) int {
	cpus, err := ebpf.PossibleCPU()
	if err != nil {
		cpus = 1
	}
	var size uint64
	for _, ms := range spec.Maps {
		if ms.Flags&unix.BPF_F_NO_PREALLOC != 0 {
			continue // allocated as entries are added
		}
		value := uint64(ms.ValueSize)
		switch ms.Type {
		case ebpf.PerCPUHash, ebpf.PerCPUArray, ebpf.LRUCPUHash:
			value = (value + 7) &^ 7 * uint64(cpus)
		case ebpf.RingBuf:
			size += uint64(ms.MaxEntries)
			continue
		}
		size += uint64(ms.MaxEntries) * (uint64(ms.KeySize) + value + mapEntryOverhead)
	}
	return int(min(max(runnerMemory/max(size, 1), 1), runnerMaxCached))
}

// Runner runs scenarios against one object as Run does, but loads each
// program once per distinct set of the values it reads, or (for objects
// that do not allow that) the object once per distinct set of values,
// rather than once per scenario.
//
// For most objects (see perProgram) every load shares one set of maps,
// and a program is loaded once for each distinct set of the values it
// reads among the scenarios: a scenario's programs may come from
// different loads, since a value a program does not read changes neither
// what the verifier sees nor what the program does. Otherwise:
//
// What a load depends on is the values set in it and the programs loaded.
// A program that is loaded but not run changes nothing a scenario sees:
// the maps are the same, and program arrays hold the programs the object
// names whatever else is loaded. So for each set of values the Runner
// loads, once, every program that the scenarios it was given
// (NewRunner) run with those values, and all of them share that load. A
// scenario it was not given, or one whose programs the shared load lacks,
// gets a load of its own programs with its values (as in Run), shared in
// turn with scenarios that load the same; so does every scenario of a set
// of values whose shared load the kernel rejected, so that an error names
// the scenario's own programs, as Run's does.
//
// Before a scenario runs on a collection that ran one before, every map
// the programs or the scenario can change is restored: hash, LRU and LPM
// trie maps (and their per-CPU kinds) to the entries they held after the
// load (none, unless the object gives contents), arrays to their contents
// after the load, queues and stacks emptied, ring buffers drained. Frozen
// maps (.rodata), program and map arrays and perf event arrays cannot
// change after the load and are left alone. A collection with any other
// kind of map is not reused: each scenario loading it gets a fresh load,
// as with Run.
//
// Results are those of Run, durations aside. A Runner is not safe for
// concurrent use; Close releases the loaded collections.
type Runner struct {
	spec   *ebpf.CollectionSpec
	size   int       // collections kept
	loaded []*loaded // least recently used first
	stats  RunnerStats
	// shared holds, by values key, the programs the given scenarios run
	// with those values, sorted; rejected the values keys whose shared
	// load the kernel rejected.
	shared   map[string][]string
	rejected map[string]bool
	// perProgram, when the object allows it, loads each program once per
	// set of the values it reads, all loads sharing the maps.
	perProgram *perProgram

	// LogLevel is the verifier log level of the Runner's loads (0: no
	// log), e.g. ebpf.LogLevelStats for the statistics OnLoad reads from
	// a program's VerifierLog.
	LogLevel ebpf.LogLevel
	// OnLoad, when set, is called with every program the Runner loads,
	// right after its load; the program is the Runner's, valid until
	// Close.
	OnLoad func(name string, prog *ebpf.Program)
}

// RunnerStats is what a Runner's loads cost.
type RunnerStats struct {
	// Loads is how many collections the Runner loaded (or tried to: a
	// load the kernel rejected counts); LoadTime the time those loads took
	// (creating the maps, the verifier).
	Loads    int
	LoadTime time.Duration
	// Instructions is the sum of the instructions the verifier processed
	// over every program of every load, where the kernel reports it
	// (5.16+).
	Instructions uint64
}

// Stats returns what the Runner's loads have cost so far.
func (r *Runner) Stats() RunnerStats { return r.stats }

// loadedPrograms records a load's programs: the instructions verified in the
// stats, then OnLoad.
func (r *Runner) loadedPrograms(coll *ebpf.Collection) {
	for _, name := range slices.Sorted(maps.Keys(coll.Programs)) {
		prog := coll.Programs[name]
		if info, err := prog.Info(); err == nil {
			if n, ok := info.VerifiedInstructions(); ok {
				r.stats.Instructions += uint64(n)
			}
		}
		if r.OnLoad != nil {
			r.OnLoad(name, prog)
		}
	}
}

// loaded is one cached collection.
type loaded struct {
	key   string
	coll  *ebpf.Collection
	state []mapState
	rings []*ringbuf.Reader
	used  bool // a scenario ran on it since the last reset
}

// mapState is a map's contents right after the load.
type mapState struct {
	name    string
	m       *ebpf.Map
	kind    resetKind
	entries []kv // raw values: per-CPU maps hold every CPU's copy
}

type resetKind int

const (
	resetHash  resetKind = iota // delete every entry, put entries back
	resetArray                  // put every index back
	resetQueue                  // pop every element
)

// NewRunner returns a Runner for spec, which it does not change.
// Scenarios are those the caller means to run on it, in any order: the
// Runner loads, for each set of values, the programs of all of them at
// once. A scenario that does not compile against spec is left out here
// (Run reports why).
func NewRunner(spec *ebpf.CollectionSpec, scenarios []*Scenario) *Runner {
	r := &Runner{spec: spec, size: cacheSize(spec), shared: map[string][]string{}, rejected: map[string]bool{},
		perProgram: newPerProgram(spec)}
	for _, s := range scenarios {
		p, err := compile(spec, s)
		if err != nil {
			continue
		}
		vk := valuesKey(p)
		r.shared[vk] = append(r.shared[vk], p.programs...)
	}
	for vk, progs := range r.shared {
		slices.Sort(progs)
		r.shared[vk] = slices.Compact(progs)
	}
	return r
}

// Run runs a scenario and checks its expectations, as the package's Run
// does.
func (r *Runner) Run(s *Scenario) (*Result, error) {
	start := time.Now()
	p, err := compile(r.spec, s)
	if err != nil {
		return nil, err
	}
	if pp := r.perProgram; pp != nil {
		coll, ok, err := pp.collection(r, p)
		switch {
		case err != nil:
			// The shared maps cannot be had or put back: load as
			// below from now on.
			pp.close()
			r.perProgram = nil
		case ok:
			return p.run(coll, s, start)
		}
	}
	l, err := r.collection(p, s)
	if err != nil {
		return nil, err
	}
	if l.key == "" {
		defer l.close()
	}
	l.used = true
	return p.run(l.coll, s, start)
}

// Close closes every loaded collection.
func (r *Runner) Close() error {
	var errs []error
	for _, l := range r.loaded {
		errs = append(errs, l.close())
	}
	r.loaded = nil
	if r.perProgram != nil {
		r.perProgram.close()
		r.perProgram = nil
	}
	return errors.Join(errs...)
}

// collection returns a collection for the plan in its state right after
// the load: a cached one reset, or a fresh load. A collection whose key is
// "" is not cached and is the caller's to close.
func (r *Runner) collection(p *plan, s *Scenario) (*loaded, error) {
	vk := valuesKey(p)
	if progs := r.shared[vk]; !r.rejected[vk] && containsAll(progs, p.programs) {
		l, err := r.collectionOf(p, s, progs)
		var le *LoadError
		if !errors.As(err, &le) || slices.Equal(progs, slices.Sorted(slices.Values(p.programs))) {
			return l, err
		}
		// The kernel rejected a program of the shared load: from now on
		// each scenario of these values loads its own, as Run does.
		r.rejected[vk] = true
	}
	return r.collectionOf(p, s, p.programs)
}

func containsAll(set, names []string) bool {
	for _, n := range names {
		if !slices.Contains(set, n) {
			return false
		}
	}
	return len(names) > 0
}

// collectionOf returns a collection with the programs and the plan's
// values, as collection does.
func (r *Runner) collectionOf(p *plan, s *Scenario, programs []string) (*loaded, error) {
	key := loadKey(programs, valuesKey(p))
	if i := slices.IndexFunc(r.loaded, func(l *loaded) bool { return l.key == key }); i >= 0 {
		l := r.loaded[i]
		r.loaded = append(slices.Delete(r.loaded, i, i+1), l)
		if !l.used {
			return l, nil
		}
		if err := l.reset(); err == nil {
			l.used = false
			return l, nil
		}
		// A map that cannot be reset: drop the collection, load afresh.
		r.loaded = r.loaded[:len(r.loaded)-1]
		l.close()
	}
	loadStart := time.Now()
	coll, err := p.load(r.spec, s, programs, r.LogLevel)
	r.stats.Loads++
	r.stats.LoadTime += time.Since(loadStart)
	if err != nil {
		return nil, err
	}
	r.loadedPrograms(coll)
	l := &loaded{coll: coll}
	if err := l.snapshot(); err != nil {
		// Not reusable: this load serves this scenario alone, as in Run.
		l.closeRings()
		return &loaded{coll: coll}, nil
	}
	l.key = key
	if len(r.loaded) == r.size {
		r.loaded[0].close()
		r.loaded = slices.Delete(r.loaded, 0, 1)
	}
	r.loaded = append(r.loaded, l)
	return l, nil
}

// loadKey is everything p.load depends on besides the object: the set of
// programs loaded and the values (valuesKey).
func loadKey(programs []string, values string) string {
	var sb strings.Builder
	for _, name := range slices.Sorted(slices.Values(programs)) {
		fmt.Fprintf(&sb, "p %q\n", name)
	}
	return sb.String() + values
}

// valuesKey is the bytes of every variable the plan sets (planValues).
func valuesKey(p *plan) string {
	return valuesKeyOf(planValues(p, nil))
}

// planValues returns the variables the plan sets, those keep reports
// (all for nil), by name; the last value of a variable set twice wins, as
// in p.load.
func planValues(p *plan, keep func(name string) bool) map[string][]byte {
	vals := map[string][]byte{}
	for _, v := range p.vars {
		if keep == nil || keep(v.name) {
			vals[v.name] = v.b
		}
	}
	return vals
}

// valuesKeyOf is a canonical text of vals.
func valuesKeyOf(vals map[string][]byte) string {
	var sb strings.Builder
	for _, name := range slices.Sorted(maps.Keys(vals)) {
		fmt.Fprintf(&sb, "v %q %x\n", name, vals[name])
	}
	return sb.String()
}

// snapshot records the state of every map right after the load, or fails
// for a map it cannot put back into that state.
func (l *loaded) snapshot() error {
	for _, name := range slices.Sorted(maps.Keys(l.coll.Maps)) {
		m := l.coll.Maps[name]
		switch m.Type() {
		case ebpf.Hash, ebpf.LRUHash, ebpf.PerCPUHash, ebpf.LRUCPUHash, ebpf.LPMTrie:
			entries, err := rawEntries(m)
			if err != nil {
				return fmt.Errorf("reading map %q: %w", name, err)
			}
			l.state = append(l.state, mapState{name: name, m: m, kind: resetHash, entries: entries})
		case ebpf.Array, ebpf.PerCPUArray:
			if m.Flags()&unix.BPF_F_RDONLY_PROG != 0 {
				// The programs cannot write it; a .rodata is frozen too.
				continue
			}
			entries, err := rawEntries(m)
			if err != nil {
				return fmt.Errorf("reading map %q: %w", name, err)
			}
			l.state = append(l.state, mapState{name: name, m: m, kind: resetArray, entries: entries})
		case ebpf.Queue, ebpf.Stack:
			var v []byte
			if err := m.Lookup(nil, &v); !errors.Is(err, ebpf.ErrKeyNotExist) {
				return fmt.Errorf("map %q: a queue filled at load cannot be put back", name)
			}
			l.state = append(l.state, mapState{name: name, m: m, kind: resetQueue})
		case ebpf.RingBuf:
			rd, err := ringbuf.NewReader(m)
			if err != nil {
				return fmt.Errorf("reading ring buffer %q: %w", name, err)
			}
			l.rings = append(l.rings, rd)
		case ebpf.ProgramArray, ebpf.ArrayOfMaps, ebpf.HashOfMaps, ebpf.PerfEventArray:
			// Programs do not change these; scenarios do not write them.
		default:
			return fmt.Errorf("map %q: a %s map cannot be reset", name, m.Type())
		}
	}
	return nil
}

// reset puts every map back into its state right after the load.
func (l *loaded) reset() error {
	for _, st := range l.state {
		if err := st.reset(); err != nil {
			return fmt.Errorf("resetting map %q: %w", st.name, err)
		}
	}
	for _, rd := range l.rings {
		if err := drain(rd); err != nil {
			return err
		}
	}
	return nil
}

func (st *mapState) reset() error {
	switch st.kind {
	case resetQueue:
		for {
			var v []byte
			err := st.m.LookupAndDelete(nil, &v)
			if errors.Is(err, ebpf.ErrKeyNotExist) {
				return nil
			}
			if err != nil {
				return err
			}
		}
	case resetHash:
		keys, err := mapKeys(st.m)
		if err != nil {
			return err
		}
		if err := deleteKeys(st.m, keys); err != nil {
			return fmt.Errorf("deleting: %w", err)
		}
	}
	if err := writeEntries(st.m, st.entries); err != nil {
		return fmt.Errorf("writing: %w", err)
	}
	return nil
}

// drain reads a ring buffer empty.
func drain(rd *ringbuf.Reader) error {
	var rec ringbuf.Record
	for rd.AvailableBytes() > 0 {
		rd.SetDeadline(time.Now())
		err := rd.ReadInto(&rec)
		if errors.Is(err, os.ErrDeadlineExceeded) {
			if rd.AvailableBytes() > 0 {
				return fmt.Errorf("draining ring buffer: %d bytes left", rd.AvailableBytes())
			}
			return nil
		}
		if err != nil {
			return fmt.Errorf("draining ring buffer: %w", err)
		}
	}
	return nil
}

func (l *loaded) close() error {
	err := l.closeRings()
	l.coll.Close()
	return err
}

func (l *loaded) closeRings() error {
	var errs []error
	for _, rd := range l.rings {
		errs = append(errs, rd.Close())
	}
	l.rings = nil
	return errors.Join(errs...)
}
