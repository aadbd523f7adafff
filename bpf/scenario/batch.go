package scenario

import (
	"encoding/binary"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"unsafe"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"
)

// Reading or writing a whole array one element at a time costs a syscall
// per element (dp_metrics alone has thousands), which is slow under an
// emulated guest kernel. The batch commands (5.6+) read or write all of
// an array, or delete many hash keys, in one call. Where the kernel lacks
// them for a map type the per-element path is used instead, decided at
// the first try and kept; both give the same entries. (5.10 has them for
// arrays and hash maps, not for per-CPU arrays: its guest answers
// ErrNotSupported there.)

// batchTypes holds, by map type, whether the kernel takes batch commands
// on it: absent until the first try.
var batchTypes = struct {
	sync.Mutex
	ok map[ebpf.MapType]bool
}{ok: map[ebpf.MapType]bool{}}

// noBatch makes every map operation take the per-element path (tests).
var noBatch bool

// batchable reports whether to try the batch commands on m.
func batchable(m *ebpf.Map) bool {
	if noBatch {
		return false
	}
	switch m.Type() {
	case ebpf.Array, ebpf.PerCPUArray, ebpf.Hash, ebpf.PerCPUHash, ebpf.LRUHash, ebpf.LRUCPUHash:
	default:
		return false // LPM tries have no batch commands
	}
	batchTypes.Lock()
	defer batchTypes.Unlock()
	ok, known := batchTypes.ok[m.Type()]
	return ok || !known
}

// batchDone records what a batch command on m returned. It reports
// whether the caller must take the per-element path: for any error, since
// that path fails, if at all, with a clearer one. A kernel without the
// command for the map type (ErrNotSupported, or EINVAL from kernels that
// check the command before the map type) marks the type for good.
func batchDone(m *ebpf.Map, err error) (fallback bool) {
	batchTypes.Lock()
	defer batchTypes.Unlock()
	switch {
	case err == nil:
		batchTypes.ok[m.Type()] = true
		return false
	case errors.Is(err, ebpf.ErrNotSupported), errors.Is(err, unix.EINVAL):
		if _, known := batchTypes.ok[m.Type()]; !known || errors.Is(err, ebpf.ErrNotSupported) {
			batchTypes.ok[m.Type()] = false
		}
	}
	return true
}

// perCPU reports whether m holds one value per possible CPU.
func perCPU(m *ebpf.Map) bool {
	switch m.Type() {
	case ebpf.PerCPUHash, ebpf.PerCPUArray, ebpf.LRUCPUHash:
		return true
	}
	return false
}

// copies is how many values an element of m holds: one per possible CPU
// for a per-CPU map, else one.
func copies(m *ebpf.Map) (int, error) {
	if !perCPU(m) {
		return 1, nil
	}
	n, err := ebpf.PossibleCPU()
	if err != nil {
		return 0, fmt.Errorf("counting CPUs: %w", err)
	}
	return n, nil
}

// mapKeys returns every key of a hash-type map, walking it with NextKey.
func mapKeys(m *ebpf.Map) ([][]byte, error) {
	var keys [][]byte
	var key any // nil: the first key
	for {
		next, err := m.NextKeyBytes(key)
		if err != nil {
			return nil, fmt.Errorf("iterating: %w", err)
		}
		if next == nil {
			return keys, nil
		}
		keys = append(keys, next)
		key = next
	}
}

// rawEntries reads every entry of a map, per-CPU values uncombined (as
// LookupBytes returns them), arrays in one batch where the kernel allows.
func rawEntries(m *ebpf.Map) ([]kv, error) {
	if arrayMap(m.Type()) && batchable(m) {
		out, err := batchEntries(m)
		if !batchDone(m, err) {
			return out, nil
		}
	}
	if arrayMap(m.Type()) {
		return indexEntries(m)
	}
	keys, err := mapKeys(m)
	if err != nil {
		return nil, err
	}
	var out []kv
	for _, k := range keys {
		val, err := m.LookupBytes(k)
		if err != nil {
			return nil, fmt.Errorf("looking up: %w", err)
		}
		if val != nil { // deleted since the walk
			out = append(out, kv{k, val})
		}
	}
	return out, nil
}

// indexEntries reads every element of an array one at a time: its keys
// are the indices, which need no iterating.
func indexEntries(m *ebpf.Map) ([]kv, error) {
	out := make([]kv, 0, m.MaxEntries())
	for i := range m.MaxEntries() {
		key := binary.NativeEndian.AppendUint32(nil, i)
		val, err := m.LookupBytes(key)
		if err != nil {
			return nil, fmt.Errorf("looking up: %w", err)
		}
		if val != nil {
			out = append(out, kv{key, val})
		}
	}
	return out, nil
}

// batchEntries reads every element of an array in one call.
func batchEntries(m *ebpf.Map) ([]kv, error) {
	n := int(m.MaxEntries())
	if n == 0 {
		return nil, nil
	}
	size := int(m.ValueSize())
	cpus, err := copies(m)
	if err != nil {
		return nil, err
	}
	keys, keyBytes := byteArrays(n, int(m.KeySize()))
	values, valueBytes := byteArrays(n*cpus, size)
	var cursor ebpf.MapBatchCursor
	got, err := m.BatchLookup(&cursor, keys, values, nil)
	if err != nil && !errors.Is(err, ebpf.ErrKeyNotExist) {
		return nil, err
	}
	if got != n {
		return nil, fmt.Errorf("batch lookup: %d of %d elements", got, n)
	}
	ks, stride := int(m.KeySize()), size
	if perCPU(m) {
		stride = (size + 7) &^ 7 // as LookupBytes lays out a per-CPU value
	}
	out := make([]kv, n)
	for i := range out {
		raw := make([]byte, cpus*stride)
		for c := range cpus {
			copy(raw[c*stride:], valueBytes[(i*cpus+c)*size:][:size])
		}
		out[i] = kv{keyBytes[i*ks : (i+1)*ks : (i+1)*ks], raw}
	}
	return out, nil
}

// writeEntries writes entries (raw values, as rawEntries returns them)
// into m, in one batch where the kernel allows.
func writeEntries(m *ebpf.Map, entries []kv) error {
	if len(entries) == 0 {
		return nil
	}
	if batchable(m) && !batchDone(m, batchWrite(m, entries)) {
		return nil
	}
	for _, e := range entries {
		if err := m.Update(e.key, perCPUValues(m, e.value), ebpf.UpdateAny); err != nil {
			return err
		}
	}
	return nil
}

func batchWrite(m *ebpf.Map, entries []kv) error {
	size := int(m.ValueSize())
	cpus, err := copies(m)
	if err != nil {
		return err
	}
	ks, stride := int(m.KeySize()), (size+7)&^7
	keys, keyBytes := byteArrays(len(entries), ks)
	values, valueBytes := byteArrays(len(entries)*cpus, size)
	for i, e := range entries {
		if len(e.key) != ks || len(e.value) < (cpus-1)*stride+size {
			return fmt.Errorf("entry %d does not fit the map", i)
		}
		copy(keyBytes[i*ks:], e.key)
		for c := range cpus {
			copy(valueBytes[(i*cpus+c)*size:][:size], e.value[c*stride:])
		}
	}
	_, err = m.BatchUpdate(keys, values, &ebpf.BatchOptions{ElemFlags: uint64(ebpf.UpdateAny)})
	return err
}

// deleteKeys deletes keys from m, in one batch where the kernel allows; a
// key already gone is no error.
func deleteKeys(m *ebpf.Map, keys [][]byte) error {
	if len(keys) == 0 {
		return nil
	}
	if batchable(m) {
		ks := int(m.KeySize())
		batch, flat := byteArrays(len(keys), ks)
		for i, k := range keys {
			copy(flat[i*ks:], k)
		}
		_, err := m.BatchDelete(batch, nil)
		if !batchDone(m, err) {
			return nil
		}
	}
	for _, k := range keys {
		if err := m.Delete(k); err != nil && !errors.Is(err, ebpf.ErrKeyNotExist) {
			return err
		}
	}
	return nil
}

// perCPUValues turns a raw lookup back into what Update takes: per-CPU
// maps take one value per CPU.
func perCPUValues(m *ebpf.Map, raw []byte) any {
	if !perCPU(m) {
		return raw
	}
	size := int(m.ValueSize())
	stride := (size + 7) &^ 7
	var cpus [][]byte
	for off := 0; off+size <= len(raw); off += stride {
		cpus = append(cpus, raw[off:off+size])
	}
	return cpus
}

// byteArrays returns a slice of n arrays of size bytes, which the batch
// commands take as n keys or values, and a view of its memory as bytes.
func byteArrays(n, size int) (any, []byte) {
	v := reflect.MakeSlice(reflect.SliceOf(reflect.ArrayOf(size, reflect.TypeFor[byte]())), n, n)
	if n == 0 || size == 0 {
		return v.Interface(), nil
	}
	return v.Interface(), unsafe.Slice((*byte)(v.UnsafePointer()), n*size)
}
