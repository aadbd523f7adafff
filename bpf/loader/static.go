package loader

import (
	"fmt"
	"maps"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/cilium/ebpf"
)

// StaticConfigMap is the one-entry array that carries a node's addresses in
// objects built for kernels without global data (bpf/include/config.h,
// DP_STATIC_CONFIG): struct node_cfg { __be32 node_ipv4; __u32
// native_ifindex; __u32 encap_ifindex; __u8 node_mac[6]; __u8 pad[2]; }.
const StaticConfigMap = "dp_node_cfg"

// staticConfigSize is sizeof(struct node_cfg).
const staticConfigSize = 20

// setStaticValues writes the node's addresses into the contents of ms.
func setStaticValues(spec *ebpf.CollectionSpec, ms *ebpf.MapSpec, values map[string]string) error {
	if ms.ValueSize != staticConfigSize {
		return fmt.Errorf("setting load-time values: map %q has values of %d bytes, want %d", StaticConfigMap, ms.ValueSize, staticConfigSize)
	}
	v := make([]byte, staticConfigSize)
	var problems []string
	for _, name := range slices.Sorted(maps.Keys(values)) {
		text := values[name]
		switch name {
		case "cfg_node_ipv4":
			a, err := netip.ParseAddr(text)
			if err != nil || !a.Is4() {
				problems = append(problems, fmt.Sprintf("%s: %q is not an IPv4 address", name, text))
				continue
			}
			b := a.As4()
			copy(v[0:4], b[:])
		case "cfg_native_ifindex", "cfg_encap_ifindex":
			n, err := strconv.ParseUint(text, 0, 32)
			if err != nil {
				problems = append(problems, fmt.Sprintf("%s: %q is not an interface index", name, text))
				continue
			}
			off := 4
			if name == "cfg_encap_ifindex" {
				off = 8
			}
			spec.ByteOrder.PutUint32(v[off:off+4], uint32(n))
		case "cfg_node_mac":
			mac, err := net.ParseMAC(text)
			if err != nil || len(mac) != 6 {
				problems = append(problems, fmt.Sprintf("%s: %q is not a MAC address", name, text))
				continue
			}
			copy(v[12:18], mac)
		default:
			problems = append(problems, fmt.Sprintf("%s: compiled into this object (a kernel without global data); rebuild to change it", name))
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("setting load-time values: %s", strings.Join(problems, "; "))
	}
	ms.Contents = []ebpf.MapKV{{Key: uint32(0), Value: v}}
	return nil
}
