package bpf

import (
	"fmt"
	"net/netip"
	"os"
	"testing"

	"github.com/cilium/ebpf"
)

// e2eTopology6 is e2eTopology for IPv6: pods fd00::1 and fd00::2 (a /128
// on eth0, default route via fe80::1, the host-side veth's link-local
// address), routed by the node namespace, which forwards IPv6. Neighbour
// discovery runs for real, through the lxc programs, in both directions.
func e2eTopology6(t *testing.T, coll *ebpf.Collection) [2]e2ePod {
	t.Helper()
	if _, err := os.Stat("/proc/sys/net/ipv6"); err != nil {
		t.Skip("SKIPPED: the kernel has no IPv6")
	}
	node := newNodeNS(t, map[string]string{"ipv6/conf/all/forwarding": "1"})
	var pods [2]e2ePod
	for i := range pods {
		lxc := fmt.Sprintf("lxc%d", i+1)
		pod := e2ePod{ns: newNSThread(t, "pod"), addr: netip.MustParseAddr(fmt.Sprintf("fd00::%d", i+1))}
		pods[i] = pod
		err := node.IP(fmt.Sprintf("link add %s type veth peer name eth0 netns %d", lxc, pod.ns.TID),
			"link set "+lxc+" up", "-6 addr add fe80::1/64 dev "+lxc+" nodad",
			"-6 route add "+pod.addr.String()+"/128 dev "+lxc)
		if err != nil {
			t.Fatal(err)
		}
		lxcIndex, lxcMAC, err := node.Link(lxc)
		if err != nil {
			t.Fatal(err)
		}
		err = pod.ns.IP("link set lo up", "link set eth0 up",
			"-6 addr add "+pod.addr.String()+"/128 dev eth0 nodad",
			"-6 route add default via fe80::1 dev eth0")
		if err != nil {
			t.Fatal(err)
		}
		_, podMAC, err := pod.ns.Link("eth0")
		if err != nil {
			t.Fatal(err)
		}
		put(t, coll, MapEndpoints6, Endpoint6Key{Addr: pod.addr.As16()},
			EndpointInfo{Ifindex: uint32(lxcIndex), MAC: [6]byte(podMAC), NodeMAC: [6]byte(lxcMAC), EpID: uint16(i + 1), SecID: uint32(1001 + i)})
		attachTCX(t, node, coll, lxcIndex, ProgFromContainer, ProgToContainer)
	}
	return pods
}

// TestE2EIPv6Policy: real IPv6 between two pods on one node. Pod 2
// enforces ingress and allows pod 1's identity on UDP/9000 only: the echo
// on 9000 comes back (request allowed, reply tracked), the one on 9001
// never arrives (DROP_POLICY_DENIED at pod 2's cil_to_container). Both
// need neighbour discovery to pass the programs first.
func TestE2EIPv6Policy(t *testing.T) {
	coll := newCollection(t, variantByName(t, "ipv4-ipv6"), nil)
	pods := e2eTopology6(t, coll)
	var b EndpointInfo
	if err := coll.Maps[MapEndpoints6].Lookup(Endpoint6Key{Addr: pods[1].addr.As16()}, &b); err != nil {
		t.Fatal(err)
	}
	b.Flags |= EndpointEnforceIngress
	put(t, coll, MapEndpoints6, Endpoint6Key{Addr: pods[1].addr.As16()}, b)
	put(t, coll, MapPolicy, PolicyKey{SubjectID: 1002, RemoteID: 1001, Dport: PortOf(9000), Proto: protoUDP, Dir: PolicyIngress}, PolicyEntry{})
	udpEcho(t, pods[1], 9000)
	udpEcho(t, pods[1], 9001)

	if err := udpExchange(t, pods[0], netip.AddrPortFrom(pods[1].addr, 9000)); err != nil {
		t.Fatalf("allowed port: %v", err)
	}
	if err := udpExchange(t, pods[0], netip.AddrPortFrom(pods[1].addr, 9001)); err == nil {
		t.Fatal("port without a policy entry: the echo came back")
	}
	if n := metric(t, coll, DropPolicyDenied, DirIngress, HookToContainer); n < 1 {
		t.Errorf("DROP_POLICY_DENIED on cil_to_container = %d, want at least 1", n)
	}
	if n := metric(t, coll, ReasonPassIPv6, DirEgress, HookFromContainer); n < 1 {
		t.Errorf("no neighbour discovery left a pod through cil_from_container (PASS_IPV6 = %d)", n)
	}
	if n := metric(t, coll, ReasonForwarded, DirIngress, HookToContainer); n < 2 {
		t.Errorf("cil_to_container passed %d policed packets, want at least 2 (request and reply)", n)
	}
	// The client's port is ephemeral: look for the entry by the rest.
	var (
		key   Tuple6
		ct    CTEntry
		found bool
	)
	for it := coll.Maps[MapConntrack6].Iterate(); !found && it.Next(&key, &ct); {
		found = key.Saddr == pods[0].addr.As16() && key.Daddr == pods[1].addr.As16() &&
			key.Dport == PortOf(9000) && key.Proto == protoUDP && key.Scope == CTIngress && ct.SrcSecID == 1001
	}
	if !found {
		t.Error("dp_conntrack6 has no ingress entry for the allowed flow with source identity 1001")
	}
}
