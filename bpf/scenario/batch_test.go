package scenario

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"slices"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/google/go-cmp/cmp"
)

// batchMark is what the test program stores into element batchIndex of
// each array it is given.
const (
	batchMark  = 0x5eadbeef
	batchIndex = 3
)

// TestResetRestoresArrays changes an array's, a per-CPU array's and a
// hash map's contents by a program run and by writes, resets them, and
// checks that they hold what they held at the snapshot, with the batch
// commands and on the per-element path, which must read the same.
func TestResetRestoresArrays(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("SKIP: creating maps and running BPF programs needs root (CAP_BPF); run go test as root")
	}
	cpus, err := ebpf.PossibleCPU()
	if err != nil {
		t.Fatal(err)
	}
	var read [2]map[string][][]byte
	for i, path := range []string{"batch", "per-element"} {
		noBatch = path == "per-element"
		t.Cleanup(func() { noBatch = false })
		read[i] = resetOnce(t, path, cpus)
		if t.Failed() {
			return
		}
	}
	if diff := cmp.Diff(read[0], read[1]); diff != "" {
		t.Errorf("the batch and the per-element paths read different contents (-batch +per-element):\n%s", diff)
	}
	batchTypes.Lock()
	defer batchTypes.Unlock()
	for _, typ := range []ebpf.MapType{ebpf.Array, ebpf.PerCPUArray, ebpf.Hash} {
		if !batchTypes.ok[typ] {
			t.Errorf("%s: batch commands not used (every kernel from 5.6 has them)", typ)
		}
	}
}

// resetOnce runs the change-and-reset cycle once and returns every map's
// contents after the reset, each entry as its key followed by each CPU's
// value.
func resetOnce(t *testing.T, path string, cpus int) map[string][][]byte {
	const valueSize = 12 // not a multiple of 8: per-CPU values are padded
	specs := map[string]*ebpf.MapSpec{
		"array":        {Type: ebpf.Array, KeySize: 4, ValueSize: valueSize, MaxEntries: 64},
		"percpu_array": {Type: ebpf.PerCPUArray, KeySize: 4, ValueSize: valueSize, MaxEntries: 64},
		"hash":         {Type: ebpf.Hash, KeySize: 4, ValueSize: valueSize, MaxEntries: 16},
	}
	maps := map[string]*ebpf.Map{}
	for name, spec := range specs {
		m, err := ebpf.NewMap(spec)
		if err != nil {
			t.Fatalf("%s: creating map %q: %v", path, name, err)
		}
		t.Cleanup(func() { m.Close() })
		maps[name] = m
	}
	// Contents at the snapshot: a pattern distinct per key and per CPU,
	// two hash entries.
	pattern := func(key uint32, cpu int) []byte {
		v := make([]byte, valueSize)
		for j := range v {
			v[j] = byte(int(key)*7 + cpu*31 + j + 1)
		}
		return v
	}
	for k := range uint32(64) {
		must(t, maps["array"].Update(k, pattern(k, 0), ebpf.UpdateAny))
		var per [][]byte
		for c := range cpus {
			per = append(per, pattern(k, c))
		}
		must(t, maps["percpu_array"].Update(k, per, ebpf.UpdateAny))
	}
	for _, k := range []uint32{batchIndex, 40} {
		must(t, maps["hash"].Update(k, pattern(k, 0), ebpf.UpdateAny))
	}
	want := contents(t, maps)

	l := &loaded{coll: &ebpf.Collection{Maps: maps}}
	must(t, l.snapshot())

	// Change every map: a program run marks element batchIndex of each,
	// writes change others and add a hash entry.
	runMarker(t, maps)
	must(t, maps["array"].Update(uint32(63), make([]byte, valueSize), ebpf.UpdateAny))
	zeros := make([][]byte, cpus)
	for c := range zeros {
		zeros[c] = make([]byte, valueSize)
	}
	must(t, maps["percpu_array"].Update(uint32(0), zeros, ebpf.UpdateAny))
	must(t, maps["hash"].Update(uint32(9), pattern(9, 0), ebpf.UpdateAny))
	must(t, maps["hash"].Delete(uint32(40)))
	changed := contents(t, maps)
	for name := range maps {
		if cmp.Equal(want[name], changed[name]) {
			t.Fatalf("%s: map %q unchanged by the program run and the writes", path, name)
		}
	}
	marked, err := maps["array"].LookupBytes(uint32(batchIndex))
	must(t, err)
	if mark := binary.NativeEndian.Uint32(marked); mark != batchMark {
		t.Fatalf("%s: the program did not mark the array: %#x", path, mark)
	}

	must(t, l.reset())
	got := contents(t, maps)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("%s: after the reset (-snapshot +got):\n%s", path, diff)
	}
	return got
}

// contents reads every map with rawEntries, each entry as its key
// followed by each CPU's value (padding left out).
func contents(t *testing.T, maps map[string]*ebpf.Map) map[string][][]byte {
	t.Helper()
	out := map[string][][]byte{}
	for name, m := range maps {
		entries, err := rawEntries(m)
		if err != nil {
			t.Fatalf("reading map %q: %v", name, err)
		}
		for _, e := range entries {
			row := bytes.Clone(e.key)
			switch v := perCPUValues(m, e.value).(type) {
			case [][]byte:
				row = append(row, bytes.Join(v, nil)...)
			case []byte:
				row = append(row, v...)
			}
			out[name] = append(out[name], row)
		}
		slices.SortFunc(out[name], bytes.Compare) // a hash map's order is its own
	}
	return out
}

// runMarker runs a program that stores batchMark into element batchIndex
// of every map given.
func runMarker(t *testing.T, maps map[string]*ebpf.Map) {
	t.Helper()
	insns := asm.Instructions{
		asm.StoreImm(asm.RFP, -4, batchIndex, asm.Word),
	}
	for name, m := range maps {
		skip := fmt.Sprintf("skip_%s", name)
		insns = append(insns,
			asm.LoadMapPtr(asm.R1, m.FD()),
			asm.Mov.Reg(asm.R2, asm.RFP),
			asm.Add.Imm(asm.R2, -4),
			asm.FnMapLookupElem.Call(),
			asm.JEq.Imm(asm.R0, 0, skip),
			asm.StoreImm(asm.R0, 0, batchMark, asm.Word),
			asm.Mov.Imm(asm.R0, 0).WithSymbol(skip),
		)
	}
	insns = append(insns, asm.Mov.Imm(asm.R0, 0), asm.Return())
	prog, err := ebpf.NewProgram(&ebpf.ProgramSpec{Type: ebpf.SocketFilter, Instructions: insns, License: "GPL"})
	if err != nil {
		t.Fatalf("loading the marker program: %v", err)
	}
	defer prog.Close()
	if _, err := prog.Run(&ebpf.RunOptions{Data: make([]byte, 64)}); err != nil {
		t.Fatalf("running the marker program: %v", err)
	}
	// The program marks one CPU's copy of a per-CPU array: check it did.
	var raw []byte
	raw, err = maps["percpu_array"].LookupBytes(uint32(batchIndex))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(raw, binary.NativeEndian.AppendUint32(nil, batchMark)) {
		t.Fatal("the program did not mark the per-CPU array")
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
