package features

// The kernel release that introduced each BPF helper, map type and program
// type the datapath may use: what an object for a kernel older than any
// kernel that can be booted here (4.19, 4.18) is checked against.
//
// Source: the "Helpers" and "Tables (a.k.a. Maps)" and "Program types"
// tables of bcc's docs/kernel-versions.md, which give the introducing
// commit of each (e.g. bpf_fib_lookup 4.18, 87f5fc7e48dd; bpf_redirect_neigh
// 5.10, b4ab31414970; bpf_skb_load_bytes 4.5, 05c74e5e53f6), checked
// against the order of FN() in the kernel's include/uapi/linux/bpf.h.
// Names are the UAPI's, without the bpf_ prefix for helpers.

// helperSince maps a helper to its first release.
var helperSince = map[string]Version{
	"map_lookup_elem":         V(3, 19, 0),
	"map_update_elem":         V(3, 19, 0),
	"map_delete_elem":         V(3, 19, 0),
	"ktime_get_ns":            V(4, 1, 0),
	"get_prandom_u32":         V(4, 1, 0),
	"get_smp_processor_id":    V(4, 1, 0),
	"skb_store_bytes":         V(4, 1, 0),
	"l3_csum_replace":         V(4, 1, 0),
	"l4_csum_replace":         V(4, 1, 0),
	"tail_call":               V(4, 2, 0),
	"clone_redirect":          V(4, 2, 0),
	"get_cgroup_classid":      V(4, 3, 0),
	"skb_vlan_push":           V(4, 3, 0),
	"skb_vlan_pop":            V(4, 3, 0),
	"skb_get_tunnel_key":      V(4, 3, 0),
	"skb_set_tunnel_key":      V(4, 3, 0),
	"redirect":                V(4, 4, 0),
	"perf_event_output":       V(4, 4, 0),
	"get_route_realm":         V(4, 4, 0),
	"skb_load_bytes":          V(4, 5, 0),
	"csum_diff":               V(4, 6, 0),
	"skb_get_tunnel_opt":      V(4, 6, 0),
	"skb_set_tunnel_opt":      V(4, 6, 0),
	"skb_change_proto":        V(4, 8, 0),
	"skb_change_type":         V(4, 8, 0),
	"get_hash_recalc":         V(4, 8, 0),
	"skb_change_tail":         V(4, 9, 0),
	"skb_pull_data":           V(4, 9, 0),
	"csum_update":             V(4, 9, 0),
	"set_hash_invalid":        V(4, 9, 0),
	"skb_change_head":         V(4, 10, 0),
	"get_socket_cookie":       V(4, 12, 0),
	"skb_adjust_room":         V(4, 13, 0),
	"set_hash":                V(4, 13, 0),
	"redirect_map":            V(4, 14, 0),
	"fib_lookup":              V(4, 18, 0),
	"skb_load_bytes_relative": V(4, 18, 0),
	"skb_cgroup_id":           V(4, 18, 0),
	"sk_lookup_tcp":           V(4, 20, 0),
	"sk_lookup_udp":           V(4, 20, 0),
	"sk_release":              V(4, 20, 0),
	"skb_ecn_set_ce":          V(5, 1, 0),
	"spin_lock":               V(5, 1, 0),
	"spin_unlock":             V(5, 1, 0),
	"jiffies64":               V(5, 5, 0),
	"csum_level":              V(5, 7, 0),
	"get_netns_cookie":        V(5, 7, 0),
	"ringbuf_output":          V(5, 8, 0),
	"ringbuf_reserve":         V(5, 8, 0),
	"ringbuf_submit":          V(5, 8, 0),
	"ringbuf_discard":         V(5, 8, 0),
	"ktime_get_boot_ns":       V(5, 8, 0),
	"redirect_neigh":          V(5, 10, 0),
	"redirect_peer":           V(5, 10, 0),
	"check_mtu":               V(5, 12, 0),
	"loop":                    V(5, 17, 0),
	"skb_set_tstamp":          V(5, 18, 0),
}

// mapTypeSince maps a map type (as cilium/ebpf prints it) to its first
// release.
var mapTypeSince = map[string]Version{
	"Hash":           V(3, 19, 0),
	"Array":          V(3, 19, 0),
	"ProgramArray":   V(4, 2, 0),
	"PerfEventArray": V(4, 3, 0),
	"PerCPUHash":     V(4, 6, 0),
	"PerCPUArray":    V(4, 6, 0),
	"LRUHash":        V(4, 10, 0),
	"LRUCPUHash":     V(4, 10, 0),
	"LPMTrie":        V(4, 11, 0),
	"RingBuf":        V(5, 8, 0),
}

// Since returns the release that introduced a helper ("helper:fib_lookup"),
// a map type ("map:LRUHash") or a program type ("prog:SchedCLS"), and
// whether the table knows it.
func Since(what string) (Version, bool) {
	var v Version
	var ok bool
	switch {
	case len(what) > 7 && what[:7] == "helper:":
		v, ok = helperSince[what[7:]]
	case len(what) > 4 && what[:4] == "map:":
		v, ok = mapTypeSince[what[4:]]
	case what == "prog:SchedCLS":
		v, ok = V(4, 1, 0), true
	}
	return v, ok
}

// MaxInsnsBefore52 is the largest program (in instructions) kernels before
// 5.2 accept (BPF_MAXINSNS), and MaxProcessedBefore52 the verifier's limit
// on processed instructions there (BPF_COMPLEXITY_LIMIT_INSNS in 4.19's
// kernel/bpf/verifier.c); commit c04c0d2b968a ("bpf: increase complexity
// limit and maximum program size", 5.2) raised both to 1M.
const (
	MaxInsnsBefore52     = 4096
	MaxProcessedBefore52 = 131072
)
