package loader

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"syscall"

	"github.com/cilium/ebpf"
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
// If the kernel rejects the collection, Load loads each program alone,
// unpinned, with the verifier's branch log, and returns a *LoadError naming
// every program the kernel rejects with its full log. Without privileges
// the error wraps ErrNotPermitted.
func Load(spec *ebpf.CollectionSpec, opts Options) (*ebpf.Collection, error) {
	cs, err := restrict(spec, opts.Programs)
	if err != nil {
		return nil, &LoadError{Variant: opts.Variant, Release: opts.Release, Err: err}
	}
	if opts.PinPath == "" {
		unpin(cs)
	}
	coll, err := ebpf.NewCollectionWithOptions(cs, ebpf.CollectionOptions{
		Maps:            ebpf.MapOptions{PinPath: opts.PinPath},
		Programs:        ebpf.ProgramOptions{LogLevel: opts.LogLevel, LogSizeStart: opts.LogSize},
		MapReplacements: opts.MapReplacements,
	})
	if err == nil {
		return coll, nil
	}
	if errors.Is(err, syscall.EPERM) {
		return nil, fmt.Errorf("%s: %w (%w)", opts.what(), ErrNotPermitted, err)
	}
	return nil, explain(cs, opts, err)
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

// explain runs after cs failed to load: it loads each program on its own,
// unpinned, with the full verifier log, to name every program the kernel
// rejects. If none is rejected on its own (a map failed, say), the
// LoadError carries only the collection's error.
func explain(cs *ebpf.CollectionSpec, opts Options, collErr error) error {
	le := &LoadError{Variant: opts.Variant, Release: opts.Release, Err: collErr}
	base := cs.Copy()
	unpin(base)
	for _, name := range slices.Sorted(maps.Keys(base.Programs)) {
		one, err := restrict(base, []string{name})
		if err != nil {
			continue
		}
		coll, err := ebpf.NewCollectionWithOptions(one, ebpf.CollectionOptions{
			Programs: ebpf.ProgramOptions{
				LogLevel:     ebpf.LogLevelBranch | ebpf.LogLevelStats,
				LogSizeStart: explainLogSize,
			},
			MapReplacements: replacementsFor(one, opts.MapReplacements),
		})
		if err == nil {
			coll.Close()
			continue
		}
		pe := &ProgramError{Variant: opts.Variant, Program: name, Release: opts.Release, Err: err}
		var ve *ebpf.VerifierError
		if errors.As(err, &ve) {
			pe.Log = ve.Log
		} else if !mentionsProgram(err, name) {
			continue // not this program's fault
		}
		le.Programs = append(le.Programs, pe)
	}
	return le
}

// replacementsFor keeps the replacements of maps one still has.
func replacementsFor(one *ebpf.CollectionSpec, repl map[string]*ebpf.Map) map[string]*ebpf.Map {
	if repl == nil {
		return nil
	}
	out := map[string]*ebpf.Map{}
	for name, m := range repl {
		if one.Maps[name] != nil {
			out[name] = m
		}
	}
	return out
}

func mentionsProgram(err error, name string) bool {
	return strings.Contains(err.Error(), "program "+name)
}
