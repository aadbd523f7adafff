package bpf

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/ringbuf"
)

var (
	nodeIP   = netip.MustParseAddr("192.168.1.15")
	nodeMAC  = [6]byte{0x02, 0xaa, 0, 0, 0, 0x15}
	client   = netip.MustParseAddr("203.0.113.9")
	outside  = netip.MustParseAddr("8.8.8.8")
	nodeVars = map[string]any{
		VarNodeIPv4:        nodeIP.As4(),
		VarNodeMAC:         nodeMAC,
		VarNativeIfindex:   uint32(0),
		VarEncapIfindex:    uint32(5),
		VarSNATExclIPv4:    netip.MustParseAddr("10.0.0.0").As4(),
		VarSNATExclIPv4Len: uint32(8),
	}
)

func inRange(port, lo, hi uint16) bool { return port >= lo && port <= hi }

// snatPortMin and snatPortMax are the defaults of cfg_snat_port_min and
// cfg_snat_port_max, which nodeVars leaves alone.
const snatPortMin, snatPortMax = 32768, 65535

// TestSmokeDSR follows a NodePort connection in DSR mode: the LB node
// DNATs and adds the option on the SYN only, the backend node records the
// frontend, and the backend's reply leaves with the frontend as source.
func TestSmokeDSR(t *testing.T) {
	backend := netip.MustParseAddr("10.0.2.7")
	lb := newCollection(t, variantByName(t, "dsr-hybrid"), nodeVars)
	put(t, lb, MapServices, SvcKey{Dport: PortOf(30080), Proto: protoTCP},
		SvcValue{Count: 1, RevNATIndex: 3, Flags: ServiceNodePort | ServiceDSR})
	put(t, lb, MapServices, SvcKey{Dport: PortOf(30080), Proto: protoTCP, Slot: 1}, SvcValue{BackendID: 9})
	put(t, lb, MapBackends, BackendKey{ID: 9}, BackendValue{Addr: backend.As4(), Port: PortOf(8080), Proto: protoTCP})

	syn := ipv4TCP(nodeMAC, podAMAC, client, nodeIP, 60, nil, tcpSeg{5555, 30080, 0x02}, nil)
	ret, synOut := run(t, lb, ProgFromNetdev, syn)
	if ret != tcActOK {
		t.Fatalf("LB: verdict %d, want TC_ACT_OK", ret)
	}
	p := parseIPv4L4(t, synOut)
	n := nodeIP.As4()
	wantOpt := []byte{IPv4DSROptType, 8, 0x75, 0x80, n[0], n[1], n[2], n[3]}
	if p.src != client || p.dst != backend || p.dport != 8080 || !bytes.Equal(p.opts, wantOpt) {
		t.Errorf("LB: %v:%d > %v:%d opts %x, want %v:5555 > %v:8080 opts %x",
			p.src, p.sport, p.dst, p.dport, p.opts, client, backend, wantOpt)
	}
	if !p.ipOK || !p.l4OK || p.tot != len(syn)-14+8 {
		t.Errorf("LB: ip ok %v, tcp ok %v, tot_len %d", p.ipOK, p.l4OK, p.tot)
	}
	ack := ipv4TCP(nodeMAC, podAMAC, client, nodeIP, 60, nil, tcpSeg{5555, 30080, 0x10}, nil)
	if _, out := run(t, lb, ProgFromNetdev, ack); len(parseIPv4L4(t, out).opts) != 0 {
		t.Error("LB: option added to a non-SYN segment")
	}

	// The backend node, where the pod is local, with an address of its own:
	// the reply's source (the frontend) is then not this node's, and the
	// stack routes it.
	bn := newCollection(t, variantByName(t, "dsr-hybrid"), withVars(nodeVars, VarNodeIPv4, netip.MustParseAddr("192.168.1.16").As4()))
	put(t, bn, MapEndpoints, EndpointKey{Addr: backend.As4()},
		EndpointInfo{Ifindex: 13, MAC: podBMAC, NodeMAC: podBNode, EpID: 3, SecID: 1003})
	if ret, _ := run(t, bn, ProgToContainer, synOut); ret != tcActOK {
		t.Fatalf("backend ingress: verdict %d, want TC_ACT_OK", ret)
	}
	var ct CTEntry
	key := Tuple4{Saddr: client.As4(), Daddr: backend.As4(), Sport: PortOf(5555), Dport: PortOf(8080), Proto: protoTCP, Scope: CTService}
	if err := bn.Maps[MapConntrack].Lookup(key, &ct); err != nil {
		t.Fatalf("backend: no DSR conntrack entry: %v", err)
	}
	if ct.Flags&CTFlagDSR == 0 || ct.DSRAddr != nodeIP.As4() || ct.DSRPort.Host() != 30080 {
		t.Errorf("backend: DSR entry %+v", ct)
	}

	reply := ipv4TCP(podBNode, podBMAC, backend, client, 64, nil, tcpSeg{8080, 5555, 0x12}, nil)
	ret, out := run(t, bn, ProgFromContainer, reply)
	if ret != tcActOK {
		t.Fatalf("backend reply: verdict %d, want TC_ACT_OK", ret)
	}
	if p := parseIPv4L4(t, out); p.src != nodeIP || p.sport != 30080 || p.dst != client || !p.ipOK || !p.l4OK {
		t.Errorf("backend reply: %v:%d > %v:%d (ip ok %v, tcp ok %v), want %v:30080 > %v:5555",
			p.src, p.sport, p.dst, p.dport, p.ipOK, p.l4OK, nodeIP, client)
	}
}

// TestSmokeNodePortSNAT: hybrid mode keeps UDP on SNAT; the reply comes
// back to the node and is translated twice (SNAT, then service).
func TestSmokeNodePortSNAT(t *testing.T) {
	coll := newCollection(t, variantByName(t, "dsr-hybrid"), nodeVars)
	backend := netip.MustParseAddr("10.0.2.8")
	put(t, coll, MapServices, SvcKey{Dport: PortOf(30053), Proto: protoUDP},
		SvcValue{Count: 1, RevNATIndex: 4, Flags: ServiceNodePort | ServiceDSR})
	put(t, coll, MapServices, SvcKey{Dport: PortOf(30053), Proto: protoUDP, Slot: 1}, SvcValue{BackendID: 10})
	put(t, coll, MapBackends, BackendKey{ID: 10}, BackendValue{Addr: backend.As4(), Port: PortOf(53), Proto: protoUDP})
	put(t, coll, MapRevNAT, RevNATKey{Index: 4}, RevNATValue{Port: PortOf(30053)})

	// The translated packets carry the node's address as source, so the
	// datapath forwards them by FIB lookup: in a namespace of the test's
	// own with routes to the backend's and the client's networks.
	backendMAC, clientMAC := [6]byte{0x02, 0, 0, 0, 0x52, 0x02}, [6]byte{0x02, 0, 0, 0, 0x53, 0x02}
	inRoutedNetns(t, []string{
		"link set lo up",
		"link add dp0 address 02:00:00:00:52:01 type veth peer name dp1",
		"addr add 10.0.2.1/24 dev dp0",
		"addr add 203.0.113.1/24 dev dp0",
		"link set dp1 up",
		"link set dp0 up",
		"neigh add 10.0.2.8 lladdr 02:00:00:00:52:02 dev dp0 nud permanent",
		"neigh add 203.0.113.9 lladdr 02:00:00:00:53:02 dev dp0 nud permanent",
	}, func() {
		ret, out := run(t, coll, ProgFromNetdev, ipv4UDP(nodeMAC, podAMAC, client, nodeIP, 7777, 30053, []byte("q")))
		p := parseIPv4L4(t, out)
		if ret != tcActRedirect || p.dmac != backendMAC {
			t.Errorf("request: verdict %d to %x, want TC_ACT_REDIRECT to the backend's neighbour %x", ret, p.dmac, backendMAC)
			return
		}
		if p.src != nodeIP || !inRange(p.sport, snatPortMin, snatPortMax) || p.dst != backend || p.dport != 53 || len(p.opts) != 0 {
			t.Errorf("request: %v:%d > %v:%d opts %x, want %v:<snat port> > %v:53", p.src, p.sport, p.dst, p.dport, p.opts, nodeIP, backend)
			return
		}
		if !p.ipOK || !p.l4OK {
			t.Errorf("request checksums: ip %v udp %v", p.ipOK, p.l4OK)
		}

		reply := ipv4UDP(nodeMAC, podAMAC, backend, nodeIP, 53, p.sport, []byte("a"))
		ret, out = run(t, coll, ProgFromNetdev, reply)
		r := parseIPv4L4(t, out)
		if ret != tcActRedirect || r.dmac != clientMAC {
			t.Errorf("reply: verdict %d to %x, want TC_ACT_REDIRECT to the client's neighbour %x", ret, r.dmac, clientMAC)
		}
		if r.src != nodeIP || r.sport != 30053 || r.dst != client || r.dport != 7777 || !r.ipOK || !r.l4OK {
			t.Errorf("reply: %v:%d > %v:%d (ip %v udp %v), want %v:30053 > %v:7777", r.src, r.sport, r.dst, r.dport, r.ipOK, r.l4OK, nodeIP, client)
		}

		// The service entry lives 60 s after its last packet (UDP lifetime);
		// last_seen is set against CLOCK_MONOTONIC, so this holds at any uptime.
		svc := Tuple4{Saddr: client.As4(), Daddr: backend.As4(), Sport: PortOf(7777), Dport: PortOf(53), Proto: protoUDP, Scope: CTService}
		var ct CTEntry
		if err := coll.Maps[MapConntrack].Lookup(svc, &ct); err != nil {
			t.Errorf("service conntrack entry: %v", err)
			return
		}
		ct.LastSeen = monotonicNow(t) - uint64(30*time.Second)
		put(t, coll, MapConntrack, svc, ct)
		if r := parseIPv4L4(t, runOut(t, coll, ProgFromNetdev, reply)); r.src != nodeIP || r.dst != client {
			t.Errorf("reply 30 s after the last packet: %v > %v, want %v > %v", r.src, r.dst, nodeIP, client)
		}
		ct.LastSeen = monotonicNow(t) - uint64(61*time.Second)
		put(t, coll, MapConntrack, svc, ct)
		if r := parseIPv4L4(t, runOut(t, coll, ProgFromNetdev, reply)); r.src != backend || r.dst != client {
			t.Errorf("reply 61 s after the last packet: %v > %v, want the untranslated source %v", r.src, r.dst, backend)
		}
	})
}

func runOut(t *testing.T, coll *ebpf.Collection, prog string, frame []byte) []byte {
	t.Helper()
	_, out := run(t, coll, prog, frame)
	return out
}

func TestSmokeMasquerade(t *testing.T) {
	coll := newCollection(t, variantByName(t, "dsr-hybrid"), nodeVars)
	addEndpoints(t, coll)

	ret, out := run(t, coll, ProgToNetdev, ipv4TCP(nodeMAC, podANode, podA, outside, 63, nil, tcpSeg{41000, 443, 0x02}, nil))
	if ret != tcActOK {
		t.Fatalf("egress: verdict %d", ret)
	}
	p := parseIPv4L4(t, out)
	if p.src != nodeIP || !inRange(p.sport, snatPortMin, snatPortMax) || !p.ipOK || !p.l4OK {
		t.Fatalf("egress: source %v:%d (ip %v tcp %v), want %v:<snat port>", p.src, p.sport, p.ipOK, p.l4OK, nodeIP)
	}
	// The same flow keeps its port.
	_, again := run(t, coll, ProgToNetdev, ipv4TCP(nodeMAC, podANode, podA, outside, 63, nil, tcpSeg{41000, 443, 0x10}, nil))
	if q := parseIPv4L4(t, again); q.sport != p.sport {
		t.Errorf("second packet got port %d, first %d", q.sport, p.sport)
	}

	// Translated back to the pod, which the datapath delivers (its lxc device).
	ret, out = run(t, coll, ProgFromNetdev, ipv4TCP(nodeMAC, podAMAC, outside, nodeIP, 50, nil, tcpSeg{443, p.sport, 0x12}, nil))
	if ret != tcActRedirect {
		t.Fatalf("reply: verdict %d, want TC_ACT_REDIRECT", ret)
	}
	r := parseIPv4L4(t, out)
	if r.dst != podA || r.dport != 41000 || r.ttl != 49 || r.dmac != podAMAC || !r.ipOK || !r.l4OK {
		t.Errorf("reply: > %v:%d ttl %d dmac %x (ip %v tcp %v), want > %v:41000 ttl 49", r.dst, r.dport, r.ttl, r.dmac, r.ipOK, r.l4OK, podA)
	}

	// Inside the native-routing CIDR: no masquerading.
	_, out = run(t, coll, ProgToNetdev, ipv4TCP(nodeMAC, podANode, podA, netip.MustParseAddr("10.1.2.3"), 63, nil, tcpSeg{41001, 80, 0x02}, nil))
	if q := parseIPv4L4(t, out); q.src != podA || q.sport != 41001 {
		t.Errorf("excluded destination was masqueraded: %v:%d", q.src, q.sport)
	}
}

func TestSmokeTunnel(t *testing.T) {
	coll := newCollection(t, variantByName(t, "tunnel-vxlan"), nodeVars)
	addEndpoints(t, coll)
	put(t, coll, MapIPCache, LPM4Key{Prefixlen: 24, Addr: netip.MustParseAddr("10.0.5.0").As4()},
		RemoteEndpointInfo{SecID: 2000, TunnelEP: netip.MustParseAddr("192.168.1.20").As4()})
	ret, _ := run(t, coll, ProgFromContainer, ipv4TCP(podANode, podAMAC, podA, netip.MustParseAddr("10.0.5.9"), 64, nil, tcpSeg{40000, 80, 0x02}, nil))
	if ret != tcActRedirect {
		t.Errorf("to remote pod: verdict %d, want TC_ACT_REDIRECT to the encap device", ret)
	}
	// Without tunnel metadata a frame cannot have come from the overlay.
	ret, _ = run(t, coll, ProgFromOverlay, ipv4TCP(podANode, podAMAC, netip.MustParseAddr("10.0.5.9"), podA, 64, nil, tcpSeg{80, 40000, 0x12}, nil))
	if ret != tcActShot || metric(t, coll, DropNoTunnelKey, DirIngress, HookFromOverlay) != 1 {
		t.Errorf("overlay without tunnel key: verdict %d, want TC_ACT_SHOT counted as DROP_NO_TUNNEL_KEY", ret)
	}
	// VXLAN for this node passes cil_from_netdev untouched.
	ret, _ = run(t, coll, ProgFromNetdev, ipv4UDP(nodeMAC, podAMAC, netip.MustParseAddr("192.168.1.20"), nodeIP, 33333, 8472, make([]byte, 50)))
	if ret != tcActOK || metric(t, coll, ReasonPassTunnel, DirIngress, HookFromNetdev) != 1 {
		t.Errorf("vxlan: verdict %d, want TC_ACT_OK counted as PASS_TUNNEL", ret)
	}
}

func TestSmokeHostFirewall(t *testing.T) {
	coll := newCollection(t, variantByName(t, "all-legacy"), nodeVars)
	put(t, coll, MapEndpoints, EndpointKey{Addr: nodeIP.As4()},
		EndpointInfo{Flags: EndpointHost | EndpointEnforceIngress, SecID: IdentityHost})
	ssh := ipv4TCP(nodeMAC, podAMAC, client, nodeIP, 60, nil, tcpSeg{50000, 22, 0x02}, nil)
	if ret, _ := run(t, coll, ProgFromNetdev, ssh); ret != tcActShot {
		t.Errorf("no host policy: verdict %d, want TC_ACT_SHOT", ret)
	}
	if n := metric(t, coll, DropHostFW, DirIngress, HookFromNetdev); n != 1 {
		t.Errorf("DROP_HOST_FW = %d, want 1", n)
	}
	put(t, coll, MapPolicy, PolicyKey{SubjectID: IdentityHost, Dport: PortOf(22), Proto: protoTCP, Dir: PolicyIngress}, PolicyEntry{})
	if ret, _ := run(t, coll, ProgFromNetdev, ssh); ret != tcActOK {
		t.Errorf("allowed: verdict %d, want TC_ACT_OK", ret)
	}
	if n := metric(t, coll, ReasonPassHost, DirIngress, HookFromNetdev); n != 1 {
		t.Errorf("PASS_HOST = %d, want 1", n)
	}

	// The node's own new connections need an egress allow...
	put(t, coll, MapEndpoints, EndpointKey{Addr: nodeIP.As4()},
		EndpointInfo{Flags: EndpointHost | EndpointEnforceIngress | EndpointEnforceEgress, SecID: IdentityHost})
	dns := ipv4UDP(podAMAC, nodeMAC, nodeIP, outside, 40053, 53, []byte("q"))
	if ret, _ := run(t, coll, ProgToNetdev, dns); ret != tcActShot {
		t.Errorf("host egress without policy: verdict %d, want TC_ACT_SHOT", ret)
	}
	// ...but service replies of a local NodePort backend are not host
	// traffic. They carry the node's address as source, so legacy routing
	// forwards them by FIB lookup (the stack would drop them as martians):
	// in a namespace of the test's own, with a route to the client.
	backend := podB
	addEndpoints(t, coll)
	put(t, coll, MapServices, SvcKey{Dport: PortOf(30080), Proto: protoTCP}, SvcValue{Count: 1, RevNATIndex: 3, Flags: ServiceNodePort})
	put(t, coll, MapServices, SvcKey{Dport: PortOf(30080), Proto: protoTCP, Slot: 1}, SvcValue{BackendID: 9})
	put(t, coll, MapBackends, BackendKey{ID: 9}, BackendValue{Addr: backend.As4(), Port: PortOf(8080), Proto: protoTCP})
	put(t, coll, MapRevNAT, RevNATKey{Index: 3}, RevNATValue{Port: PortOf(30080)})
	clientMAC := [6]byte{0x02, 0, 0, 0, 0x51, 0x02}
	inRoutedNetns(t, []string{
		"link set lo up",
		"link add dp0 address 02:00:00:00:51:01 type veth peer name dp1",
		"addr add 203.0.113.1/24 dev dp0",
		"link set dp1 up",
		"link set dp0 up",
		"neigh add 203.0.113.9 lladdr 02:00:00:00:51:02 dev dp0 nud permanent",
	}, func() {
		if ret, _ := run(t, coll, ProgFromNetdev, ipv4TCP(nodeMAC, podAMAC, client, nodeIP, 60, nil, tcpSeg{6000, 30080, 0x02}, nil)); ret != tcActRedirect {
			t.Errorf("NodePort request: verdict %d, want TC_ACT_REDIRECT into the backend's lxc device", ret)
			return
		}
		ret, out := run(t, coll, ProgFromContainer, ipv4TCP(podBNode, podBMAC, backend, client, 64, nil, tcpSeg{8080, 6000, 0x12}, nil))
		p := parseIPv4L4(t, out)
		if ret != tcActRedirect || p.src != nodeIP || p.sport != 30080 || p.dmac != clientMAC || p.ttl != 63 || !p.ipOK || !p.l4OK {
			t.Errorf("NodePort reply: verdict %d, %v:%d to %x ttl %d, want TC_ACT_REDIRECT from %v:30080 to %x (the FIB's neighbour), ttl 63",
				ret, p.src, p.sport, p.dmac, p.ttl, nodeIP, clientMAC)
		}
		if ret, _ := run(t, coll, ProgToNetdev, out); ret != tcActOK {
			t.Errorf("NodePort reply leaving the node: verdict %d, want TC_ACT_OK", ret)
		}
	})
}

// skbContext is struct __sk_buff (192 bytes since 5.16) with only
// tstamp named, for Context/ContextOut.
type skbContext struct {
	_      [152]byte
	Tstamp uint64
	_      [32]byte
}

func TestSmokeBandwidth(t *testing.T) {
	coll := newCollection(t, variantByName(t, "all-legacy"), nodeVars)
	addEndpoints(t, coll)
	frame := ipv4TCP(nodeMAC, podANode, podA, netip.MustParseAddr("10.9.9.9"), 63, nil, tcpSeg{41000, 80, 0x10}, make([]byte, 1000))
	runCtx := func() (uint32, uint64) {
		var out skbContext
		opts := ebpf.RunOptions{Data: frame, DataOut: make([]byte, len(frame)+64), Context: skbContext{}, ContextOut: &out}
		ret, err := coll.Programs[ProgToNetdev].Run(&opts)
		if err != nil {
			t.Fatal(err)
		}
		return ret, out.Tstamp
	}

	// Every schedule is set against CLOCK_MONOTONIC (the clock of
	// bpf_ktime_get_ns) and leaves 28 s of slack for a slow machine.
	const rate = 1_000_000 // 1 Mbit/s
	gap := uint64(len(frame)) * 8 * uint64(time.Second) / rate
	throttle := func(v ThrottleValue) {
		put(t, coll, MapThrottle, ThrottleKey{EpID: 1}, v)
	}
	tLast := func() uint64 {
		var v ThrottleValue
		if err := coll.Maps[MapThrottle].Lookup(ThrottleKey{EpID: 1}, &v); err != nil {
			t.Fatal(err)
		}
		return v.TLast
	}

	// Under the rate: the last departure is one gap ago, so this one leaves
	// at once and the schedule restarts from now.
	now := monotonicNow(t)
	throttle(ThrottleValue{RateBps: rate, TLast: now - gap})
	if ret, ts := runCtx(); ret != tcActOK || ts != 0 {
		t.Errorf("under the rate: verdict %d tstamp %d, want TC_ACT_OK and no departure time", ret, ts)
	}
	if got := tLast(); got < now {
		t.Errorf("under the rate: t_last %d, want at least %d (now)", got, now)
	}

	// Paced: the schedule runs 30 s ahead (within a 60 s horizon), so each
	// packet leaves exactly one gap after the previous one.
	ahead := now + uint64(30*time.Second)
	throttle(ThrottleValue{RateBps: rate, TLast: ahead, HorizonNs: uint64(60 * time.Second)})
	for i := uint64(1); i <= 2; i++ {
		if ret, ts := runCtx(); ret != tcActOK || ts != ahead+i*gap {
			t.Errorf("paced packet %d: verdict %d tstamp %d, want TC_ACT_OK and %d", i, ret, ts, ahead+i*gap)
		}
	}

	// The same schedule beyond the default 2 s horizon is dropped.
	throttle(ThrottleValue{RateBps: rate, TLast: ahead})
	if ret, _ := runCtx(); ret != tcActShot || metric(t, coll, DropBWHorizon, DirEgress, HookToNetdev) != 1 {
		t.Errorf("beyond horizon: verdict %d, want TC_ACT_SHOT counted as DROP_BW_HORIZON", ret)
	}
	if got := tLast(); got != ahead {
		t.Errorf("a dropped packet moved t_last to %d, want %d", got, ahead)
	}
}

func TestSmokeMalformed(t *testing.T) {
	coll := newCollection(t, variantByName(t, "minimal"), nil)
	addEndpoints(t, coll)
	good := func() []byte {
		return ipv4TCP(podANode, podAMAC, podA, podB, 64, nil, tcpSeg{40000, 80, 0x02}, nil)
	}
	cases := []struct {
		name   string
		mangle func([]byte) []byte
		want   Reason
	}{
		{"ihl below 5", func(f []byte) []byte { f[14] = 0x44; return f }, DropInvalidIHL},
		{"version 6 in an IPv4 frame", func(f []byte) []byte { f[14] = 0x65; return f }, DropInvalidVersion},
		{"tot_len beyond frame", func(f []byte) []byte { binary.BigEndian.PutUint16(f[16:], 1500); return f }, DropInvalid},
		{"tot_len below header", func(f []byte) []byte { binary.BigEndian.PutUint16(f[16:], 10); return f }, DropInvalid},
		{"ihl beyond tot_len", func(f []byte) []byte { f[14] = 0x4f; return f }, DropInvalid},
		{"fragment whose first was not seen", func(f []byte) []byte { binary.BigEndian.PutUint16(f[20:], 10); return f }, DropFragNotFound},
		{"unknown L4", func(f []byte) []byte { f[23] = 47; return f }, DropUnknownL4},
		{"pod spoofing its source", func(f []byte) []byte { f[26] = 99; return f }, DropInvalidSource},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := metric(t, coll, c.want, DirEgress, HookFromContainer)
			ret, _ := run(t, coll, ProgFromContainer, c.mangle(good()))
			if ret != tcActShot {
				t.Errorf("verdict %d, want TC_ACT_SHOT", ret)
			}
			if after := metric(t, coll, c.want, DirEgress, HookFromContainer); after != before+1 {
				t.Errorf("%s counter went %d -> %d", c.want, before, after)
			}
		})
	}

	// Options are skipped by IHL and kept.
	opts := []byte{1, 1, 1, 0} // NOP, NOP, NOP, EOL
	ret, out := run(t, coll, ProgFromContainer, ipv4TCP(podANode, podAMAC, podA, podB, 64, opts, tcpSeg{40000, 81, 0x02}, nil))
	if p := parseIPv4L4(t, out); ret != tcActRedirect || !bytes.Equal(p.opts, opts) || p.dport != 81 || !p.ipOK || p.ttl != 63 {
		t.Errorf("with options: verdict %d, %+v", ret, p)
	}
}

func TestSmokeRingbufEvent(t *testing.T) {
	coll := newCollection(t, variantByName(t, "minimal-ringbuf"), nil)
	rd, err := ringbuf.NewReader(coll.Maps[MapEvents])
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()

	frame := ipv4TCP(podANode, podAMAC, podA, podB, 64, nil, tcpSeg{40000, 80, 0x02}, nil)
	before := monotonicNow(t)
	if ret, _ := run(t, coll, ProgFromContainer, frame[:14+20+4]); ret != tcActShot {
		t.Fatalf("verdict %d, want TC_ACT_SHOT", ret)
	}
	rd.SetDeadline(time.Now().Add(time.Second))
	rec, err := rd.Read()
	if errors.Is(err, ringbuf.ErrFlushed) || err != nil {
		t.Fatalf("reading event: %v", err)
	}
	if len(rec.RawSample) != binary.Size(DropEvent{}) {
		t.Fatalf("event is %d bytes, DropEvent %d", len(rec.RawSample), binary.Size(DropEvent{}))
	}
	var ev DropEvent
	if err := ev.UnmarshalBinary(rec.RawSample); err != nil {
		t.Fatal(err)
	}
	// The IPv4 header was complete, so the event carries its addresses.
	if ev.Reason != DropInvalid || ev.Hook != HookFromContainer || ev.Dir != DirEgress || ev.Len != 38 || ev.Ts < before || ev.Ts > monotonicNow(t) ||
		ev.Saddr != podA.As4() || ev.Daddr != podB.As4() || ev.Proto != protoTCP {
		t.Errorf("event %+v", ev)
	}
}

func TestSmokeEgressGatewayVTEPMasqAgent(t *testing.T) {
	coll := newCollection(t, variantByName(t, "all-legacy"), nodeVars)
	addEndpoints(t, coll)
	egressIP := netip.MustParseAddr("192.168.1.200")
	remoteGW := netip.MustParseAddr("192.168.1.30")
	// Pod A to 1.1.1.0/24 leaves through this node; to 9.9.9.0/24 through another.
	put(t, coll, MapEgressGW, EgressGWKey{Prefixlen: 32 + 24, Saddr: podA.As4(), Daddr: netip.MustParseAddr("1.1.1.0").As4()},
		EgressGWValue{EgressIP: egressIP.As4(), GatewayIP: nodeIP.As4()})
	put(t, coll, MapEgressGW, EgressGWKey{Prefixlen: 32 + 24, Saddr: podA.As4(), Daddr: netip.MustParseAddr("9.9.9.0").As4()},
		EgressGWValue{EgressIP: netip.MustParseAddr("192.168.1.201").As4(), GatewayIP: remoteGW.As4()})

	ret, _ := run(t, coll, ProgFromContainer, ipv4TCP(podANode, podAMAC, podA, netip.MustParseAddr("9.9.9.9"), 64, nil, tcpSeg{42000, 443, 0x02}, nil))
	if ret != tcActRedirect {
		t.Errorf("remote gateway: verdict %d, want TC_ACT_REDIRECT into the tunnel", ret)
	}
	ret, out := run(t, coll, ProgToNetdev, ipv4TCP(nodeMAC, podANode, podA, netip.MustParseAddr("1.1.1.1"), 63, nil, tcpSeg{42001, 443, 0x02}, nil))
	if p := parseIPv4L4(t, out); ret != tcActOK || p.src != egressIP || !p.ipOK || !p.l4OK {
		t.Errorf("local gateway: verdict %d, source %v, want the egress IP %v", ret, p.src, egressIP)
	}

	// ip-masq-agent: 100.64.0.0/10 is reached without masquerading.
	put(t, coll, MapNonMasq, LPM4Key{Prefixlen: 10, Addr: netip.MustParseAddr("100.64.0.0").As4()}, NonMasqValue{Present: 1})
	_, out = run(t, coll, ProgToNetdev, ipv4TCP(nodeMAC, podANode, podA, netip.MustParseAddr("100.100.1.1"), 63, nil, tcpSeg{42002, 80, 0x02}, nil))
	if p := parseIPv4L4(t, out); p.src != podA {
		t.Errorf("non-masquerade CIDR: source %v, want the pod's", p.src)
	}
	_, out = run(t, coll, ProgToNetdev, ipv4TCP(nodeMAC, podANode, podA, netip.MustParseAddr("100.200.1.1"), 63, nil, tcpSeg{42003, 80, 0x02}, nil))
	if p := parseIPv4L4(t, out); p.src != nodeIP {
		t.Errorf("outside the non-masquerade CIDR: source %v, want %v", p.src, nodeIP)
	}

	// VTEP: cfg_vtep_mask defaults to /24.
	vtepMAC := [6]byte{0x02, 0xbb, 0, 0, 0, 1}
	put(t, coll, MapVTEP, VTEPKey{Addr: netip.MustParseAddr("172.16.5.0").As4()},
		VTEPValue{TunnelEP: netip.MustParseAddr("192.168.2.1").As4(), VNI: 2, MAC: vtepMAC})
	ret, out = run(t, coll, ProgFromContainer, ipv4TCP(podANode, podAMAC, podA, netip.MustParseAddr("172.16.5.77"), 64, nil, tcpSeg{42004, 80, 0x02}, nil))
	if p := parseIPv4L4(t, out); ret != tcActRedirect || p.dmac != vtepMAC || p.smac != nodeMAC {
		t.Errorf("VTEP: verdict %d, MACs %x > %x, want TC_ACT_REDIRECT with %x > %x", ret, p.smac, p.dmac, nodeMAC, vtepMAC)
	}
}

func TestSmokeICMPEchoMasquerade(t *testing.T) {
	coll := newCollection(t, variantByName(t, "dsr-hybrid"), nodeVars)
	addEndpoints(t, coll)
	echo := func(src, dst netip.Addr, typ uint8, id uint16) []byte {
		icmp := []byte{typ, 0, 0, 0, byte(id >> 8), byte(id), 0, 1, 'p', 'i', 'n', 'g'}
		binary.BigEndian.PutUint16(icmp[2:], csum(icmp, 0))
		ip := make([]byte, 20)
		ip[0] = 0x45
		binary.BigEndian.PutUint16(ip[2:], uint16(20+len(icmp)))
		ip[8], ip[9] = 63, 1
		s, d := src.As4(), dst.As4()
		copy(ip[12:], s[:])
		copy(ip[16:], d[:])
		binary.BigEndian.PutUint16(ip[10:], csum(ip, 0))
		return append(append(eth(nodeMAC, podANode, ethPIPv4), ip...), icmp...)
	}
	ret, out := run(t, coll, ProgToNetdev, echo(podA, outside, 8, 0x1234))
	if ret != tcActOK {
		t.Fatalf("echo request: verdict %d", ret)
	}
	newID := binary.BigEndian.Uint16(out[34+4:])
	if src := netip.AddrFrom4([4]byte(out[26:30])); src != nodeIP || csum(out[34:46], 0) != 0 || csum(out[14:34], 0) != 0 {
		t.Fatalf("echo request: source %v, icmp checksum ok %v", src, csum(out[34:46], 0) == 0)
	}
	ret, out = run(t, coll, ProgFromNetdev, echo(outside, nodeIP, 0, newID))
	if ret != tcActRedirect {
		t.Fatalf("echo reply: verdict %d, want TC_ACT_REDIRECT to the pod", ret)
	}
	if dst, id := netip.AddrFrom4([4]byte(out[30:34])), binary.BigEndian.Uint16(out[34+4:]); dst != podA || id != 0x1234 || csum(out[34:46], 0) != 0 {
		t.Errorf("echo reply: to %v id %#x (icmp checksum ok %v), want %v id 0x1234", dst, id, csum(out[34:46], 0) == 0, podA)
	}
}

func TestUnsupportedMacros(t *testing.T) {
	for _, m := range Macros {
		if !m.Unsupported {
			continue
		}
		out, err := syntaxCheck(t, variant{name: m.Name, macros: []string{"ENABLE_IPV4", m.Name}})
		if err == nil || !hasGuardError(out, m.Name) {
			t.Errorf("%s: want an #error naming it, got %v:\n%s", m.Name, err, out)
		}
	}
}

// TestSmokeDropEventRateLimit: drop events pass a token bucket; every drop
// is counted in the metrics whatever the bucket says. The bucket's refill
// time is set against CLOCK_MONOTONIC, so the outcome holds at any uptime.
func TestSmokeDropEventRateLimit(t *testing.T) {
	coll := newCollection(t, variantByName(t, "minimal-ringbuf"), map[string]any{VarEventsRate: uint32(1), VarEventsBurst: uint32(2)})
	rd, err := ringbuf.NewReader(coll.Maps[MapEvents])
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	events := func() int {
		n := 0
		for {
			rd.SetDeadline(time.Now().Add(200 * time.Millisecond))
			if _, err := rd.Read(); err != nil {
				return n
			}
			n++
		}
	}
	truncated := ipv4TCP(podANode, podAMAC, podA, podB, 64, nil, tcpSeg{40000, 80, 0x02}, nil)[:14+20+4]
	drop3 := func() {
		for i := 0; i < 3; i++ {
			if ret, _ := run(t, coll, ProgFromContainer, truncated); ret != tcActShot {
				t.Fatalf("verdict %d, want TC_ACT_SHOT", ret)
			}
		}
	}

	// Two tokens, and the last refill lies a minute ahead: no refill now.
	put(t, coll, MapEventRate, uint32(0), EventRate{LastTopup: monotonicNow(t) + uint64(time.Minute), Tokens: 2})
	drop3()
	if n := events(); n != 2 {
		t.Errorf("3 drops with 2 tokens: %d events, want 2", n)
	}
	// Five seconds since the last refill at 1 event/s: refilled up to the burst of 2.
	put(t, coll, MapEventRate, uint32(0), EventRate{LastTopup: monotonicNow(t) - uint64(5*time.Second)})
	drop3()
	if n := events(); n != 2 {
		t.Errorf("3 drops after a refill to the burst: %d events, want 2", n)
	}
	if n := metric(t, coll, DropInvalid, DirEgress, HookFromContainer); n != 6 {
		t.Errorf("DROP_INVALID counted %d, want all 6 drops", n)
	}
}
