package features

import (
	"fmt"
	"sort"
	"strings"
)

// Capability names one thing a kernel can do that the datapath relies on:
// a helper (named as in the kernel's UAPI), a program, map or attach type, or
// an instruction-set level. Names are stable; probe files use them.
type Capability string

// Capabilities the model knows.
const (
	CapSchedCLS       Capability = "prog:sched_cls"
	CapLRUHash        Capability = "map:lru_hash"
	CapLPMTrie        Capability = "map:lpm_trie"
	CapRingBuf        Capability = "map:ringbuf"
	CapFibLookup      Capability = "helper:bpf_fib_lookup"
	CapRedirectNeigh  Capability = "helper:bpf_redirect_neigh"
	CapRedirectPeer   Capability = "helper:bpf_redirect_peer"
	CapSkbAdjustRoom  Capability = "helper:bpf_skb_adjust_room"
	CapSkbSetTstamp   Capability = "helper:bpf_skb_set_tstamp"
	CapEDT            Capability = "skb:edt_tstamp"
	CapISAv2          Capability = "isa:v2"
	CapISAv3          Capability = "isa:v3"
	CapLargeInsnLimit Capability = "verifier:large_insn_limit"
	CapBoundedLoops   Capability = "verifier:bounded_loops"
	CapRODataMap      Capability = "map:rdonly_prog"
	CapSocketLBUDP    Capability = "cgroup:sock_udp_recvmsg"
	CapTCX            Capability = "attach:tcx"
	CapNetkit         Capability = "attach:netkit"
	CapBigTCPv6       Capability = "net:big_tcp_ipv6"
	CapBigTCPv4       Capability = "net:big_tcp_ipv4"
	CapWireGuard      Capability = "net:wireguard"
)

// capInfo documents a capability: what it is and from which kernel release it
// can be assumed. Several minimums mean stable branches that received a
// backport: 4.19.57, 5.1.16 and 5.2 all have the feature.
type capInfo struct {
	Doc  string
	Mins []Version
}

// capTable holds the documented minimums (Cilium's system requirements, the
// kernel's UAPI history and cilium/ebpf's feature probes). A probed kernel
// profile overrides it.
var capTable = map[Capability]capInfo{
	CapSchedCLS:       {"tc BPF programs (sched_cls, direct action)", []Version{V(4, 1, 0)}},
	CapLRUHash:        {"BPF_MAP_TYPE_LRU_HASH", []Version{V(4, 10, 0)}},
	CapLPMTrie:        {"BPF_MAP_TYPE_LPM_TRIE", []Version{V(4, 11, 0)}},
	CapRingBuf:        {"BPF_MAP_TYPE_RINGBUF", []Version{V(5, 8, 0)}},
	CapFibLookup:      {"bpf_fib_lookup() from tc", []Version{V(4, 18, 0)}},
	CapRedirectNeigh:  {"bpf_redirect_neigh()", []Version{V(5, 10, 0)}},
	CapRedirectPeer:   {"bpf_redirect_peer()", []Version{V(5, 10, 0)}},
	CapSkbAdjustRoom:  {"bpf_skb_adjust_room()", []Version{V(4, 13, 0)}},
	CapSkbSetTstamp:   {"bpf_skb_set_tstamp()", []Version{V(5, 18, 0)}},
	CapEDT:            {"earliest departure time: writable skb->tstamp and fq's horizon", []Version{V(5, 1, 0)}},
	CapISAv2:          {"BPF instruction set v2 (extended jumps)", []Version{V(4, 14, 0)}},
	CapISAv3:          {"BPF instruction set v3 (32-bit jumps, ALU32)", []Version{V(5, 1, 0)}},
	CapLargeInsnLimit: {"1M processed instructions, programs over 4096 instructions", []Version{V(5, 2, 0)}},
	CapBoundedLoops:   {"bounded loops in the verifier", []Version{V(5, 3, 0)}},
	CapRODataMap:      {"read-only .rodata maps frozen at load", []Version{V(5, 2, 0)}},
	CapSocketLBUDP:    {"cgroup UDP recvmsg hooks for socket load balancing", []Version{V(4, 19, 57), V(5, 1, 16), V(5, 2, 0)}},
	CapTCX:            {"tcx attachment (BPF links on tc hooks)", []Version{V(6, 6, 0)}},
	CapNetkit:         {"netkit devices", []Version{V(6, 8, 0)}},
	CapBigTCPv6:       {"IPv6 BIG TCP (GSO/GRO beyond 64k)", []Version{V(5, 19, 0)}},
	CapBigTCPv4:       {"IPv4 BIG TCP", []Version{V(6, 3, 0)}},
	CapWireGuard:      {"in-tree WireGuard", []Version{V(5, 6, 0)}},
}

// Capabilities lists every capability the model knows, sorted.
func Capabilities() []Capability {
	out := make([]Capability, 0, len(capTable))
	for c := range capTable {
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// KnownCapability reports whether c is in the table.
func KnownCapability(c Capability) bool { _, ok := capTable[c]; return ok }

// CapabilityDoc describes c in words.
func CapabilityDoc(c Capability) string { return capTable[c].Doc }

// MinimumVersion is the documented minimum kernel for c, as written in
// requirement messages ("4.19.57, 5.1.16 or 5.2").
func MinimumVersion(c Capability) string {
	mins := capTable[c].Mins
	s := make([]string, len(mins))
	for i, m := range mins {
		s[i] = m.Short()
	}
	switch len(s) {
	case 0:
		return "?"
	case 1:
		return s[0]
	}
	return strings.Join(s[:len(s)-1], ", ") + " or " + s[len(s)-1]
}

// versionHas applies the table to a version. A version on a listed stable
// branch needs at least that branch's patch level; any later release than the
// last minimum qualifies.
func versionHas(v Version, c Capability) bool {
	mins := capTable[c].Mins
	if len(mins) == 0 {
		return false
	}
	for _, m := range mins {
		if v.Major == m.Major && v.Minor == m.Minor {
			return v.Patch >= m.Patch
		}
	}
	return v.AtLeast(mins[len(mins)-1])
}

// Kernel is a kernel profile: a name, a version and, for probed profiles, the
// capabilities a probe saw on a real node.
type Kernel struct {
	Name    string
	Version Version
	// Release is the full release string when known ("6.1.0-50-cloud-amd64").
	Release string
	// Probed holds capabilities a probe determined (or a distribution
	// kernel's claims); it wins over the table.
	Probed map[Capability]bool
	// Sources say where a claim in Probed comes from; absent: a probe.
	Sources map[Capability]string
}

// Has reports whether the kernel has c, and how that is known.
func (k Kernel) Has(c Capability) (ok bool, how string) {
	if v, found := k.Probed[c]; found {
		if src := k.Sources[c]; src != "" {
			return v, k.Name + " claim (" + src + ")"
		}
		return v, "probed"
	}
	return versionHas(k.Version, c), "documented minimum " + MinimumVersion(c)
}

func (k Kernel) String() string {
	if k.Name != "" && k.Name != k.Version.Short() && k.Name != k.Version.String() {
		return fmt.Sprintf("%s (%s)", k.Name, k.Version.Short())
	}
	return k.Version.Short()
}

// CPU is the instruction-set level dpforge compiles a kernel's variant for,
// the way Cilium picks -mcpu: v3 needs the v3 ISA and bpf_redirect_neigh
// (a 5.10-class kernel), v2 needs the v2 ISA (4.14), else v1.
func (k Kernel) CPU() string {
	v3, _ := k.Has(CapISAv3)
	neigh, _ := k.Has(CapRedirectNeigh)
	if v3 && neigh {
		return "v3"
	}
	if v2, _ := k.Has(CapISAv2); v2 {
		return "v2"
	}
	return "v1"
}
