package bpf

import (
	"encoding/binary"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"

	"github.com/dpforge/dpforge/bpf/packet"
)

// Tests of the datapath's state over time: conntrack lifetimes, backend
// persistence, Maglev, session affinity and SNAT mapping expiry. Entries
// are aged by moving their timestamps back from CLOCK_MONOTONIC, the clock
// of bpf_ktime_get_ns, so they hold at any uptime.

// monoNow reads CLOCK_MONOTONIC in ns. It first waits until the clock has
// passed atLeast, so that now-atLeast is a time of this boot even on a
// machine that started moments ago.
func monoNow(t *testing.T, atLeast time.Duration) uint64 {
	t.Helper()
	read := func() time.Duration {
		var ts unix.Timespec
		if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
			t.Fatalf("reading CLOCK_MONOTONIC: %v", err)
		}
		return time.Duration(ts.Nano())
	}
	now := read()
	if now < atLeast {
		t.Logf("CLOCK_MONOTONIC is %v: waiting until it passes %v", now, atLeast)
		time.Sleep(atLeast - now + time.Millisecond)
		now = read()
	}
	return uint64(now)
}

// ageCT moves a conntrack entry's last packet back by d.
func ageCT(t *testing.T, coll *ebpf.Collection, key Tuple4, d time.Duration) CTEntry {
	t.Helper()
	return ageEntry(t, coll, MapConntrack, key, d)
}

// ageEntry moves the last packet of the CTEntry at key in map m back by d.
func ageEntry(t *testing.T, coll *ebpf.Collection, m string, key any, d time.Duration) CTEntry {
	t.Helper()
	var e CTEntry
	if err := coll.Maps[m].Lookup(key, &e); err != nil {
		t.Fatalf("%s entry %+v: %v", m, key, err)
	}
	e.LastSeen = monoNow(t, d) - uint64(d)
	put(t, coll, m, key, e)
	return e
}

func ctEntry(t *testing.T, coll *ebpf.Collection, key Tuple4) CTEntry {
	t.Helper()
	var e CTEntry
	if err := coll.Maps[MapConntrack].Lookup(key, &e); err != nil {
		t.Fatalf("conntrack entry %+v: %v", key, err)
	}
	return e
}

const (
	tcpFIN    = 0x01
	tcpSYN    = 0x02
	tcpRST    = 0x04
	tcpACK    = 0x10
	tcpSYNACK = tcpSYN | tcpACK
)

// ctFlows drives one address family's connections between pod A, which
// enforces ingress policy without any rule, and an outside peer: out and
// in send a segment from A and to A and return the verdict, udpOut and
// udpIn the same for UDP; age moves the last packet of A's egress entry
// for source port sport back by d and returns the entry.
type ctFlows struct {
	out, in       func(sport uint16, flags uint8) uint32
	udpOut, udpIn func(sport uint16) uint32
	age           func(sport uint16, proto uint8, d time.Duration) CTEntry
}

// TestConntrackTCPLifetimes follows a pod's connections through the
// lifetimes Cilium gives them: 60 s while only SYNs were seen, 6 h once
// established, 10 s once closing (FIN from both sides, or RST), 60 s for
// UDP; for IPv4 and IPv6 alike. A reply passes exactly while its
// connection's entry is alive.
func TestConntrackTCPLifetimes(t *testing.T) {
	t.Run("ipv4", func(t *testing.T) { testTCPLifetimes(t, ctFlows4(t)) })
	t.Run("ipv6", func(t *testing.T) { testTCPLifetimes(t, ctFlows6(t)) })
}

func ctFlows4(t *testing.T) ctFlows {
	coll := newCollection(t, variantByName(t, "minimal"), nodeVars)
	put(t, coll, MapEndpoints, EndpointKey{Addr: podA.As4()},
		EndpointInfo{Ifindex: 11, MAC: podAMAC, NodeMAC: podANode, EpID: 1, SecID: 1001, Flags: EndpointEnforceIngress})
	verdict := func(prog string, frame []byte) uint32 {
		ret, _ := run(t, coll, prog, frame)
		return ret
	}
	return ctFlows{
		out: func(sport uint16, flags uint8) uint32 {
			return verdict(ProgFromContainer, ipv4TCP(podANode, podAMAC, podA, outside, 64, nil, tcpSeg{sport, 443, flags}, nil))
		},
		in: func(sport uint16, flags uint8) uint32 {
			return verdict(ProgToContainer, ipv4TCP(podAMAC, podANode, outside, podA, 60, nil, tcpSeg{443, sport, flags}, nil))
		},
		udpOut: func(sport uint16) uint32 {
			return verdict(ProgFromContainer, ipv4UDP(podANode, podAMAC, podA, outside, sport, 53, []byte("q")))
		},
		udpIn: func(sport uint16) uint32 {
			return verdict(ProgToContainer, ipv4UDP(podAMAC, podANode, outside, podA, 53, sport, []byte("a")))
		},
		age: func(sport uint16, proto uint8, d time.Duration) CTEntry {
			dport := uint16(443)
			if proto == protoUDP {
				dport = 53
			}
			return ageCT(t, coll, Tuple4{Saddr: podA.As4(), Daddr: outside.As4(), Sport: PortOf(sport), Dport: PortOf(dport), Proto: proto, Scope: CTEgress}, d)
		},
	}
}

func ctFlows6(t *testing.T) ctFlows {
	podA6, outside6 := netip.MustParseAddr("fd00::a"), netip.MustParseAddr("2001:db8::1")
	coll := newCollection(t, variantByName(t, "ipv4-ipv6"), nodeVars)
	put(t, coll, MapEndpoints6, Endpoint6Key{Addr: podA6.As16()},
		EndpointInfo{Ifindex: 11, MAC: podAMAC, NodeMAC: podANode, EpID: 1, SecID: 1001, Flags: EndpointEnforceIngress})
	verdict := func(prog string, dmac, smac [6]byte, src, dst netip.Addr, tcp *packet.TCP, udp *packet.UDP) uint32 {
		pkt := &packet.Packet{
			Eth:  &packet.Ethernet{Dst: dmac, Src: smac},
			IPv6: &packet.IPv6{Src: src, Dst: dst},
			TCP:  tcp, UDP: udp,
		}
		frame, err := pkt.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		ret, _ := run(t, coll, prog, frame)
		return ret
	}
	return ctFlows{
		out: func(sport uint16, flags uint8) uint32 {
			return verdict(ProgFromContainer, podANode, podAMAC, podA6, outside6, &packet.TCP{SrcPort: sport, DstPort: 443, Flags: packet.TCPFlags(flags)}, nil)
		},
		in: func(sport uint16, flags uint8) uint32 {
			return verdict(ProgToContainer, podAMAC, podANode, outside6, podA6, &packet.TCP{SrcPort: 443, DstPort: sport, Flags: packet.TCPFlags(flags)}, nil)
		},
		udpOut: func(sport uint16) uint32 {
			return verdict(ProgFromContainer, podANode, podAMAC, podA6, outside6, nil, &packet.UDP{SrcPort: sport, DstPort: 53})
		},
		udpIn: func(sport uint16) uint32 {
			return verdict(ProgToContainer, podAMAC, podANode, outside6, podA6, nil, &packet.UDP{SrcPort: 53, DstPort: sport})
		},
		age: func(sport uint16, proto uint8, d time.Duration) CTEntry {
			dport := uint16(443)
			if proto == protoUDP {
				dport = 53
			}
			return ageEntry(t, coll, MapConntrack6, Tuple6{Saddr: podA6.As16(), Daddr: outside6.As16(),
				Sport: PortOf(sport), Dport: PortOf(dport), Proto: proto, Scope: CTEgress}, d)
		},
	}
}

func testTCPLifetimes(t *testing.T, f ctFlows) {
	// A lone SYN: its entry is gone after 60 s, so the late SYN-ACK is a
	// new connection into A, which A's policy refuses.
	if ret := f.out(41000, tcpSYN); ret != tcActOK {
		t.Fatalf("SYN: verdict %d", ret)
	}
	if e := f.age(41000, protoTCP, 59*time.Second); e.TCPState != 0 {
		t.Errorf("after a SYN: TCP state %#x, want 0", e.TCPState)
	}
	if ret := f.in(41000, tcpSYNACK); ret != tcActOK {
		t.Errorf("SYN-ACK 59 s after the SYN: verdict %d, want TC_ACT_OK", ret)
	}
	f.age(41000, protoTCP, 61*time.Second)
	if ret := f.in(41000, tcpSYNACK); ret != tcActShot {
		t.Errorf("SYN-ACK 61 s after the SYN: verdict %d, want TC_ACT_SHOT (entry expired)", ret)
	}

	// Established: the handshake's ACK makes the entry live for 6 h.
	f.out(41001, tcpSYN)
	f.in(41001, tcpSYNACK)
	f.out(41001, tcpACK)
	if e := f.age(41001, protoTCP, 61*time.Second); e.TCPState != CTTCPNonSYN {
		t.Errorf("established: TCP state %#x, want %#x", e.TCPState, CTTCPNonSYN)
	}
	if ret := f.in(41001, tcpACK); ret != tcActOK {
		t.Errorf("established, idle 61 s: verdict %d, want TC_ACT_OK", ret)
	}

	// FIN from both sides: closing, 10 s.
	f.out(41001, tcpFIN|tcpACK)
	f.in(41001, tcpFIN|tcpACK)
	if e := f.age(41001, protoTCP, 9*time.Second); e.TCPState != CTTCPNonSYN|CTTCPFinFwd|CTTCPFinRev {
		t.Errorf("after both FINs: TCP state %#x", e.TCPState)
	}
	if ret := f.in(41001, tcpACK); ret != tcActOK {
		t.Errorf("closing, idle 9 s: verdict %d, want TC_ACT_OK", ret)
	}
	f.age(41001, protoTCP, 11*time.Second)
	if ret := f.in(41001, tcpACK); ret != tcActShot {
		t.Errorf("closing, idle 11 s: verdict %d, want TC_ACT_SHOT", ret)
	}

	// One FIN is a half-close: still established.
	f.out(41002, tcpSYN)
	f.in(41002, tcpSYNACK)
	f.out(41002, tcpFIN|tcpACK)
	f.age(41002, protoTCP, 61*time.Second)
	if ret := f.in(41002, tcpACK); ret != tcActOK {
		t.Errorf("half-closed, idle 61 s: verdict %d, want TC_ACT_OK", ret)
	}

	// RST from the peer: closing.
	f.in(41002, tcpRST)
	if e := f.age(41002, protoTCP, 11*time.Second); e.TCPState&CTTCPRST == 0 {
		t.Errorf("after RST: TCP state %#x", e.TCPState)
	}
	if ret := f.in(41002, tcpACK); ret != tcActShot {
		t.Errorf("reset, idle 11 s: verdict %d, want TC_ACT_SHOT", ret)
	}

	// UDP: 60 s.
	f.udpOut(41003)
	f.age(41003, protoUDP, 59*time.Second)
	if ret := f.udpIn(41003); ret != tcActOK {
		t.Errorf("UDP reply after 59 s: verdict %d, want TC_ACT_OK", ret)
	}
	f.age(41003, protoUDP, 61*time.Second)
	if ret := f.udpIn(41003); ret != tcActShot {
		t.Errorf("UDP reply after 61 s: verdict %d, want TC_ACT_SHOT", ret)
	}
}

var clusterIP = netip.MustParseAddr("10.96.0.30")

// backendAddrs are the backends of the service tests, by id.
var backendAddrs = map[uint32]netip.Addr{
	21: netip.MustParseAddr("10.0.2.7"),
	22: netip.MustParseAddr("10.0.2.8"),
	23: netip.MustParseAddr("10.0.2.9"),
}

func putBackends(t *testing.T, coll *ebpf.Collection) {
	t.Helper()
	for id, a := range backendAddrs {
		put(t, coll, MapBackends, BackendKey{ID: id}, BackendValue{Addr: a.As4(), Port: PortOf(8080), Proto: protoTCP})
	}
}

// toService sends pod A's segment to the ClusterIP and returns where it went.
func toService(t *testing.T, coll *ebpf.Collection, client netip.Addr, sport uint16, flags uint8) netip.Addr {
	t.Helper()
	ret, out := run(t, coll, ProgFromContainer, ipv4TCP(podANode, podAMAC, client, clusterIP, 64, nil, tcpSeg{sport, 80, flags}, nil))
	if ret == tcActShot {
		t.Fatalf("%v:%d -> service: dropped", client, sport)
	}
	return parseIPv4L4(t, out).dst
}

// TestLBRemovedBackendReselects: a flow whose backend is removed from the
// service (and from dp_backends) is moved to a backend that still exists,
// as Cilium does, instead of being dropped or sent to a stale address.
func TestLBRemovedBackendReselects(t *testing.T) {
	coll := newCollection(t, variantByName(t, "nodeport"), nodeVars)
	addEndpoints(t, coll)
	putBackends(t, coll)
	put(t, coll, MapServices, SvcKey{Addr: clusterIP.As4(), Dport: PortOf(80), Proto: protoTCP}, SvcValue{Count: 2, RevNATIndex: 9})
	put(t, coll, MapServices, SvcKey{Addr: clusterIP.As4(), Dport: PortOf(80), Proto: protoTCP, Slot: 1}, SvcValue{BackendID: 21})
	put(t, coll, MapServices, SvcKey{Addr: clusterIP.As4(), Dport: PortOf(80), Proto: protoTCP, Slot: 2}, SvcValue{BackendID: 22})

	first := toService(t, coll, podA, 40004, tcpSYN)
	var gone, other uint32 = 21, 22
	if first == backendAddrs[22] {
		gone, other = 22, 21
	}
	if got := toService(t, coll, podA, 40004, tcpACK); got != first {
		t.Fatalf("second packet went to %v, first to %v", got, first)
	}

	// The control plane removes the flow's backend.
	put(t, coll, MapServices, SvcKey{Addr: clusterIP.As4(), Dport: PortOf(80), Proto: protoTCP}, SvcValue{Count: 1, RevNATIndex: 9})
	put(t, coll, MapServices, SvcKey{Addr: clusterIP.As4(), Dport: PortOf(80), Proto: protoTCP, Slot: 1}, SvcValue{BackendID: other})
	if err := coll.Maps[MapServices].Delete(SvcKey{Addr: clusterIP.As4(), Dport: PortOf(80), Proto: protoTCP, Slot: 2}); err != nil {
		t.Fatal(err)
	}
	if err := coll.Maps[MapBackends].Delete(BackendKey{ID: gone}); err != nil {
		t.Fatal(err)
	}
	if got := toService(t, coll, podA, 40004, tcpACK); got != backendAddrs[other] {
		t.Errorf("after removing backend %d: flow went to %v, want %v", gone, got, backendAddrs[other])
	}
	lbKey := Tuple4{Saddr: podA.As4(), Daddr: clusterIP.As4(), Sport: PortOf(40004), Dport: PortOf(80), Proto: protoTCP, Scope: CTLB}
	if e := ctEntry(t, coll, lbKey); e.BackendID != other {
		t.Errorf("CT_LB entry names backend %d, want %d", e.BackendID, other)
	}
}

// lbHash is the datapath's flow hash (lb4_hash in include/lb.h) for a TCP
// or UDP packet, computed on this host's byte order as the program does.
func lbHash(src, dst netip.Addr, proto uint8, sport, dport uint16) uint32 {
	s, d := src.As4(), dst.As4()
	sp, dp := PortOf(sport), PortOf(dport)
	h := binary.NativeEndian.Uint32(s[:]) ^ binary.NativeEndian.Uint32(d[:]) ^ uint32(proto) ^
		(uint32(binary.NativeEndian.Uint16(sp[:]))<<16 | uint32(binary.NativeEndian.Uint16(dp[:])))
	h ^= h >> 16
	h *= 0x7feb352d
	h ^= h >> 15
	h *= 0x846ca68b
	h ^= h >> 16
	return h
}

func putMaglev(t *testing.T, coll *ebpf.Collection, revNAT uint16, table []uint32) {
	t.Helper()
	for i, id := range table {
		put(t, coll, MapMaglev, MaglevKey{RevNATIndex: revNAT, Slot: uint32(i)}, MaglevValue{BackendID: id})
	}
}

// TestMaglev: two nodes given the same Maglev table pick the same backend
// for every flow without sharing any state, the one in the table's slot
// for the flow hash; the table spreads slots evenly and removing a backend
// moves few of the others' slots.
func TestMaglev(t *testing.T) {
	const size = 251
	v := variantByName(t, "nodeport-maglev-affinity")
	table, err := MaglevTable([]uint32{21, 22, 23}, size)
	if err != nil {
		t.Fatal(err)
	}
	count := map[uint32]int{}
	for _, id := range table {
		count[id]++
	}
	for id, n := range count {
		if n < size/3 || n > size/3+1 {
			t.Errorf("backend %d holds %d of %d slots, want %d or %d", id, n, size, size/3, size/3+1)
		}
	}
	smaller, err := MaglevTable([]uint32{21, 23}, size)
	if err != nil {
		t.Fatal(err)
	}
	moved := 0
	for i := range table {
		if table[i] != 22 && smaller[i] != table[i] {
			moved++
		}
	}
	// Maglev trades a little disruption for balance; modulo hashing would
	// move about half of the survivors' slots.
	if moved > size/10 {
		t.Errorf("removing backend 22 moved %d of the other backends' slots, want at most %d", moved, size/10)
	}
	t.Logf("removing one of 3 backends moved %d of %d surviving slots", moved, size-count[22])

	vars := withVars(nodeVars, VarMaglevTableSize, uint32(size))
	var nodes [2]*ebpf.Collection
	for i := range nodes {
		nodes[i] = newCollection(t, v, vars)
		addEndpoints(t, nodes[i])
		putBackends(t, nodes[i])
		put(t, nodes[i], MapServices, SvcKey{Addr: clusterIP.As4(), Dport: PortOf(80), Proto: protoTCP}, SvcValue{Count: 3, RevNATIndex: 9})
		putMaglev(t, nodes[i], 9, table)
	}
	seen := map[netip.Addr]bool{}
	for sport := uint16(40000); sport < 40030; sport++ {
		want := backendAddrs[table[lbHash(podA, clusterIP, protoTCP, sport, 80)%size]]
		for i, n := range nodes {
			if got := toService(t, n, podA, sport, tcpSYN); got != want {
				t.Errorf("node %d: flow from port %d went to %v, want %v (Maglev slot)", i, sport, got, want)
			}
		}
		seen[want] = true
	}
	if len(seen) != 3 {
		t.Errorf("30 flows reached %d backends, want all 3", len(seen))
	}
}

// TestAffinityExpires: a client sticks to its backend within the service's
// affinity timeout and is balanced afresh after it.
func TestAffinityExpires(t *testing.T) {
	coll := newCollection(t, variantByName(t, "nodeport-maglev-affinity"), withVars(nodeVars, VarMaglevTableSize, uint32(2)))
	addEndpoints(t, coll)
	putBackends(t, coll)
	const timeout = 2 // seconds
	put(t, coll, MapServices, SvcKey{Addr: clusterIP.As4(), Dport: PortOf(80), Proto: protoTCP},
		SvcValue{Count: 2, RevNATIndex: 9, Flags: ServiceAffinity, BackendID: timeout})
	putMaglev(t, coll, 9, []uint32{21, 22})

	// Two flows of A whose hashes point at different slots.
	var a, b uint16
	for p := uint16(40000); a == 0 || b == 0; p++ {
		if lbHash(podA, clusterIP, protoTCP, p, 80)%2 == 0 {
			a = p
		} else {
			b = p
		}
	}
	if got := toService(t, coll, podA, a, tcpSYN); got != backendAddrs[21] {
		t.Fatalf("first flow went to %v, want %v (slot 0)", got, backendAddrs[21])
	}
	if got := toService(t, coll, podA, b, tcpSYN); got != backendAddrs[21] {
		t.Errorf("second flow within the timeout went to %v, want %v (affinity)", got, backendAddrs[21])
	}

	key := AffinityKey{Client: podA.As4(), RevNATIndex: 9}
	var av AffinityValue
	if err := coll.Maps[MapAffinity].Lookup(key, &av); err != nil {
		t.Fatalf("affinity entry: %v", err)
	}
	av.LastUsed = monoNow(t, (timeout+1)*time.Second) - uint64((timeout+1)*time.Second)
	put(t, coll, MapAffinity, key, av)
	if got := toService(t, coll, podA, b, tcpACK); got != backendAddrs[21] {
		t.Errorf("established flow after the timeout went to %v, want %v (its conntrack entry)", got, backendAddrs[21])
	}
	// A new flow (from slot 1's port range) after the timeout.
	var c uint16
	for p := b + 1; c == 0; p++ {
		if lbHash(podA, clusterIP, protoTCP, p, 80)%2 == 1 {
			c = p
		}
	}
	av.LastUsed = monoNow(t, (timeout+1)*time.Second) - uint64((timeout+1)*time.Second)
	put(t, coll, MapAffinity, key, av)
	if got := toService(t, coll, podA, c, tcpSYN); got != backendAddrs[22] {
		t.Errorf("new flow after the timeout went to %v, want %v (its Maglev slot)", got, backendAddrs[22])
	}
	if err := coll.Maps[MapAffinity].Lookup(key, &av); err != nil || av.BackendID != 22 {
		t.Errorf("affinity after the timeout: %+v (%v), want backend 22", av, err)
	}
}

// TestSNATMappingExpires: an idle mapping gives its port back. With one
// port in the range, B cannot share A's destination until A's UDP mapping
// has been idle for longer than the non-TCP lifetime (60 s).
func TestSNATMappingExpires(t *testing.T) {
	vars := withVars(nodeVars, VarSNATPortMin, uint16(40000), VarSNATPortMax, uint16(40000))
	coll := newCollection(t, variantByName(t, "nodeport-maglev-affinity"), vars)
	addEndpoints(t, coll)
	send := func(src netip.Addr) (uint32, parsedIPv4) {
		ret, out := run(t, coll, ProgToNetdev, ipv4UDP(podAMAC, nodeMAC, src, outside, 41000, 53, []byte("q")))
		if ret == tcActShot {
			return ret, parsedIPv4{}
		}
		return ret, parseIPv4L4(t, out)
	}
	if ret, p := send(podA); ret != tcActOK || p.src != nodeIP || p.sport != 40000 {
		t.Fatalf("A: verdict %d, %v:%d, want %v:40000", ret, p.src, p.sport, nodeIP)
	}
	if ret, _ := send(podB); ret != tcActShot || metric(t, coll, DropNATNoMapping, DirEgress, HookToNetdev) != 1 {
		t.Fatalf("B while A holds the port: verdict %d, want TC_ACT_SHOT counted as DROP_NAT_NO_MAPPING", ret)
	}
	now := monoNow(t, 61*time.Second)
	for _, k := range []Tuple4{
		{Saddr: podA.As4(), Daddr: outside.As4(), Sport: PortOf(41000), Dport: PortOf(53), Proto: protoUDP, Scope: NATEgress},
		{Saddr: outside.As4(), Daddr: nodeIP.As4(), Sport: PortOf(53), Dport: PortOf(40000), Proto: protoUDP, Scope: NATIngress},
	} {
		var e SNATEntry
		if err := coll.Maps[MapSNAT].Lookup(k, &e); err != nil {
			t.Fatalf("mapping %+v: %v", k, err)
		}
		e.LastSeen = now - uint64(61*time.Second)
		put(t, coll, MapSNAT, k, e)
	}
	if ret, p := send(podB); ret != tcActOK || p.src != nodeIP || p.sport != 40000 {
		t.Errorf("B after A's mapping expired: verdict %d, %v:%d, want %v:40000", ret, p.src, p.sport, nodeIP)
	}
}

// TestMaglevTableInputs: the table depends on the set of backends only,
// and bad input is an error.
func TestMaglevTableInputs(t *testing.T) {
	a, err := MaglevTable([]uint32{3, 1, 2}, 509)
	if err != nil {
		t.Fatal(err)
	}
	b, err := MaglevTable([]uint32{2, 3, 1}, 509)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(a, b) {
		t.Error("the table depends on the order of the backends")
	}
	for _, tc := range []struct {
		backends []uint32
		size     uint32
	}{{[]uint32{1}, 500}, {nil, 251}, {[]uint32{1, 1}, 251}, {[]uint32{1}, 1}} {
		if _, err := MaglevTable(tc.backends, tc.size); err == nil {
			t.Errorf("MaglevTable(%v, %d): no error", tc.backends, tc.size)
		}
	}
}

// TestLastSeenAheadOfNow: another CPU may refresh a shared entry with a
// clock reading a little later than the one this packet took before
// looking the entry up. Such an entry is live: an unsigned age would wrap
// and expire it, so a reply would be refused (or start a new connection
// in the other direction) and a masqueraded flow would get a new port.
func TestLastSeenAheadOfNow(t *testing.T) {
	coll := newCollection(t, variantByName(t, "minimal"), nodeVars)
	put(t, coll, MapEndpoints, EndpointKey{Addr: podA.As4()},
		EndpointInfo{Ifindex: 11, MAC: podAMAC, NodeMAC: podANode, EpID: 1, SecID: 1001, Flags: EndpointEnforceIngress})
	out := func(flags uint8) {
		if ret, _ := run(t, coll, ProgFromContainer, ipv4TCP(podANode, podAMAC, podA, outside, 64, nil, tcpSeg{41000, 443, flags}, nil)); ret != tcActOK {
			t.Fatalf("pod's segment %#x: verdict %d", flags, ret)
		}
	}
	out(tcpSYN)
	if ret, _ := run(t, coll, ProgToContainer, ipv4TCP(podAMAC, podANode, outside, podA, 60, nil, tcpSeg{443, 41000, tcpSYNACK}, nil)); ret != tcActOK {
		t.Fatalf("SYN-ACK: verdict %d", ret)
	}
	out(tcpACK)
	key := Tuple4{Saddr: podA.As4(), Daddr: outside.As4(), Sport: PortOf(41000), Dport: PortOf(443), Proto: protoTCP, Scope: CTEgress}
	e := ctEntry(t, coll, key)
	e.LastSeen = monotonicNow(t) + uint64(time.Second)
	put(t, coll, MapConntrack, key, e)
	if ret, _ := run(t, coll, ProgToContainer, ipv4TCP(podAMAC, podANode, outside, podA, 60, nil, tcpSeg{443, 41000, tcpACK}, nil)); ret != tcActOK {
		t.Errorf("reply while the entry's last packet reads 1 s ahead: verdict %d, want TC_ACT_OK", ret)
	}
	rev := Tuple4{Saddr: outside.As4(), Daddr: podA.As4(), Sport: PortOf(443), Dport: PortOf(41000), Proto: protoTCP, Scope: CTIngress}
	var in CTEntry
	if err := coll.Maps[MapConntrack].Lookup(rev, &in); err == nil {
		t.Errorf("the reply opened an inbound entry %+v: the pod's next segments would count as replies", rev)
	}

	vars := withVars(nodeVars, VarSNATPortMin, uint16(40000), VarSNATPortMax, uint16(40010))
	nat := newCollection(t, variantByName(t, "nodeport-maglev-affinity"), vars)
	addEndpoints(t, nat)
	send := func() parsedIPv4 {
		ret, o := run(t, nat, ProgToNetdev, ipv4UDP(podAMAC, nodeMAC, podA, outside, 40003, 53, []byte("q")))
		if ret != tcActOK {
			t.Fatalf("masqueraded datagram: verdict %d", ret)
		}
		return parseIPv4L4(t, o)
	}
	first := send()
	if first.src != nodeIP {
		t.Fatalf("first datagram left from %v, want %v", first.src, nodeIP)
	}
	// The egress half read ahead: searched again, the port it holds would
	// be taken by its own reply half, and the flow would get another one.
	k := Tuple4{Saddr: podA.As4(), Daddr: outside.As4(), Sport: PortOf(40003), Dport: PortOf(53), Proto: protoUDP, Scope: NATEgress}
	var m SNATEntry
	if err := nat.Maps[MapSNAT].Lookup(k, &m); err != nil {
		t.Fatalf("mapping %+v: %v", k, err)
	}
	m.LastSeen = monotonicNow(t) + uint64(time.Second)
	put(t, nat, MapSNAT, k, m)
	if p := send(); p.src != nodeIP || p.sport != first.sport {
		t.Errorf("datagram while its mapping's last packet reads 1 s ahead: from %v:%d, want %v:%d", p.src, p.sport, nodeIP, first.sport)
	}

	// The reply half read ahead: the reply would reach the node's stack
	// untranslated, and a TCP peer would get the node's RST.
	k = Tuple4{Saddr: outside.As4(), Daddr: nodeIP.As4(), Sport: PortOf(53), Dport: PortOf(first.sport), Proto: protoUDP, Scope: NATIngress}
	if err := nat.Maps[MapSNAT].Lookup(k, &m); err != nil {
		t.Fatalf("mapping %+v: %v", k, err)
	}
	m.LastSeen = monotonicNow(t) + uint64(time.Second)
	put(t, nat, MapSNAT, k, m)
	r := parseIPv4L4(t, runOut(t, nat, ProgFromNetdev, ipv4UDP(nodeMAC, podAMAC, outside, nodeIP, 53, first.sport, []byte("a"))))
	if r.dst != podA || r.dport != 40003 {
		t.Errorf("reply while its mapping's last packet reads 1 s ahead: to %v:%d, want %v:40003", r.dst, r.dport, podA)
	}
}
