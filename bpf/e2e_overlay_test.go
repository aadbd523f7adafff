package bpf

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"testing"
	"time"
)

// TestE2EOverlayToHostPacketType sends real VXLAN traffic between two node
// namespaces. Node A encapsulates a UDP datagram for node B's address
// through a collect-metadata vxlan device (an lwtunnel route sets the
// VNI, 1001, like a pod's identity); its inner destination MAC is not B's
// vxlan device, so B's vxlan device marks it PACKET_OTHERHOST, as it does
// for every pod-to-pod frame (seed 001). cil_from_overlay on B passes it
// to B's stack, whose ip_rcv drops OTHERHOST packets on every kernel: the
// datagram only arrives if the program made it PACKET_HOST.
//
// Delivery into pods with bpf_redirect_peer has the same need on kernels
// before 6.15 (later ones set PACKET_HOST in the helper); a host running
// 6.15 or newer cannot show that, so it is left to a VM kernel.
//
// The VNI is checked too, as Cilium checks it: no tunnel packet may claim
// the host identity (DROP_INVALID_IDENTITY), and a VTEP's sources carry
// WORLD only (DROP_INVALID_VNI).
func TestE2EOverlayToHostPacketType(t *testing.T) {
	requireRoot(t)
	if _, err := exec.LookPath("ip"); err != nil {
		t.Fatalf("ip(8) from iproute2 is needed to build the test's namespaces (make deps installs it): %v", err)
	}
	const (
		underA = "192.168.77.1"
		underB = "192.168.77.2"
		nodeB  = "192.168.78.2" // B's node address, behind the tunnel for A
		port   = 9100
	)
	coll := newCollection(t, variantByName(t, "all-legacy"), map[string]any{
		VarNodeIPv4: netip.MustParseAddr(nodeB).As4(),
		VarTrace:    uint32(1),
	})
	a, b := newNSThread(t, "a"), newNSThread(t, "b")
	if err := a.IP("link set lo up",
		fmt.Sprintf("link add ovl0 type veth peer name ovl0 netns %d", b.TID),
		"addr add "+underA+"/24 dev ovl0", "link set ovl0 up",
		"link add cilium_vxlan type vxlan external dstport 8472", "link set cilium_vxlan up",
		"route add "+nodeB+"/32 encap ip id 1001 dst "+underB+" dev cilium_vxlan",
		// The inner frame's destination MAC: a pod's lxc MAC on B, as seed 001 shows.
		"neigh add "+nodeB+" lladdr 02:00:00:00:01:0b dev cilium_vxlan nud permanent"); err != nil {
		t.Fatal(err)
	}
	if err := b.IP("link set lo up",
		"addr add "+underB+"/24 dev ovl0", "link set ovl0 up",
		"addr add "+nodeB+"/32 dev lo",
		"link add cilium_vxlan type vxlan external dstport 8472", "link set cilium_vxlan up"); err != nil {
		t.Fatal(err)
	}
	// The datagram's source (A's underlay address) arrives on cilium_vxlan
	// while B routes it via ovl0: loose reverse-path filtering, in B only.
	if err := b.Do(func() error {
		for _, f := range []string{"all", "default", "cilium_vxlan"} {
			if err := os.WriteFile("/proc/sys/net/ipv4/conf/"+f+"/rp_filter", []byte("0"), 0o644); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	vxlan, _, err := b.Link("cilium_vxlan")
	if err != nil {
		t.Fatal(err)
	}
	attachTCX(t, b, coll, vxlan, ProgFromOverlay, "")

	var srv net.PacketConn
	if err := b.Do(func() (err error) {
		srv, err = net.ListenPacket("udp4", net.JoinHostPort(nodeB, fmt.Sprint(port)))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	var cli net.Conn
	if err := a.Do(func() (err error) {
		cli, err = net.Dial("udp4", net.JoinHostPort(nodeB, fmt.Sprint(port)))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })

	// send reports whether the datagram reached B's socket.
	send := func(vni, tries int) bool {
		t.Helper()
		if err := a.IP(fmt.Sprintf("route replace %s/32 encap ip id %d dst %s dev cilium_vxlan", nodeB, vni, underB)); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 64)
		for try := 0; try < tries; try++ {
			if _, err := cli.Write([]byte("over the tunnel")); err != nil {
				t.Fatal(err)
			}
			srv.SetReadDeadline(time.Now().Add(time.Second))
			if n, _, err := srv.ReadFrom(buf); err == nil && string(buf[:n]) == "over the tunnel" {
				return true
			}
		}
		return false
	}

	if !send(1001, 3) {
		t.Fatalf("the datagram never reached node B's socket (cil_from_overlay passed %d to the stack)",
			metric(t, coll, ReasonPassHost, DirIngress, HookFromOverlay))
	}
	var tr TraceInfo
	if err := coll.Maps[MapTrace].Lookup(uint32(0), &tr); err != nil {
		t.Fatal(err)
	}
	if tr.Hook != HookFromOverlay || tr.Reason != ReasonPassHost || tr.PktType != 0 || tr.SecID != 1001 {
		t.Errorf("trace %+v, want cil_from_overlay, PASS_HOST, pkt_type 0 (PACKET_HOST), identity 1001", tr)
	}

	if send(IdentityHost, 1) || metric(t, coll, DropInvalidIdentity, DirIngress, HookFromOverlay) == 0 {
		t.Error("a tunnel packet claiming the host identity was not dropped as DROP_INVALID_IDENTITY")
	}

	// A's underlay is now a VTEP's network: only WORLD may come from it.
	put(t, coll, MapVTEP, VTEPKey{Addr: netip.MustParseAddr("192.168.77.0").As4()},
		VTEPValue{TunnelEP: netip.MustParseAddr(underA).As4(), MAC: [6]byte{0x02, 0, 0, 0, 0x77, 1}})
	if send(1001, 1) || metric(t, coll, DropInvalidVNI, DirIngress, HookFromOverlay) == 0 {
		t.Error("a VTEP source with VNI 1001 was not dropped as DROP_INVALID_VNI")
	}
	if !send(IdentityWorld, 3) {
		t.Error("a VTEP source with VNI WORLD did not reach node B")
	}
}
