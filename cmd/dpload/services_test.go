package main

import (
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/dpforge/dpforge/bpf/loader/node"
)

// whoami runs a TCP server in ns that answers every connection with the
// address it came from, so a test can see what SNAT did.
func whoami(t testing.TB, ns *nsThread, addr netip.AddrPort) {
	t.Helper()
	serveTCP(t, ns, addr, func(c net.Conn) { fmt.Fprintf(c, "%s\n", c.RemoteAddr()) })
}

func askWhoami(ns *nsThread, dst netip.AddrPort) (netip.Addr, error) {
	c, err := tcpDial(ns, dst)
	if err != nil {
		return netip.Addr{}, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(slow(3 * time.Second)))
	b, err := io.ReadAll(c)
	if err != nil {
		return netip.Addr{}, err
	}
	ap, err := netip.ParseAddrPort(strings.TrimSpace(string(b)))
	return ap.Addr(), err
}

// Service ports of the suite.
const (
	podUDP = 9000
	podTCP = 9001
)

var (
	clusterIP = netip.MustParseAddr("10.96.0.10")
)

// services is every node's service table: a ClusterIP (TCP and UDP) and
// NodePorts (TCP and UDP) with the backend on node2, and a NodePort with a
// backend on node1.
func services(tp *topology, dsr bool) []node.Service {
	c, b := tp.nodes[1].pods[0], tp.nodes[0].pods[1]
	be := func(p *e2ePod, port int) []string { return []string{netip.AddrPortFrom(p.ip, uint16(port)).String()} }
	return []node.Service{
		{ID: 1, Frontend: clusterIP.String() + ":80", Protocol: "tcp", Backends: be(c, podTCP)},
		{ID: 2, Frontend: clusterIP.String() + ":53", Protocol: "udp", Backends: be(c, podUDP)},
		{ID: 3, Frontend: "0.0.0.0:30080", Protocol: "tcp", NodePort: true, External: true, DSR: dsr, Backends: be(c, podTCP)},
		{ID: 4, Frontend: "0.0.0.0:30053", Protocol: "udp", NodePort: true, External: true, DSR: dsr, Backends: be(c, podUDP)},
		{ID: 5, Frontend: "0.0.0.0:30081", Protocol: "tcp", NodePort: true, External: true, Backends: be(b, podTCP)},
	}
}

func TestTrafficServices(t *testing.T) {
	cases := []struct {
		routingCase
		mode string // NodePort mode to a remote backend: snat, dsr or hybrid
	}{
		{routingCases[0], "snat"},
		{routingCases[1], "snat"},
		{routingCases[2], "dsr"},
		{routingCase{name: "native-hybrid", hostRouting: true, node: "native-hybrid"}, "hybrid"},
		{routingCases[3], "snat"},
		{routingCases[4], "snat"},
	}
	for _, rc := range cases {
		t.Run(rc.name, func(t *testing.T) {
			udpMode := rc.mode // hybrid: DSR for TCP, SNAT for UDP
			if udpMode == "hybrid" {
				udpMode = "snat"
			}
			g := newCaseGroup(t, rc.node, "clusterip-tcp", "clusterip-udp", "nodeport-remote-tcp-"+rc.mode,
				"nodeport-remote-udp-"+udpMode, "nodeport-local-tcp", "masquerade-to-world")
			tp := setup(g, rc.routingCase, [2]int{2, 1}, func(tp *topology, n *e2eNode) node.State {
				return node.State{Services: services(tp, rc.mode != "snat")}
			})
			a, b, c := tp.nodes[0].pods[0], tp.nodes[0].pods[1], tp.nodes[1].pods[0]
			for _, p := range []*e2ePod{b, c} {
				udpEcho(t, p.ns, netip.AddrPortFrom(p.ip, podUDP))
				tcpEcho(t, p.ns, netip.AddrPortFrom(p.ip, podTCP))
			}
			n1 := tp.nodes[0].ip
			checks := []struct {
				name string
				run  func(t testing.TB) error
			}{
				{"clusterip-tcp", func(testing.TB) error { return tcpExchange(a.ns, netip.AddrPortFrom(clusterIP, 80)) }},
				{"clusterip-udp", func(testing.TB) error { return udpExchange(a.ns, netip.AddrPortFrom(clusterIP, 53)) }},
				{"nodeport-remote-tcp-" + rc.mode, func(testing.TB) error { return tcpExchange(tp.outside, netip.AddrPortFrom(n1, 30080)) }},
				{"nodeport-remote-udp-" + udpMode, func(testing.TB) error {
					return udpExchange(tp.outside, netip.AddrPortFrom(n1, 30053))
				}},
				{"nodeport-local-tcp", func(testing.TB) error { return tcpExchange(tp.outside, netip.AddrPortFrom(n1, 30081)) }},
				{"masquerade-to-world", func(t testing.TB) error {
					whoami(t, tp.outside, netip.AddrPortFrom(tp.outIP, 9200))
					src, err := askWhoami(a.ns, netip.AddrPortFrom(tp.outIP, 9200))
					if err != nil {
						return err
					}
					if src != n1 {
						return fmt.Errorf("the world sees the pod as %s, want the node's address %s", src, n1)
					}
					return nil
				}},
			}
			for _, c := range checks {
				g.run(c.name, func(t caseT) {
					if err := c.run(t); err != nil {
						t.Error(err)
						tp.logCounters(t)
					}
				})
			}
		})
	}
}
