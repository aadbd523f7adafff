package bpf

import (
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// setGSOIPv4MaxSize sets IFLA_GSO_IPV4_MAX_SIZE (Linux 6.3, IPv4 BIG TCP)
// on ifindex in the calling thread's network namespace: iproute2 before
// 6.3 cannot, so the netlink request is built here.
func setGSOIPv4MaxSize(ifindex int, size uint32) error {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
	if err != nil {
		return fmt.Errorf("opening a netlink socket: %w", err)
	}
	defer unix.Close(fd)
	const hdr, ifi, attr = unix.SizeofNlMsghdr, unix.SizeofIfInfomsg, 8
	msg := make([]byte, hdr+ifi+attr)
	ne := binary.NativeEndian
	ne.PutUint32(msg[0:], uint32(len(msg)))
	ne.PutUint16(msg[4:], unix.RTM_NEWLINK)
	ne.PutUint16(msg[6:], unix.NLM_F_REQUEST|unix.NLM_F_ACK)
	ne.PutUint32(msg[8:], 1)
	ne.PutUint32(msg[hdr+4:], uint32(ifindex)) // ifinfomsg: family, pad, type, index
	ne.PutUint16(msg[hdr+ifi:], attr)
	ne.PutUint16(msg[hdr+ifi+2:], unix.IFLA_GSO_IPV4_MAX_SIZE)
	ne.PutUint32(msg[hdr+ifi+4:], size)
	if err := unix.Sendto(fd, msg, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return fmt.Errorf("sending the netlink request: %w", err)
	}
	buf := make([]byte, 4096)
	n, _, err := unix.Recvfrom(fd, buf, 0)
	if err != nil {
		return fmt.Errorf("reading the netlink answer: %w", err)
	}
	if n < hdr+4 || ne.Uint16(buf[4:]) != unix.NLMSG_ERROR {
		return fmt.Errorf("unexpected netlink answer (%d bytes)", n)
	}
	if errno := int32(ne.Uint32(buf[hdr:])); errno != 0 {
		return fmt.Errorf("setting gso_ipv4_max_size: %w", unix.Errno(-errno))
	}
	return nil
}

// TestE2EBigTCP sends a large TCP stream between two pods with IPv4 BIG
// TCP on the sender's eth0: its GSO packets exceed 64 KiB and carry
// tot_len 0 (Linux 6.3+), which cil_from_container and cil_to_container
// must parse by the skb's length instead of dropping them as invalid.
func TestE2EBigTCP(t *testing.T) {
	for _, name := range []string{"minimal", "host-routing"} {
		t.Run(name, func(t *testing.T) {
			coll := newCollection(t, variantByName(t, name), nil)
			pods := e2eTopology(t, coll)
			err := pods[0].ns.Do(func() error {
				iface, err := net.InterfaceByName("eth0")
				if err != nil {
					return err
				}
				return setGSOIPv4MaxSize(iface.Index, 185000)
			})
			if err != nil {
				t.Skipf("SKIPPED: this kernel has no IPv4 BIG TCP (Linux 6.3): %v", err)
			}
			// TCP sizes its GSO packets by its pacing rate, which a loaded
			// machine lowers: ask for at least 127 segments per packet.
			if err := pods[0].ns.Do(func() error {
				return os.WriteFile("/proc/sys/net/ipv4/tcp_min_tso_segs", []byte("127"), 0o644)
			}); err != nil {
				t.Fatal(err)
			}

			// TCP sends at most half the peer's window at once: give B a
			// large initial receive window (a per-namespace setting).
			if err := pods[1].ns.Do(func() error {
				return os.WriteFile("/proc/sys/net/ipv4/tcp_rmem", []byte("4096 4194304 16777216"), 0o644)
			}); err != nil {
				t.Fatal(err)
			}
			const size = 8 << 20
			var ln net.Listener
			if err := pods[1].ns.Do(func() (err error) {
				ln, err = net.Listen("tcp4", netip.AddrPortFrom(pods[1].addr, 9001).String())
				return err
			}); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { ln.Close() })
			got := make(chan int64, 1)
			go func() {
				c, err := ln.Accept()
				if err != nil {
					got <- -1
					return
				}
				defer c.Close()
				c.SetReadDeadline(time.Now().Add(10 * time.Second))
				n, _ := io.Copy(io.Discard, c)
				got <- n
			}()
			var conn net.Conn
			if err := pods[0].ns.Do(func() (err error) {
				conn, err = net.DialTimeout("tcp4", netip.AddrPortFrom(pods[1].addr, 9001).String(), 5*time.Second)
				return err
			}); err != nil {
				t.Fatal(err)
			}
			conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
			_, werr := conn.Write(make([]byte, size))
			conn.Close()
			if n := <-got; werr != nil || n != size {
				t.Fatalf("pod B received %d of %d bytes (write: %v); DROP_INVALID at cil_from_container: %d",
					n, size, werr, metric(t, coll, DropInvalid, DirEgress, HookFromContainer))
			}
			if n := metric(t, coll, DropInvalid, DirEgress, HookFromContainer); n != 0 {
				t.Errorf("cil_from_container dropped %d packets as DROP_INVALID", n)
			}
			// Pod A's eth0 counts each GSO packet once: more than 64 KiB per
			// packet on average means the stream really went as BIG TCP.
			var txPackets, txBytes uint64
			if err := pods[0].ns.Do(func() error {
				// The thread's own namespace: /sys and /proc/net show the process's.
				b, err := os.ReadFile("/proc/thread-self/net/dev")
				if err != nil {
					return err
				}
				for _, line := range strings.Split(string(b), "\n") {
					name, counters, ok := strings.Cut(line, ":")
					if f := strings.Fields(counters); ok && strings.TrimSpace(name) == "eth0" && len(f) >= 10 {
						_, err := fmt.Sscan(f[8]+" "+f[9], &txBytes, &txPackets)
						return err
					}
				}
				return fmt.Errorf("no eth0 in /proc/thread-self/net/dev")
			}); err != nil {
				t.Fatal(err)
			}
			t.Logf("pod A's eth0 sent %d packets, %d bytes", txPackets, txBytes)
			if txPackets == 0 || txBytes/txPackets <= 0xffff {
				t.Errorf("pod A's eth0 sent %d packets for %d bytes: no BIG TCP packets", txPackets, txBytes)
			}
		})
	}
}
