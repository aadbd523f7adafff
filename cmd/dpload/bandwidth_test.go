package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/dpforge/dpforge/bpf"
	"github.com/dpforge/dpforge/bpf/loader/node"
)

// bandwidthRate is the pod's egress limit: low enough that an emulated
// guest sustains it with room to spare, high enough that a few seconds
// carry megabytes.
const bandwidthRate = 8_000_000 // bits per second

// TestTrafficBandwidth: the bandwidth manager paces a limited pod. The
// datapath stamps each packet of the pod with its earliest departure time
// at the native device's egress (cil_to_netdev) and the fq qdisc there
// holds it until then, as Cilium does (fq on the native devices, a 2 s
// drop horizon). "pacing" measures the goodput of a TCP stream from the
// pod to a pod on the other node against the limit; "horizon-drop" sends
// UDP far above the limit, so that departure times run past the horizon,
// and checks that the datapath drops and counts those packets (that needs
// no fq: the datapath stamps and drops by itself, so it runs everywhere).
func TestTrafficBandwidth(t *testing.T) {
	rc := routingCase{name: "native-full", hostRouting: true, node: "native-full"}
	g := newCaseGroup(t, rc.node, "pacing", "horizon-drop")
	tp := setup(g, rc, [2]int{1, 1}, func(tp *topology, n *e2eNode) node.State {
		if n != tp.nodes[0] {
			return node.State{}
		}
		return node.State{Bandwidth: []node.Bandwidth{{Endpoint: n.pods[0].id, Rate: bandwidthRate}}}
	})
	n1, a, c := tp.nodes[0], tp.nodes[0].pods[0], tp.nodes[1].pods[0]
	g.run("pacing", func(t caseT) {
		requireKernel(t, "sch_fq", "CONFIG_NET_SCH_FQ",
			[]string{"ip", "link", "add", "probe0", "type", "veth", "peer", "name", "probe1"},
			[]string{"tc", "qdisc", "add", "dev", "probe0", "root", "fq"})
		if err := n1.tc("qdisc replace dev eth0 root fq"); err != nil {
			t.Fatal(err)
		}
		drops := n1.counter(t, bpf.DropBWHorizon)
		var received atomic.Int64
		dst := netip.AddrPortFrom(c.ip, 9300)
		serveTCP(t, c.ns, dst, func(conn net.Conn) {
			buf := make([]byte, 64<<10)
			for {
				k, err := conn.Read(buf)
				received.Add(int64(k))
				if err != nil {
					return
				}
			}
		})
		conn, err := tcpDial(a.ns, dst)
		if err != nil {
			t.Fatal(err)
		}
		stop := make(chan struct{})
		sent := make(chan error, 1)
		go func() {
			block := make([]byte, 64<<10)
			for {
				select {
				case <-stop:
					sent <- nil
					return
				default:
				}
				conn.SetWriteDeadline(time.Now().Add(slow(10 * time.Second)))
				if _, err := conn.Write(block); err != nil {
					sent <- err
					return
				}
			}
		}()
		// The first second is the connection's start; the next four are
		// measured.
		time.Sleep(slow(time.Second))
		b0, t0 := received.Load(), time.Now()
		time.Sleep(4 * time.Second)
		b1, t1 := received.Load(), time.Now()
		close(stop)
		conn.Close()
		if err := <-sent; err != nil && !errors.Is(err, net.ErrClosed) {
			t.Errorf("sender: %v", err)
		}
		rate := float64(b1-b0) * 8 / t1.Sub(t0).Seconds()
		t.Logf("pod %s limited to %.1f Mbit/s sends to %s through fq on %s's eth0: goodput %.2f Mbit/s (%d bytes in %s)",
			a.ip, bandwidthRate/1e6, c.ip, n1.name, rate/1e6, b1-b0, t1.Sub(t0).Round(time.Millisecond))
		// Held by fq, the stream's backlog stays within TCP's small-queue
		// limit, far below the horizon; without fq the datapath alone
		// polices the rate, by horizon drops.
		if d := n1.counter(t, bpf.DropBWHorizon) - drops; d > 0 {
			t.Errorf("%d horizon drops while pacing TCP: fq on eth0 did not hold the packets to their departure times", d)
		}
		if rate < 0.9*bandwidthRate || rate > 1.1*bandwidthRate {
			t.Errorf("goodput %.2f Mbit/s, want within 10%% of the limit %.1f Mbit/s", rate/1e6, bandwidthRate/1e6)
			tp.logCounters(t)
		}
	})
	g.run("horizon-drop", func(t caseT) {
		before := n1.counter(t, bpf.DropBWHorizon)
		var sink net.PacketConn
		dst := netip.AddrPortFrom(c.ip, 9301)
		if err := c.ns.Do(func() (err error) { sink, err = net.ListenPacket("udp4", dst.String()); return err }); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { sink.Close() })
		go io.Copy(io.Discard, readerOf(sink))
		var out *net.UDPConn
		if err := a.ns.Do(func() (err error) { out, err = net.DialUDP("udp4", nil, net.UDPAddrFromAddrPort(dst)); return err }); err != nil {
			t.Fatal(err)
		}
		defer out.Close()
		// A UDP socket's send buffer normally backpressures it: its
		// datagrams held in fq count against it, so it never runs 2 s
		// ahead. A send buffer far above fq's per-flow limit (100
		// packets) takes that away: fq drops the excess, the datapath
		// has stamped it, and departure times run past the horizon.
		if err := forceSendBuffer(out, 16<<20); err != nil {
			t.Fatal(err)
		}
		// Departure times run 2 s ahead after 2 s worth of bytes above
		// the rate (2 MB at 8 Mbit/s); send in bursts until the datapath
		// counts a horizon drop, within a bounded time and amount.
		payload := make([]byte, 1400)
		sent, after := 0, before
		deadline := time.Now().Add(slow(10 * time.Second))
		for after == before && sent < 100_000 && time.Now().Before(deadline) {
			for range 1000 {
				out.SetWriteDeadline(time.Now().Add(slow(time.Second)))
				if _, err := out.Write(payload); err == nil {
					sent++
				}
			}
			after = n1.counter(t, bpf.DropBWHorizon)
		}
		t.Logf("%d UDP datagrams of %d bytes sent above %.1f Mbit/s: DROP_BW_HORIZON on %s went from %d to %d",
			sent, len(payload), bandwidthRate/1e6, n1.name, before, after)
		if after <= before {
			t.Errorf("no horizon drop counted after %d datagrams far above the limit", sent)
			tp.logCounters(t)
		}
	})
}

// forceSendBuffer sets a socket's send buffer above net.core.wmem_max
// (SO_SNDBUFFORCE, as root).
func forceSendBuffer(c *net.UDPConn, bytes int) error {
	raw, err := c.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := raw.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_SNDBUFFORCE, bytes)
	}); err != nil {
		return err
	}
	if serr != nil {
		return fmt.Errorf("SO_SNDBUFFORCE: %w", serr)
	}
	return nil
}

// readerOf reads a packet socket's datagrams as a stream.
func readerOf(pc net.PacketConn) io.Reader {
	return readerFunc(func(b []byte) (int, error) { n, _, err := pc.ReadFrom(b); return n, err })
}

type readerFunc func([]byte) (int, error)

func (f readerFunc) Read(b []byte) (int, error) { return f(b) }

// tc runs tc(8) commands in the node's namespace.
func (n *e2eNode) tc(cmds ...string) error {
	return n.ns.Do(func() error {
		for _, c := range cmds {
			if out, err := exec.Command("tc", strings.Fields(c)...).CombinedOutput(); err != nil {
				return fmt.Errorf("%s: tc %s: %v: %s", n.name, c, err, strings.TrimSpace(string(out)))
			}
		}
		return nil
	})
}

// counter is the packets the node's datapath counted for a reason, over
// every hook and direction.
func (n *e2eNode) counter(t testing.TB, reason bpf.Reason) uint64 {
	t.Helper()
	m, err := (&node.Node{Dir: n.bpffs}).PinnedMap(bpf.MapMetrics)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	cs, err := node.Counters(m)
	if err != nil {
		t.Fatal(err)
	}
	var sum uint64
	for _, c := range cs {
		if c.Reason == reason.String() {
			sum += c.Packets
		}
	}
	return sum
}
