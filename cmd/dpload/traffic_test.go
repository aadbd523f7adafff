package main

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Traffic is generated from Go inside the namespaces: sockets are created
// on the namespace's thread and belong to it for life, so no ping, nc or
// tcpdump binary is needed and nothing leaves the test's namespaces.

// listenIn creates a listener or packet socket on ns's thread.
func udpEcho(t testing.TB, ns *nsThread, addr netip.AddrPort) {
	t.Helper()
	var conn net.PacketConn
	if err := ns.Do(func() (err error) { conn, err = net.ListenPacket("udp4", addr.String()); return err }); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	go func() {
		buf := make([]byte, 2048)
		for {
			n, from, err := conn.ReadFrom(buf)
			if err != nil {
				return
			}
			conn.WriteTo(buf[:n], from)
		}
	}()
}

// udpExchange sends from ns to dst and waits for the echo, which a
// connected socket only accepts from dst itself (so a reply that was not
// reverse-translated does not count).
func udpExchange(ns *nsThread, dst netip.AddrPort) error {
	var conn *net.UDPConn
	if err := ns.Do(func() (err error) { conn, err = net.DialUDP("udp4", nil, net.UDPAddrFromAddrPort(dst)); return err }); err != nil {
		return err
	}
	defer conn.Close()
	msg := []byte("dpforge udp " + dst.String())
	buf := make([]byte, 2048)
	for try := 0; try < 3; try++ {
		if _, err := conn.Write(msg); err != nil {
			return err
		}
		conn.SetReadDeadline(time.Now().Add(slow(time.Second)))
		n, err := conn.Read(buf)
		if err == nil && bytes.Equal(buf[:n], msg) {
			return nil
		}
		if err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
			return err
		}
	}
	return fmt.Errorf("udp: no echo from %v in 3 tries", dst)
}

// serveTCP runs a TCP server in ns until the test ends, handling each
// connection with handle on its own goroutine.
func serveTCP(t testing.TB, ns *nsThread, addr netip.AddrPort, handle func(net.Conn)) {
	t.Helper()
	var ln net.Listener
	if err := ns.Do(func() (err error) { ln, err = net.Listen("tcp4", addr.String()); return err }); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { handle(c); c.Close() }()
		}
	}()
}

// tcpEcho runs a TCP echo server in ns until the test ends.
func tcpEcho(t testing.TB, ns *nsThread, addr netip.AddrPort) {
	t.Helper()
	serveTCP(t, ns, addr, func(c net.Conn) { io.Copy(c, c) })
}

func tcpDial(ns *nsThread, dst netip.AddrPort) (net.Conn, error) {
	var c net.Conn
	err := ns.Do(func() (err error) {
		c, err = net.DialTimeout("tcp4", dst.String(), slow(3*time.Second))
		return err
	})
	return c, err
}

// tcpExchange opens a connection, sends a message and reads it back.
func tcpExchange(ns *nsThread, dst netip.AddrPort) error {
	c, err := tcpDial(ns, dst)
	if err != nil {
		return fmt.Errorf("tcp: %w", err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(slow(3 * time.Second)))
	msg := []byte("dpforge tcp " + dst.String())
	if _, err := c.Write(msg); err != nil {
		return fmt.Errorf("tcp: %w", err)
	}
	buf := make([]byte, len(msg))
	if _, err := io.ReadFull(c, buf); err != nil {
		return fmt.Errorf("tcp: %w", err)
	}
	if !bytes.Equal(buf, msg) {
		return fmt.Errorf("tcp: echo %q, want %q", buf, msg)
	}
	return nil
}

// tcpStream keeps a connection busy: it writes blocks and checks that the
// echo comes back complete and in order, until stop is closed.
type tcpStream struct {
	bytes uint64
	err   error
	done  chan struct{}
}

func startTCPStream(ns *nsThread, dst netip.AddrPort, stop <-chan struct{}) (*tcpStream, error) {
	c, err := tcpDial(ns, dst)
	if err != nil {
		return nil, fmt.Errorf("tcp stream: %w", err)
	}
	s := &tcpStream{done: make(chan struct{})}
	go func() {
		defer close(s.done)
		defer c.Close()
		block := make([]byte, 16<<10)
		got := make([]byte, len(block))
		for seq := uint64(0); ; seq++ {
			select {
			case <-stop:
				return
			default:
			}
			binary.BigEndian.PutUint64(block, seq)
			c.SetDeadline(time.Now().Add(slow(10 * time.Second)))
			if _, err := c.Write(block); err != nil {
				s.err = fmt.Errorf("tcp stream: block %d: %w", seq, err)
				return
			}
			if _, err := io.ReadFull(c, got); err != nil {
				s.err = fmt.Errorf("tcp stream: block %d: %w", seq, err)
				return
			}
			if !bytes.Equal(got, block) {
				s.err = fmt.Errorf("tcp stream: block %d came back altered", seq)
				return
			}
			s.bytes += uint64(len(block))
		}
	}()
	return s, nil
}

// pinger sends ICMP echo requests from a raw socket in ns, each as soon as
// the previous reply arrived (like ping -f), and counts the losses: a
// request without a reply within the timeout.
type pinger struct {
	sent, received, lost int
	lostSeqs             []int
}

func icmpEcho(id, seq uint16, payload []byte) []byte {
	b := make([]byte, 8+len(payload))
	b[0] = 8 // echo request
	binary.BigEndian.PutUint16(b[4:], id)
	binary.BigEndian.PutUint16(b[6:], seq)
	copy(b[8:], payload)
	var sum uint32
	for i := 0; i+1 < len(b); i += 2 {
		sum += uint32(binary.BigEndian.Uint16(b[i:]))
	}
	if len(b)%2 == 1 {
		sum += uint32(b[len(b)-1]) << 8
	}
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	binary.BigEndian.PutUint16(b[2:], ^uint16(sum))
	return b
}

var pingID = struct {
	sync.Mutex
	next uint16
}{next: uint16(os.Getpid())}

// ping sends count echo requests to dst (stopping early at the deadline)
// and waits up to timeout for each reply.
func ping(ns *nsThread, dst netip.Addr, count int, timeout time.Duration, deadline time.Time) (*pinger, error) {
	var conn net.PacketConn
	if err := ns.Do(func() (err error) { conn, err = net.ListenPacket("ip4:icmp", "0.0.0.0"); return err }); err != nil {
		return nil, err
	}
	defer conn.Close()
	pingID.Lock()
	pingID.next++
	id := pingID.next
	pingID.Unlock()
	p := &pinger{}
	buf := make([]byte, 2048)
	to := &net.IPAddr{IP: dst.AsSlice()}
	for seq := 0; seq < count && time.Now().Before(deadline); seq++ {
		if _, err := conn.WriteTo(icmpEcho(id, uint16(seq), []byte("dpforge")), to); err != nil {
			return p, err
		}
		p.sent++
		wait := time.Now().Add(timeout)
		got := false
		for !got {
			conn.SetReadDeadline(wait)
			n, from, err := conn.ReadFrom(buf)
			if errors.Is(err, os.ErrDeadlineExceeded) {
				break
			}
			if err != nil {
				return p, err
			}
			if n >= 8 && buf[0] == 0 && binary.BigEndian.Uint16(buf[4:]) == id && binary.BigEndian.Uint16(buf[6:]) == uint16(seq) &&
				from.(*net.IPAddr).IP.Equal(to.IP) {
				got = true
			}
		}
		if got {
			p.received++
		} else {
			p.lost++
			p.lostSeqs = append(p.lostSeqs, seq)
		}
	}
	return p, nil
}

// sniffer counts ICMP echo requests and replies, and UDP datagrams by
// destination port, that pass a device, in both directions, with a packet
// socket bound to it.
type sniffer struct {
	fd                int
	requests, replies int
	udp               map[uint16]int
	mu                sync.Mutex
	done              chan struct{}
}

func sniff(t testing.TB, ns *nsThread, dev string) *sniffer {
	t.Helper()
	ifindex, _, err := ns.Link(dev)
	if err != nil {
		t.Fatal(err)
	}
	s := &sniffer{done: make(chan struct{}), udp: map[uint16]int{}}
	proto := uint16(unix.ETH_P_ALL)
	proto = proto<<8 | proto>>8 // network order
	err = ns.Do(func() (err error) {
		s.fd, err = unix.Socket(unix.AF_PACKET, unix.SOCK_RAW, int(proto))
		if err != nil {
			return err
		}
		return unix.Bind(s.fd, &unix.SockaddrLinklayer{Protocol: proto, Ifindex: ifindex})
	})
	if err != nil {
		t.Fatalf("packet socket on %s: %v", dev, err)
	}
	tv := unix.NsecToTimeval(int64(100 * time.Millisecond))
	unix.SetsockoptTimeval(s.fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
	stop := make(chan struct{})
	go func() {
		defer close(s.done)
		buf := make([]byte, 2048)
		for {
			select {
			case <-stop:
				return
			default:
			}
			n, _, err := unix.Recvfrom(s.fd, buf, 0)
			if err != nil || n < 14+20+8 {
				continue
			}
			if binary.BigEndian.Uint16(buf[12:]) != 0x0800 {
				continue
			}
			ihl := int(buf[14]&0xf) * 4
			if n < 14+ihl+8 {
				continue
			}
			s.mu.Lock()
			switch proto := buf[14+9]; {
			case proto == 1 && buf[14+ihl] == 8:
				s.requests++
			case proto == 1 && buf[14+ihl] == 0:
				s.replies++
			case proto == 17:
				s.udp[binary.BigEndian.Uint16(buf[14+ihl+2:])]++
			}
			s.mu.Unlock()
		}
	}()
	t.Cleanup(func() { close(stop); <-s.done; unix.Close(s.fd) })
	return s
}

func (s *sniffer) counts() (requests, replies int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests, s.replies
}

// udpTo is the number of UDP datagrams to port seen.
func (s *sniffer) udpTo(port uint16) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.udp[port]
}

// replyTimeout is the per-reply timeout of the pingers: generous against a
// loaded machine, short enough that a lost packet is seen.
func replyTimeout() time.Duration { return slow(5 * time.Second) }

func deadlineIn(seconds int) time.Time {
	return time.Now().Add(slow(time.Duration(seconds) * time.Second))
}

// waitQuiet lets packets in flight reach the sniffers.
func waitQuiet() { time.Sleep(slow(300 * time.Millisecond)) }
