package bpf

import (
	"encoding/binary"
	"net/netip"
	"testing"

	"github.com/cilium/ebpf"
)

// Hand-built frames for BPF_PROG_TEST_RUN. Just enough to drive the
// programs; the packet library in bpf/packet is the real thing.

const (
	tcActOK       = 0
	tcActShot     = 2
	tcActRedirect = 7

	ethPIPv4 = 0x0800
	ethPIPv6 = 0x86dd

	protoTCP = 6
	protoUDP = 17
)

var (
	podAMAC  = [6]byte{0x02, 0, 0, 0, 0, 0x0a}
	podANode = [6]byte{0x02, 0, 0, 0, 1, 0x0a}
	podBMAC  = [6]byte{0x02, 0, 0, 0, 0, 0x0b}
	podBNode = [6]byte{0x02, 0, 0, 0, 1, 0x0b}

	podA = netip.MustParseAddr("10.0.0.1")
	podB = netip.MustParseAddr("10.0.0.2")
)

func csum(b []byte, sum uint32) uint16 {
	for i := 0; i+1 < len(b); i += 2 {
		sum += uint32(binary.BigEndian.Uint16(b[i:]))
	}
	if len(b)%2 == 1 {
		sum += uint32(b[len(b)-1]) << 8
	}
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}

func eth(dst, src [6]byte, proto uint16) []byte {
	b := append(dst[:], src[:]...)
	return binary.BigEndian.AppendUint16(b, proto)
}

type tcpSeg struct {
	sport, dport uint16
	flags        uint8
}

// ipv4TCP builds a frame: Ethernet, IPv4 (options allowed), TCP, payload.
func ipv4TCP(dmac, smac [6]byte, src, dst netip.Addr, ttl uint8, opts []byte, seg tcpSeg, payload []byte) []byte {
	tcp := make([]byte, 20, 20+len(payload))
	binary.BigEndian.PutUint16(tcp[0:], seg.sport)
	binary.BigEndian.PutUint16(tcp[2:], seg.dport)
	binary.BigEndian.PutUint32(tcp[4:], 1000)
	tcp[12] = 5 << 4
	tcp[13] = seg.flags
	binary.BigEndian.PutUint16(tcp[14:], 65535)
	return ipv4Frame(dmac, smac, src, dst, ttl, opts, protoTCP, append(tcp, payload...))
}

// ipv4UDP builds an Ethernet/IPv4/UDP frame.
func ipv4UDP(dmac, smac [6]byte, src, dst netip.Addr, sport, dport uint16, payload []byte) []byte {
	udp := make([]byte, 8, 8+len(payload))
	binary.BigEndian.PutUint16(udp[0:], sport)
	binary.BigEndian.PutUint16(udp[2:], dport)
	binary.BigEndian.PutUint16(udp[4:], uint16(8+len(payload)))
	return ipv4Frame(dmac, smac, src, dst, 64, nil, protoUDP, append(udp, payload...))
}

func pseudoHeader(src, dst []byte, proto uint8, l4len int) []byte {
	b := append(append([]byte{}, src...), dst...)
	return append(b, 0, proto, byte(l4len>>8), byte(l4len))
}

func l4CsumOff(proto uint8) int {
	if proto == protoUDP {
		return 6
	}
	return 16
}

func ipv4Frame(dmac, smac [6]byte, src, dst netip.Addr, ttl uint8, opts []byte, proto uint8, l4 []byte) []byte {
	s, d := src.As4(), dst.As4()
	binary.BigEndian.PutUint16(l4[l4CsumOff(proto):], csum(append(pseudoHeader(s[:], d[:], proto, len(l4)), l4...), 0))

	hlen := 20 + len(opts)
	ip := make([]byte, 20, hlen+len(l4))
	ip[0] = 0x40 | byte(hlen/4)
	binary.BigEndian.PutUint16(ip[2:], uint16(hlen+len(l4)))
	ip[8] = ttl
	ip[9] = proto
	copy(ip[12:], s[:])
	copy(ip[16:], d[:])
	ip = append(ip, opts...)
	binary.BigEndian.PutUint16(ip[10:], csum(ip, 0))
	return append(append(eth(dmac, smac, ethPIPv4), ip...), l4...)
}

// parsedIPv4 is what the tests check in an output frame.
type parsedIPv4 struct {
	dmac, smac   [6]byte
	ttl          uint8
	tot          int
	src, dst     netip.Addr
	sport, dport uint16
	ipOK, l4OK   bool
	opts         []byte
}

func parseIPv4L4(t *testing.T, f []byte) parsedIPv4 {
	t.Helper()
	if len(f) < 14+20 {
		t.Fatalf("frame too short: %d bytes", len(f))
	}
	ip := f[14:]
	hlen := int(ip[0]&0xf) * 4
	tot := int(binary.BigEndian.Uint16(ip[2:]))
	if tot > len(ip) || hlen < 20 || tot < hlen+8 {
		t.Fatalf("bad IPv4 lengths: ihl %d tot %d frame %d", hlen, tot, len(ip))
	}
	var p parsedIPv4
	copy(p.dmac[:], f[0:6])
	copy(p.smac[:], f[6:12])
	p.ttl = ip[8]
	p.tot = tot
	p.src = netip.AddrFrom4([4]byte(ip[12:16]))
	p.dst = netip.AddrFrom4([4]byte(ip[16:20]))
	p.opts = ip[20:hlen]
	p.ipOK = csum(ip[:hlen], 0) == 0
	l4 := ip[hlen:tot]
	p.sport = binary.BigEndian.Uint16(l4[0:])
	p.dport = binary.BigEndian.Uint16(l4[2:])
	p.l4OK = csum(append(pseudoHeader(ip[12:16], ip[16:20], ip[9], len(l4)), l4...), 0) == 0
	return p
}

// run executes a program once on frame and returns its verdict and output.
func run(t *testing.T, coll *ebpf.Collection, prog string, frame []byte) (uint32, []byte) {
	t.Helper()
	out := make([]byte, len(frame)+256)
	opts := ebpf.RunOptions{Data: frame, DataOut: out}
	ret, err := coll.Programs[prog].Run(&opts)
	if err != nil {
		t.Fatalf("running %s: %v", prog, err)
	}
	return ret, opts.DataOut
}

func put(t *testing.T, coll *ebpf.Collection, m string, key, value any) {
	t.Helper()
	if err := coll.Maps[m].Put(key, value); err != nil {
		t.Fatalf("%s: put %+v: %v", m, key, err)
	}
}

func metric(t *testing.T, coll *ebpf.Collection, r Reason, d Dir, h Hook) uint64 {
	t.Helper()
	var perCPU []MetricsValue
	i, ok := MetricsKey{Reason: r, Dir: d, Hook: h}.Index()
	if !ok {
		t.Fatalf("metric %s/%s/%s has no slot", r, d, h)
	}
	if err := coll.Maps[MapMetrics].Lookup(i, &perCPU); err != nil {
		t.Fatalf("%s: looking up %s/%s/%s: %v", MapMetrics, r, d, h, err)
	}
	var n uint64
	for _, v := range perCPU {
		n += v.Packets
	}
	return n
}

func addEndpoints(t *testing.T, coll *ebpf.Collection) {
	t.Helper()
	put(t, coll, MapEndpoints, EndpointKey{Addr: podA.As4()},
		EndpointInfo{Ifindex: 11, MAC: podAMAC, NodeMAC: podANode, EpID: 1, SecID: 1001})
	put(t, coll, MapEndpoints, EndpointKey{Addr: podB.As4()},
		EndpointInfo{Ifindex: 12, MAC: podBMAC, NodeMAC: podBNode, EpID: 2, SecID: 1002})
}

func TestSmokeTruncated(t *testing.T) {
	for _, name := range []string{"minimal", "minimal-ringbuf"} {
		t.Run(name, func(t *testing.T) {
			coll := newCollection(t, variantByName(t, name), nil)
			// A TCP SYN cut after 4 bytes of its TCP header. (The kernel's
			// test runner refuses frames too short for an IPv4 header.)
			frame := ipv4TCP(podANode, podAMAC, podA, podB, 64, nil, tcpSeg{40000, 80, 0x02}, nil)
			frame = frame[:14+20+4]
			ret, _ := run(t, coll, ProgFromContainer, frame)
			if ret != tcActShot {
				t.Fatalf("verdict %d, want TC_ACT_SHOT", ret)
			}
			if n := metric(t, coll, DropInvalid, DirEgress, HookFromContainer); n != 1 {
				t.Errorf("DROP_INVALID counter = %d, want 1", n)
			}
		})
	}
}

func TestSmokeIPv6(t *testing.T) {
	frame := append(eth(podANode, podAMAC, ethPIPv6), make([]byte, 40)...)
	frame[14] = 0x60

	coll := newCollection(t, variantByName(t, "minimal"), nil)
	if ret, _ := run(t, coll, ProgFromContainer, frame); ret != tcActShot {
		t.Errorf("without ENABLE_IPV6: verdict %d, want TC_ACT_SHOT", ret)
	}
	if n := metric(t, coll, DropUnknownL3, DirEgress, HookFromContainer); n != 1 {
		t.Errorf("without ENABLE_IPV6: DROP_UNKNOWN_L3 = %d, want 1", n)
	}

	// With ENABLE_IPV6 the packet is parsed (next header 59: none) and
	// its source, ::, is no pod of this node.
	frame[14+6] = 59
	coll = newCollection(t, variantByName(t, "ipv4-ipv6"), nil)
	if ret, _ := run(t, coll, ProgFromContainer, frame); ret != tcActShot {
		t.Errorf("with ENABLE_IPV6: verdict %d, want TC_ACT_SHOT", ret)
	}
	if n := metric(t, coll, DropInvalidSource, DirEgress, HookFromContainer); n != 1 {
		t.Errorf("with ENABLE_IPV6: DROP_INVALID_SOURCE = %d, want 1", n)
	}
}

func TestSmokeSameNodeHostRouting(t *testing.T) {
	coll := newCollection(t, variantByName(t, "host-routing"), nil)
	addEndpoints(t, coll)
	frame := ipv4TCP(podANode, podAMAC, podA, podB, 64, nil, tcpSeg{40000, 80, 0x02}, nil)
	ret, out := run(t, coll, ProgFromContainer, frame)
	if ret != tcActRedirect {
		t.Fatalf("verdict %d, want TC_ACT_REDIRECT (bpf_redirect_peer)", ret)
	}
	if p := parseIPv4L4(t, out); p.ttl != 63 || p.dmac != podBMAC || !p.ipOK {
		t.Errorf("redirected frame: ttl %d dmac %x ip csum ok %v", p.ttl, p.dmac, p.ipOK)
	}
	if n := metric(t, coll, ReasonForwarded, DirEgress, HookFromContainer); n != 1 {
		t.Errorf("FORWARDED = %d, want 1", n)
	}
}

func TestSmokeSameNodeLegacy(t *testing.T) {
	coll := newCollection(t, variantByName(t, "minimal"), nil)
	addEndpoints(t, coll)
	frame := ipv4TCP(podANode, podAMAC, podA, podB, 64, nil, tcpSeg{40000, 80, 0x02}, []byte("hi"))
	ret, out := run(t, coll, ProgFromContainer, frame)
	if ret != tcActRedirect {
		t.Fatalf("verdict %d, want TC_ACT_REDIRECT to the destination's lxc device", ret)
	}
	p := parseIPv4L4(t, out)
	if p.ttl != 63 {
		t.Errorf("ttl %d, want 63", p.ttl)
	}
	if p.dmac != podBMAC || p.smac != podBNode {
		t.Errorf("MACs %x > %x, want %x > %x", p.smac, p.dmac, podBNode, podBMAC)
	}
	if !p.ipOK || !p.l4OK {
		t.Errorf("checksums: ip ok %v, tcp ok %v", p.ipOK, p.l4OK)
	}

	// TTL 1 cannot be forwarded.
	frame = ipv4TCP(podANode, podAMAC, podA, podB, 1, nil, tcpSeg{40001, 80, 0x02}, nil)
	if ret, _ := run(t, coll, ProgFromContainer, frame); ret != tcActShot {
		t.Errorf("ttl 1: verdict %d, want TC_ACT_SHOT", ret)
	}
	if n := metric(t, coll, DropTTLExceeded, DirEgress, HookFromContainer); n != 1 {
		t.Errorf("DROP_TTL_EXCEEDED = %d, want 1", n)
	}
}

func TestSmokePolicy(t *testing.T) {
	coll := newCollection(t, variantByName(t, "minimal"), nil)
	addEndpoints(t, coll)
	put(t, coll, MapEndpoints, EndpointKey{Addr: podB.As4()},
		EndpointInfo{Ifindex: 12, MAC: podBMAC, NodeMAC: podBNode, EpID: 2, SecID: 1002,
			Flags: EndpointEnforceIngress})
	frame := ipv4TCP(podBNode, podBMAC, podA, podB, 63, nil, tcpSeg{40000, 80, 0x02}, nil)
	if ret, _ := run(t, coll, ProgToContainer, frame); ret != tcActShot {
		t.Fatalf("no policy, enforcing: verdict %d, want TC_ACT_SHOT", ret)
	}
	if n := metric(t, coll, DropPolicyDenied, DirIngress, HookToContainer); n != 1 {
		t.Errorf("DROP_POLICY_DENIED = %d, want 1", n)
	}
	// ANY/proto/port is the second lookup.
	put(t, coll, MapPolicy, PolicyKey{SubjectID: 1002, Dport: PortOf(80), Proto: protoTCP, Dir: PolicyIngress}, PolicyEntry{})
	if ret, _ := run(t, coll, ProgToContainer, frame); ret != tcActOK {
		t.Fatalf("allowed: verdict %d, want TC_ACT_OK", ret)
	}
	// A deny for the exact identity is looked up first and wins.
	put(t, coll, MapPolicy, PolicyKey{SubjectID: 1002, RemoteID: 1001, Dport: PortOf(80), Proto: protoTCP, Dir: PolicyIngress}, PolicyEntry{Deny: 1})
	frame = ipv4TCP(podBNode, podBMAC, podA, podB, 63, nil, tcpSeg{40001, 80, 0x02}, nil)
	if ret, _ := run(t, coll, ProgToContainer, frame); ret != tcActShot {
		t.Fatalf("denied: verdict %d, want TC_ACT_SHOT", ret)
	}
}

func TestSmokeClusterIP(t *testing.T) {
	coll := newCollection(t, variantByName(t, "nodeport"), nil)
	addEndpoints(t, coll)
	vip := netip.MustParseAddr("10.96.0.10")
	backend := netip.MustParseAddr("10.0.1.5") // on another node
	put(t, coll, MapServices, SvcKey{Addr: vip.As4(), Dport: PortOf(80), Proto: protoTCP},
		SvcValue{Count: 1, RevNATIndex: 7})
	put(t, coll, MapServices, SvcKey{Addr: vip.As4(), Dport: PortOf(80), Proto: protoTCP, Slot: 1},
		SvcValue{BackendID: 42})
	put(t, coll, MapBackends, BackendKey{ID: 42}, BackendValue{Addr: backend.As4(), Port: PortOf(8080), Proto: protoTCP})
	put(t, coll, MapRevNAT, RevNATKey{Index: 7}, RevNATValue{Addr: vip.As4(), Port: PortOf(80)})

	frame := ipv4TCP(podANode, podAMAC, podA, vip, 64, nil, tcpSeg{40000, 80, 0x02}, []byte("GET /"))
	before := monotonicNow(t)
	ret, out := run(t, coll, ProgFromContainer, frame)
	after := monotonicNow(t)
	if ret != tcActOK {
		t.Fatalf("verdict %d, want TC_ACT_OK", ret)
	}
	p := parseIPv4L4(t, out)
	if p.dst != backend || p.dport != 8080 || p.src != podA || p.sport != 40000 {
		t.Errorf("DNAT: got %v:%d > %v:%d, want %v:40000 > %v:8080", p.src, p.sport, p.dst, p.dport, podA, backend)
	}
	if !p.ipOK || !p.l4OK {
		t.Errorf("checksums after DNAT: ip ok %v, tcp ok %v", p.ipOK, p.l4OK)
	}

	svcTuple := Tuple4{Saddr: podA.As4(), Daddr: backend.As4(), Sport: PortOf(40000), Dport: PortOf(8080),
		Proto: protoTCP, Scope: CTService}
	var ct CTEntry
	if err := coll.Maps[MapConntrack].Lookup(svcTuple, &ct); err != nil {
		t.Fatalf("service conntrack entry: %v", err)
	}
	if ct.RevNATIndex != 7 || ct.Created < before || ct.Created > after {
		t.Errorf("service conntrack entry %+v, want rev-NAT index 7 and a creation time in [%d, %d]", ct, before, after)
	}
	egress := svcTuple
	egress.Scope = CTEgress
	if err := coll.Maps[MapConntrack].Lookup(egress, &ct); err != nil {
		t.Errorf("egress conntrack entry: %v", err)
	}

	// The reply reaches the client with the service as its source.
	reply := ipv4TCP(podANode, podBMAC, backend, podA, 62, nil, tcpSeg{8080, 40000, 0x12}, nil)
	ret, out = run(t, coll, ProgToContainer, reply)
	if ret != tcActOK {
		t.Fatalf("reply: verdict %d, want TC_ACT_OK", ret)
	}
	p = parseIPv4L4(t, out)
	if p.src != vip || p.sport != 80 || !p.ipOK || !p.l4OK {
		t.Errorf("reverse NAT: got %v:%d (ip ok %v, tcp ok %v), want %v:80", p.src, p.sport, p.ipOK, p.l4OK, vip)
	}
}
