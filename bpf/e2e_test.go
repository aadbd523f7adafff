package bpf

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"

	"github.com/dpforge/dpforge/bpf/netnstest"
)

// End-to-end: real sockets in pod network namespaces, the lxc programs
// attached with TCX on the host-side veths of a node namespace. Nothing
// outside the test's own namespaces is touched; they vanish with their
// threads.

// nsThread is a network namespace of the test's own.
type nsThread = netnstest.NS

func newNSThread(t *testing.T, name string) *nsThread { return netnstest.New(t, name) }

type e2ePod struct {
	ns   *nsThread
	addr netip.Addr
}

// e2eTopology builds a node namespace with two pods (10.0.0.1 and
// 10.0.0.2), Cilium-style: /32 on eth0, default route via a link-local
// gateway whose MAC is the host-side veth's; the node routes the /32s for
// the legacy path. It fills dp_endpoints and attaches the lxc programs.
func e2eTopology(t *testing.T, coll *ebpf.Collection) [2]e2ePod {
	t.Helper()
	_, pods := e2eNode(t, coll)
	return pods
}

// e2eNode is e2eTopology that also returns the node's namespace.
func e2eNode(t *testing.T, coll *ebpf.Collection) (*nsThread, [2]e2ePod) {
	t.Helper()
	node := newNodeNS(t, map[string]string{
		"ipv4/conf/all/forwarding": "1", "ipv4/conf/all/rp_filter": "0", "ipv4/conf/default/rp_filter": "0",
	})

	var pods [2]e2ePod
	for i := range pods {
		lxc := fmt.Sprintf("lxc%d", i+1)
		pod := e2ePod{ns: newNSThread(t, "pod"), addr: netip.AddrFrom4([4]byte{10, 0, 0, byte(i + 1)})}
		pods[i] = pod
		if err := node.IP(fmt.Sprintf("link add %s type veth peer name eth0 netns %d", lxc, pod.ns.TID), "link set "+lxc+" up"); err != nil {
			t.Fatal(err)
		}
		lxcIndex, lxcMAC, err := node.Link(lxc)
		if err != nil {
			t.Fatal(err)
		}
		err = pod.ns.IP("link set lo up", "link set eth0 up",
			"addr add "+pod.addr.String()+"/32 dev eth0",
			"route add 169.254.1.1 dev eth0 scope link",
			"route add default via 169.254.1.1 dev eth0",
			fmt.Sprintf("neigh add 169.254.1.1 lladdr %s dev eth0 nud permanent", lxcMAC))
		if err != nil {
			t.Fatal(err)
		}
		_, podMAC, err := pod.ns.Link("eth0")
		if err != nil {
			t.Fatal(err)
		}
		err = node.IP("route add "+pod.addr.String()+"/32 dev "+lxc,
			fmt.Sprintf("neigh add %s lladdr %s dev %s nud permanent", pod.addr, podMAC, lxc))
		if err != nil {
			t.Fatal(err)
		}
		put(t, coll, MapEndpoints, EndpointKey{Addr: pod.addr.As4()},
			EndpointInfo{Ifindex: uint32(lxcIndex), MAC: [6]byte(podMAC), NodeMAC: [6]byte(lxcMAC), EpID: uint16(i + 1), SecID: uint32(1001 + i)})

		attachTCX(t, node, coll, lxcIndex, ProgFromContainer, ProgToContainer)
	}
	return node, pods
}

// newNodeNS returns a node namespace with lo up and the given
// /proc/sys/net settings (path below /proc/sys/net -> value), which only
// ever apply inside it.
func newNodeNS(t *testing.T, sysctls map[string]string) *nsThread {
	t.Helper()
	requireRoot(t)
	if _, err := exec.LookPath("ip"); err != nil {
		t.Fatalf("ip(8) from iproute2 is needed to build the test's namespaces (make deps installs it): %v", err)
	}
	node := newNSThread(t, "node")
	if err := node.Do(func() error {
		for k, v := range sysctls {
			if err := os.WriteFile("/proc/sys/net/"+k, []byte(v), 0o644); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return node
}

// attachTCX attaches ingress and egress (a program name, or "" for none) to
// ifindex with TCX, from inside ns: TCX resolves the ifindex in the
// caller's namespace. The links close when the test ends.
func attachTCX(t *testing.T, ns *nsThread, coll *ebpf.Collection, ifindex int, ingress, egress string) {
	t.Helper()
	err := ns.Do(func() error {
		for _, a := range []struct {
			prog   string
			attach ebpf.AttachType
		}{{ingress, ebpf.AttachTCXIngress}, {egress, ebpf.AttachTCXEgress}} {
			if a.prog == "" {
				continue
			}
			l, err := link.AttachTCX(link.TCXOptions{Interface: ifindex, Program: coll.Programs[a.prog], Attach: a.attach})
			if err != nil {
				return fmt.Errorf("attaching %s to ifindex %d: %w", a.prog, ifindex, err)
			}
			t.Cleanup(func() { l.Close() })
		}
		return nil
	})
	if errors.Is(err, ebpf.ErrNotSupported) {
		t.Skipf("SKIPPED: TCX is not supported by this kernel: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
}

// udpEcho runs a UDP echo server in pod on port until the test ends.
func udpEcho(t *testing.T, pod e2ePod, port uint16) {
	t.Helper()
	var conn net.PacketConn
	err := pod.ns.Do(func() (err error) {
		conn, err = net.ListenPacket("udp", netip.AddrPortFrom(pod.addr, port).String())
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	go func() {
		buf := make([]byte, 1500)
		for {
			n, from, err := conn.ReadFrom(buf)
			if err != nil {
				return
			}
			conn.WriteTo(buf[:n], from)
		}
	}()
}

// udpExchange sends from pod to dst and waits for the echo, which a
// connected socket only accepts from dst itself.
func udpExchange(t *testing.T, pod e2ePod, dst netip.AddrPort) error {
	t.Helper()
	var conn *net.UDPConn
	err := pod.ns.Do(func() (err error) {
		conn, err = net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(dst))
		return err
	})
	if err != nil {
		return err
	}
	defer conn.Close()
	msg := []byte("dpforge says hi")
	buf := make([]byte, 1500)
	for try := 0; try < 3; try++ {
		if _, err := conn.Write(msg); err != nil {
			return err
		}
		conn.SetReadDeadline(time.Now().Add(time.Second))
		n, err := conn.Read(buf)
		if err == nil && bytes.Equal(buf[:n], msg) {
			return nil
		}
		if err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
			return err
		}
	}
	return fmt.Errorf("no echo from %v", dst)
}

func TestE2EPodToPod(t *testing.T) {
	// Legacy routing redirects to the destination's lxc device, whose
	// egress runs cil_to_container; host routing hands the packet straight
	// into the pod with bpf_redirect_peer.
	for _, name := range []string{"minimal", "host-routing"} {
		t.Run(name, func(t *testing.T) {
			coll := newCollection(t, variantByName(t, name), nil)
			pods := e2eTopology(t, coll)
			udpEcho(t, pods[1], 9000)
			if err := udpExchange(t, pods[0], netip.AddrPortFrom(pods[1].addr, 9000)); err != nil {
				t.Fatal(err)
			}
			if n := metric(t, coll, ReasonForwarded, DirEgress, HookFromContainer); n < 2 {
				t.Errorf("cil_from_container forwarded %d packets, want at least 2", n)
			}
			// bpf_redirect_peer skips the host-side veth's egress, so
			// cil_to_container only sees what is redirected to that egress.
			toContainer := metric(t, coll, ReasonForwarded, DirIngress, HookToContainer)
			if hostRouting := name == "host-routing"; hostRouting && toContainer != 0 {
				t.Errorf("host routing: cil_to_container saw %d packets, want 0 (delivered by bpf_redirect_peer)", toContainer)
			} else if !hostRouting && toContainer < 2 {
				t.Errorf("legacy routing: cil_to_container saw %d packets, want at least 2 (redirected to the lxc device)", toContainer)
			}
		})
	}
}

func TestE2EClusterIP(t *testing.T) {
	vip := netip.MustParseAddr("10.96.0.10")
	for _, name := range []string{"nodeport", "all-features"} {
		t.Run(name, func(t *testing.T) {
			coll := newCollection(t, variantByName(t, name), nodeVars)
			pods := e2eTopology(t, coll)
			put(t, coll, MapServices, SvcKey{Addr: vip.As4(), Dport: PortOf(80), Proto: protoUDP}, SvcValue{Count: 1, RevNATIndex: 1})
			put(t, coll, MapServices, SvcKey{Addr: vip.As4(), Dport: PortOf(80), Proto: protoUDP, Slot: 1}, SvcValue{BackendID: 1})
			put(t, coll, MapBackends, BackendKey{ID: 1}, BackendValue{Addr: pods[1].addr.As4(), Port: PortOf(9000), Proto: protoUDP})
			put(t, coll, MapRevNAT, RevNATKey{Index: 1}, RevNATValue{Addr: vip.As4(), Port: PortOf(80)})
			udpEcho(t, pods[1], 9000)
			// The reply only reaches the connected socket if its source is the VIP again.
			if err := udpExchange(t, pods[0], netip.AddrPortFrom(vip, 80)); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestE2ENodePortLegacyLocalBackend: a client outside the node reaches a
// NodePort whose backend is a local pod, with legacy routing. The pod's
// reply leaves cil_from_container with the node's address as source (the
// frontend again); handed to the stack it would arrive on the lxc device
// with a local source address and be dropped as a martian, so the
// datapath forwards it itself: FIB lookup, MACs, redirect out of the
// native device.
func TestE2ENodePortLegacyLocalBackend(t *testing.T) {
	nodeAddr := netip.MustParseAddr("192.168.90.1")
	clientAddr := netip.MustParseAddr("192.168.90.2")
	coll := newCollection(t, variantByName(t, "nodeport"), map[string]any{VarNodeIPv4: nodeAddr.As4()})
	node, pods := e2eNode(t, coll)
	client := newNSThread(t, "client")
	if err := node.IP(fmt.Sprintf("link add np0 type veth peer name eth0 netns %d", client.TID),
		"addr add "+nodeAddr.String()+"/24 dev np0", "link set np0 up"); err != nil {
		t.Fatal(err)
	}
	if err := client.IP("link set lo up", "addr add "+clientAddr.String()+"/24 dev eth0", "link set eth0 up"); err != nil {
		t.Fatal(err)
	}
	np0, _, err := node.Link("np0")
	if err != nil {
		t.Fatal(err)
	}
	_, clientMAC, err := client.Link("eth0")
	if err != nil {
		t.Fatal(err)
	}
	if err := node.IP(fmt.Sprintf("neigh add %s lladdr %s dev np0 nud permanent", clientAddr, clientMAC)); err != nil {
		t.Fatal(err)
	}
	attachTCX(t, node, coll, np0, ProgFromNetdev, ProgToNetdev)
	put(t, coll, MapServices, SvcKey{Dport: PortOf(30080), Proto: protoUDP}, SvcValue{Count: 1, RevNATIndex: 2, Flags: ServiceNodePort})
	put(t, coll, MapServices, SvcKey{Dport: PortOf(30080), Proto: protoUDP, Slot: 1}, SvcValue{BackendID: 2})
	put(t, coll, MapBackends, BackendKey{ID: 2}, BackendValue{Addr: pods[1].addr.As4(), Port: PortOf(9000), Proto: protoUDP})
	put(t, coll, MapRevNAT, RevNATKey{Index: 2}, RevNATValue{Port: PortOf(30080)})
	udpEcho(t, pods[1], 9000)

	// The client's connected socket accepts the echo only from the frontend.
	if err := udpExchange(t, e2ePod{ns: client, addr: clientAddr}, netip.AddrPortFrom(nodeAddr, 30080)); err != nil {
		t.Fatal(err)
	}
	if n := metric(t, coll, ReasonForwarded, DirEgress, HookFromContainer); n == 0 {
		t.Error("the backend's replies were not forwarded by cil_from_container")
	}
}
