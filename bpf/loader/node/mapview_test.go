package node

import (
	"fmt"
	"os"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"
	"github.com/google/go-cmp/cmp"

	"github.com/dpforge/dpforge/bpf"
)

// TestMetricsView reads a metrics map as `dpload map` and `dpload status`
// show it: by reason, direction and hook, summed over the CPUs, without
// the slots nothing was counted in.
func TestMetricsView(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("SKIPPED: creating a BPF map needs root; run the tests as root, as CI does")
	}
	m, err := ebpf.NewMap(&ebpf.MapSpec{Type: ebpf.PerCPUArray, KeySize: 4, ValueSize: 16, MaxEntries: 4096})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	cpus, err := ebpf.PossibleCPU()
	if err != nil {
		t.Fatal(err)
	}
	k := bpf.MetricsKey{Reason: bpf.DropPolicyDenied, Dir: bpf.DirEgress, Hook: bpf.HookFromContainer}
	i, _ := k.Index()
	vals := make([]bpf.MetricsValue, cpus)
	vals[0] = bpf.MetricsValue{Packets: 2, Bytes: 100}
	vals[cpus-1].Packets++
	vals[cpus-1].Bytes += 50
	if err := m.Put(i, vals); err != nil {
		t.Fatal(err)
	}

	u64 := &btf.Typedef{Name: "__u64", Type: &btf.Int{Name: "unsigned long long", Size: 8}}
	value := &btf.Struct{Name: "metrics_value", Size: 16, Members: []btf.Member{
		{Name: "packets", Type: u64}, {Name: "bytes", Type: u64, Offset: 64},
	}}
	v := newMapView(bpf.MapMetrics, &btf.Int{Name: "__u32", Size: 4}, value, m)
	want := Entry{Key: fmt.Sprintf("reason=%d dir=2 hook=1", bpf.DropPolicyDenied), Value: "packets=3 bytes=150"}
	got, err := v.List()
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]Entry{want}, got); diff != "" {
		t.Errorf("List (-want +got):\n%s", diff)
	}
	e, err := v.Get(fmt.Sprintf("reason=%d,dir=2,hook=1", bpf.DropPolicyDenied))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, e); diff != "" {
		t.Errorf("Get (-want +got):\n%s", diff)
	}

	cs, err := Counters(m)
	if err != nil {
		t.Fatal(err)
	}
	wantC := []Counter{{Reason: bpf.DropPolicyDenied.String(), Hook: bpf.ProgFromContainer, Dir: "egress", Packets: 3, Bytes: 150}}
	if diff := cmp.Diff(wantC, cs); diff != "" {
		t.Errorf("Counters (-want +got):\n%s", diff)
	}
}
