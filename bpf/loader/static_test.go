package loader

import (
	"encoding/binary"
	"strings"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/google/go-cmp/cmp"
)

func TestSetStaticValues(t *testing.T) {
	spec := func() *ebpf.CollectionSpec {
		return &ebpf.CollectionSpec{ByteOrder: binary.LittleEndian, Maps: map[string]*ebpf.MapSpec{
			StaticConfigMap: {Name: StaticConfigMap, Type: ebpf.Array, KeySize: 4, ValueSize: staticConfigSize, MaxEntries: 1},
		}}
	}
	s := spec()
	err := SetValues(s, map[string]string{"cfg_node_ipv4": "192.168.1.15", "cfg_native_ifindex": "3", "cfg_encap_ifindex": "5", "cfg_node_mac": "02:aa:00:00:00:15"})
	if err != nil {
		t.Fatal(err)
	}
	want := []byte{192, 168, 1, 15, 3, 0, 0, 0, 5, 0, 0, 0, 0x02, 0xaa, 0, 0, 0, 0x15, 0, 0}
	if got := s.Maps[StaticConfigMap].Contents; len(got) != 1 || !cmp.Equal(got[0].Value, want) {
		t.Errorf("contents %v, want %v", got, want)
	}
	s = spec()
	err = SetValues(s, map[string]string{"cfg_mtu": "1450", "cfg_node_ipv4": "fd00::1"})
	if err == nil || !strings.Contains(err.Error(), "cfg_mtu: compiled into this object") || !strings.Contains(err.Error(), "not an IPv4 address") {
		t.Errorf("error %v, want both problems", err)
	}
	if s.Maps[StaticConfigMap].Contents != nil {
		t.Error("spec changed despite problems")
	}
}
