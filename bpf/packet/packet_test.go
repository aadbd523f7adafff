package packet

import (
	"bytes"
	"encoding/hex"
	"errors"
	"math/rand/v2"
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var (
	mac1 = MustParseMAC("02:00:00:00:00:01")
	mac2 = MustParseMAC("02:00:00:00:00:02")
	pod  = netip.MustParseAddr("10.0.1.5")
	svc  = netip.MustParseAddr("10.96.0.10")
	pod6 = netip.MustParseAddr("fd00::1")
	svc6 = netip.MustParseAddr("fd00::a")
)

func eth() *Ethernet { return &Ethernet{Src: mac1, Dst: mac2} }

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// refChecksum is a second, independent Internet checksum: it adds word by
// word with the end-around carry applied at every step (RFC 1071 section
// 2(A)) instead of accumulating and folding at the end.
func refChecksum(b []byte) uint16 {
	var s uint16
	for i := 0; i < len(b); i += 2 {
		w := uint16(b[i]) << 8
		if i+1 < len(b) {
			w |= uint16(b[i+1])
		}
		t := s + w
		if t < s {
			t++
		}
		s = t
	}
	return ^s
}

func TestChecksumVectors(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   string
		want uint16
	}{
		// RFC 1071 section 3: the sum is ddf2, so the checksum is 220d.
		{"rfc1071", "0001f203f4f5f6f7", 0x220d},
		// The IPv4 header example of the Wikipedia article on the IPv4
		// header checksum, with the checksum field zeroed.
		{"ipv4 header", "450000730000400040110000c0a80001c0a800c7", 0xb861},
		// Odd length: the last byte is padded with zero.
		{"odd", "0102030405", ^uint16(0x0102 + 0x0304 + 0x0500)},
		{"empty", "", 0xffff},
	} {
		if got := Checksum(unhex(t, tc.in)); got != tc.want {
			t.Errorf("%s: Checksum = %#04x, want %#04x", tc.name, got, tc.want)
		}
	}
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 1000 {
		b := make([]byte, r.IntN(200))
		for j := range b {
			b[j] = byte(r.Uint32())
		}
		if i%10 == 0 { // all-ones input exercises the carries
			for j := range b {
				b[j] = 0xff
			}
		}
		if got, want := Checksum(b), refChecksum(b); got != want {
			t.Fatalf("Checksum(%x) = %#04x, reference %#04x", b, got, want)
		}
	}
}

// The want bytes were built with Python's struct module and a separate
// checksum function, not with this package.
func TestMarshalKnownPackets(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   *Packet
		want string
	}{
		{"tcp4", &Packet{
			Eth:     eth(),
			IPv4:    &IPv4{Src: pod, Dst: svc, ID: 0x1234, Flags: DF},
			TCP:     &TCP{SrcPort: 40000, DstPort: 80, Seq: 1000, Flags: SYN, Window: 64240},
			Payload: Bytes("hello"),
		}, "02000000000202000000000108004500002d12344000400613290a0001050a60000a9c400050000003e8000000005002faf0bb33000068656c6c6f"},
		{"udp6", &Packet{
			Eth:     eth(),
			IPv6:    &IPv6{Src: pod6, Dst: svc6},
			UDP:     &UDP{SrcPort: 5353, DstPort: 53},
			Payload: Bytes{0xde, 0xad, 0xbe, 0xef, 0},
		}, "02000000000202000000000186dd60000000000d1140fd000000000000000000000000000001fd00000000000000000000000000000a14e90035000d530cdeadbeef00"},
		{"icmp4", &Packet{
			Eth:     eth(),
			IPv4:    &IPv4{Src: pod, Dst: svc},
			ICMP:    &ICMPv4{Type: ICMPv4EchoRequest, ID: 7, Seq: 1},
			Payload: Bytes("ping"),
		}, "020000000002020000000001080045000020000000004001656f0a0001050a60000a080019270007000170696e67"},
		{"icmp6", &Packet{
			Eth:     eth(),
			IPv6:    &IPv6{Src: pod6, Dst: svc6},
			ICMPv6:  &ICMPv6{Type: ICMPv6EchoRequest, ID: 7, Seq: 1},
			Payload: Bytes("ping"),
		}, "02000000000202000000000186dd60000000000c3a40fd000000000000000000000000000001fd00000000000000000000000000000a8000a6d30007000170696e67"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.in.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			if want := unhex(t, tc.want); !bytes.Equal(got, want) {
				t.Errorf("Marshal:\n got %x\nwant %x", got, want)
			}
		})
	}
}

func TestParseKnownPacket(t *testing.T) {
	b := unhex(t, "02000000000202000000000108004500002d12344000400613290a0001050a60000a9c400050000003e8000000005002faf0bb33000068656c6c6f")
	got, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	want := &Packet{
		Eth: &Ethernet{Src: mac1, Dst: mac2, EtherType: EtherTypeIPv4},
		IPv4: &IPv4{Src: pod, Dst: svc, IHL: 5, TotLen: 45, ID: 0x1234, Flags: DF, TTL: 64,
			Protocol: ProtoTCP, Checksum: 0x1329, ChecksumValid: true},
		TCP: &TCP{SrcPort: 40000, DstPort: 80, Seq: 1000, DataOffset: 5, Flags: SYN, Window: 64240,
			Checksum: 0xbb33, ChecksumValid: true},
		Payload: Bytes("hello"),
	}
	if d := cmp.Diff(want, got, cmpOptions); d != "" {
		t.Errorf("Parse (-want +got):\n%s", d)
	}
}

// roundTrip marshals p, parses the bytes and checks that the result matches
// p field by field, has valid checksums where they can be checked and
// marshals back to the same bytes.
func roundTrip(t *testing.T, p *Packet) *Packet {
	t.Helper()
	b, err := p.Marshal()
	if err != nil {
		t.Fatalf("Marshal: %v", err)
	}
	got, err := Parse(b)
	if err != nil {
		t.Fatalf("Parse(%x): %v", b, err)
	}
	if d := Diff(p, got); d != "" {
		t.Errorf("Parse(Marshal(p)) (-p +got):\n%s", d)
	}
	again, err := got.Marshal()
	if err != nil {
		t.Fatalf("Marshal(Parse): %v", err)
	}
	if !bytes.Equal(again, b) {
		t.Errorf("Marshal(Parse(b)) != b:\n got %x\nwant %x", again, b)
	}
	return got
}

func TestRoundTrip(t *testing.T) {
	tcp4 := NewTCP(netip.AddrPortFrom(pod, 40000), netip.AddrPortFrom(svc, 80), SYN|ACK)
	tcp4.Payload = Bytes("GET / HTTP/1.1\r\n\r\n")
	tcp6 := NewTCP(netip.AddrPortFrom(pod6, 40000), netip.AddrPortFrom(svc6, 443), FIN|ACK|PSH)
	for _, tc := range []struct {
		name          string
		in            *Packet
		transportSums bool // whether the transport checksum can be verified
	}{
		{"tcp4", tcp4, true},
		{"tcp6", tcp6, true},
		{"tcp options and all flags", &Packet{
			Eth:  eth(),
			IPv4: &IPv4{Src: pod, Dst: svc, TOS: 0x10, ID: 7, TTL: 1},
			TCP: &TCP{SrcPort: 1, DstPort: 2, Seq: 0xffffffff, Ack: 1, Flags: 0xfff, Window: 1, Urgent: 9,
				Options: Bytes{2, 4, 0x05, 0xb4, 1, 1, 4, 2}},
		}, true},
		{"udp4", NewUDP(netip.AddrPortFrom(pod, 5353), netip.AddrPortFrom(svc, 53)), true},
		{"udp6 payload", &Packet{Eth: eth(), IPv6: &IPv6{Src: pod6, Dst: svc6, TrafficClass: 0xb8, FlowLabel: 0xabcde},
			UDP: &UDP{SrcPort: 1, DstPort: 2}, Payload: Bytes("x")}, true},
		{"udp4 zero checksum", &Packet{Eth: eth(), IPv4: &IPv4{Src: pod, Dst: svc},
			UDP: &UDP{SrcPort: 1, DstPort: 2, ZeroChecksum: true}}, true},
		{"ping4", NewPing(pod, svc, 1, 2), true},
		{"ping6", NewPing(pod6, svc6, 1, 2), true},
		{"icmp frag needed", &Packet{Eth: eth(), IPv4: &IPv4{Src: svc, Dst: pod},
			ICMP: &ICMPv4{Type: 3, Code: 4, Seq: 1450}, Payload: Bytes{0x45, 0, 0, 0x20}}, true},
		{"arp request with padding", &Packet{
			Eth:     &Ethernet{Src: mac1, Dst: MAC{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}},
			ARP:     &ARP{Op: ARPRequest, SenderMAC: mac1, SenderIP: pod, TargetIP: svc},
			Trailer: make(Bytes, 18),
		}, false},
		{"ipv4 dsr option", &Packet{
			Eth:  eth(),
			IPv4: &IPv4{Src: pod, Dst: svc, Options: []IPv4Option{DSROption(netip.AddrPortFrom(svc, 80))}},
			TCP:  &TCP{SrcPort: 40000, DstPort: 8080, Flags: SYN},
		}, true},
		{"ipv4 nop and padded option", &Packet{
			Eth:  eth(),
			IPv4: &IPv4{Src: pod, Dst: svc, Options: []IPv4Option{{Type: OptNOP}, {Type: 0x94, Data: Bytes{0, 0}}, {Type: 0x07, Data: Bytes{4}}}},
			UDP:  &UDP{SrcPort: 1, DstPort: 2},
		}, true},
		{"ipv4 eol with garbage after it", &Packet{
			Eth:  eth(),
			IPv4: &IPv4{Src: pod, Dst: svc, Options: []IPv4Option{{Type: OptNOP}, {Type: OptEOL, Data: Bytes{0, 7}}}},
		}, false},
		{"first fragment", &Packet{
			Eth:     eth(),
			IPv4:    &IPv4{Src: pod, Dst: svc, ID: 99, Flags: MF},
			UDP:     &UDP{SrcPort: 1, DstPort: 2, Length: 3000},
			Payload: Bytes(strings.Repeat("a", 64)),
		}, false},
		{"non-first fragment", &Packet{
			Eth:     eth(),
			IPv4:    &IPv4{Src: pod, Dst: svc, ID: 99, Flags: RF, FragOffset: 185, Protocol: ProtoUDP},
			Payload: Bytes(strings.Repeat("b", 64)),
		}, false},
		{"forged fields", &Packet{
			Eth:     &Ethernet{EtherType: 0x0800},
			IPv4:    &IPv4{Src: pod, Dst: svc, Checksum: 0xdead, Protocol: ProtoTCP, TotLen: 60, IHL: 5},
			TCP:     &TCP{SrcPort: 1, DstPort: 2, Checksum: 0xbeef, DataOffset: 5},
			Payload: make(Bytes, 20),
		}, false},
		{"udp4 with ethernet padding", &Packet{Eth: eth(), IPv4: &IPv4{Src: pod, Dst: svc},
			UDP: &UDP{SrcPort: 1, DstPort: 2}, Payload: Bytes("ab"), Trailer: make(Bytes, 8)}, true},
		{"unknown ethertype", &Packet{Eth: &Ethernet{Src: mac1, Dst: mac2, EtherType: 0x88cc}, Payload: Bytes("lldp")}, false},
		{"unknown protocol", &Packet{Eth: eth(), IPv4: &IPv4{Src: pod, Dst: svc, Protocol: 47}, Payload: Bytes("gre")}, false},
		{"ipv6 no next header", &Packet{Eth: eth(), IPv6: &IPv6{Src: pod6, Dst: svc6, NextHeader: 59, HopLimit: 255}}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := roundTrip(t, tc.in)
			if got.IPv4 != nil && !got.IPv4.ChecksumValid && tc.in.IPv4.Checksum == 0 {
				t.Error("IPv4 checksum not valid")
			}
			valid := map[string]bool{}
			if got.TCP != nil {
				valid["tcp"] = got.TCP.ChecksumValid
			}
			if got.UDP != nil {
				valid["udp"] = got.UDP.ChecksumValid
			}
			if got.ICMP != nil {
				valid["icmp"] = got.ICMP.ChecksumValid
			}
			if got.ICMPv6 != nil {
				valid["icmpv6"] = got.ICMPv6.ChecksumValid
			}
			for layer, ok := range valid {
				if ok != tc.transportSums {
					t.Errorf("%s: ChecksumValid = %v, want %v", layer, ok, tc.transportSums)
				}
			}
		})
	}
}

func TestDerivedDefaults(t *testing.T) {
	p := &Packet{IPv4: &IPv4{}, UDP: &UDP{}}
	b, err := p.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	got, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	if got.Eth.EtherType != EtherTypeIPv4 || got.Eth.Src != (MAC{}) {
		t.Errorf("Eth = %+v, want zero addresses and type IPv4", got.Eth)
	}
	want := &IPv4{Src: netip.IPv4Unspecified(), Dst: netip.IPv4Unspecified(), IHL: 5, TotLen: 28, TTL: 64,
		Protocol: ProtoUDP, Checksum: got.IPv4.Checksum, ChecksumValid: true}
	if d := cmp.Diff(want, got.IPv4, cmpOptions); d != "" {
		t.Errorf("IPv4 (-want +got):\n%s", d)
	}
	if got.UDP.Length != 8 || !got.UDP.ChecksumValid {
		t.Errorf("UDP = %+v, want length 8 and a valid checksum", got.UDP)
	}
}

func TestDSROption(t *testing.T) {
	ap := netip.MustParseAddrPort("10.96.0.10:8080")
	o := DSROption(ap)
	want := IPv4Option{Type: 0x9a, Data: Bytes{0x1f, 0x90, 10, 96, 0, 10}}
	if d := cmp.Diff(want, o); d != "" {
		t.Errorf("DSROption (-want +got):\n%s", d)
	}
	if got, ok := o.DSR(); !ok || got != ap {
		t.Errorf("DSR() = %v, %v, want %v", got, ok, ap)
	}
	if _, ok := (IPv4Option{Type: OptDSR, Data: Bytes{1}}).DSR(); ok {
		t.Error("DSR() accepted a short option")
	}
	// On the wire: type, length 8, port, address, right after the header.
	p := &Packet{IPv4: &IPv4{Options: []IPv4Option{o}}}
	b, err := p.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := b[14+20:], unhex(t, "9a081f900a60000a"); !bytes.Equal(got, want) {
		t.Errorf("option bytes = %x, want %x", got, want)
	}
	if b[14] != 0x47 {
		t.Errorf("version/IHL = %#x, want 0x47", b[14])
	}
	if o := DSROption(netip.AddrPortFrom(svc6, 80)); o.Type != OptDSR {
		t.Errorf("DSROption(v6).Type = %d", o.Type)
	} else if _, err := (&Packet{IPv4: &IPv4{Options: []IPv4Option{o}}}).Marshal(); err != nil {
		t.Errorf("the IPv6 DSR option should still marshal, as a 20-byte option: %v", err)
	}
}

func TestParseOptionErrors(t *testing.T) {
	for _, tc := range []struct {
		name, opts, want string
		wantOpts         []IPv4Option
	}{
		{"length beyond header", "0101440a", "option type 0x44 at header byte 22: length 10 does not fit in 2 bytes",
			[]IPv4Option{{Type: OptNOP}, {Type: OptNOP}}},
		{"length below 2", "9a010000", "option type 0x9a at header byte 20: length 1", nil},
		{"no length byte", "01010107", "option type 0x07 at header byte 23 has no length",
			[]IPv4Option{{Type: OptNOP}, {Type: OptNOP}, {Type: OptNOP}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := unhex(t, tc.opts)
			p := &Packet{IPv4: &IPv4{IHL: uint8(5 + len(o)/4)}, UDP: &UDP{}}
			b, err := p.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			b = append(b[:34:34], append(o, b[34:]...)...)
			b[14+3] += byte(len(o)) // total length
			got, err := Parse(b)
			if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), "ipv4: malformed: "+tc.want) {
				t.Fatalf("Parse error = %v, want %q", err, tc.want)
			}
			if d := cmp.Diff(tc.wantOpts, got.IPv4.Options); d != "" {
				t.Errorf("Options (-want +got):\n%s", d)
			}
			// It reads on past the options.
			if got.UDP == nil {
				t.Error("UDP not parsed after a malformed option")
			}
		})
	}
}

func TestBadIHL(t *testing.T) {
	base := NewTCP(netip.AddrPortFrom(pod, 1), netip.AddrPortFrom(svc, 2), SYN)
	for _, tc := range []struct {
		ihl      uint8
		want     string
		sentinel error
	}{
		{4, "ipv4: malformed: ihl 4 is below 5", ErrMalformed},
		{0, "", nil}, // derived
		{15, "ipv4: truncated: ihl 15 needs 60 header bytes, have 40", ErrTruncated},
	} {
		p := *base
		ip := *p.IPv4
		ip.IHL = tc.ihl
		p.IPv4 = &ip
		b, err := p.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		got, err := Parse(b)
		if tc.sentinel == nil {
			if err != nil {
				t.Errorf("ihl %d: %v", tc.ihl, err)
			}
			continue
		}
		if !errors.Is(err, tc.sentinel) || err.Error() != tc.want {
			t.Errorf("ihl %d: error %v, want %q", tc.ihl, err, tc.want)
		}
		if got.IPv4 == nil || got.IPv4.IHL != tc.ihl || got.TCP != nil || len(got.Payload) != 20 {
			t.Errorf("ihl %d: got %v, want IPv4 with the TCP header as payload", tc.ihl, got)
		}
	}
	if _, err := (&Packet{IPv4: &IPv4{IHL: 16}}).Marshal(); err == nil || err.Error() != "ipv4: ihl 16 does not fit in 4 bits" {
		t.Errorf("Marshal ihl 16: %v", err)
	}
}

func TestFragments(t *testing.T) {
	payload := Bytes(strings.Repeat("x", 40))
	first := &Packet{Eth: eth(), IPv4: &IPv4{Src: pod, Dst: svc, ID: 5, Flags: MF},
		TCP: &TCP{SrcPort: 1, DstPort: 2, Flags: ACK}, Payload: payload}
	got := roundTrip(t, first)
	if got.TCP.ChecksumValid {
		t.Error("first fragment: TCP checksum reported valid though it covers more than the fragment")
	}
	rest := &Packet{Eth: eth(), IPv4: &IPv4{Src: pod, Dst: svc, ID: 5, FragOffset: 8, Protocol: ProtoTCP}, Payload: payload}
	got = roundTrip(t, rest)
	if got.TCP != nil || !bytes.Equal(got.Payload, payload) {
		t.Errorf("non-first fragment: got %v, want IPv4 and the payload", got)
	}
}

func TestTruncateEveryOffset(t *testing.T) {
	p := NewTCP(netip.AddrPortFrom(pod, 40000), netip.AddrPortFrom(svc, 80), PSH|ACK)
	p.IPv4.Options = []IPv4Option{DSROption(netip.AddrPortFrom(svc, 80))}
	p.TCP.Options = Bytes{1, 1, 1, 1}
	p.Payload = Bytes("payload")
	full, err := p.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	const ethEnd, ipEnd, tcpEnd = 14, 14 + 28, 14 + 28 + 24
	for n := 0; n < len(full); n++ {
		got, err := Parse(full[:n])
		if !errors.Is(err, ErrTruncated) {
			t.Errorf("%d bytes: error %v, want ErrTruncated", n, err)
			continue
		}
		var layer string
		switch {
		case n < ethEnd:
			layer = "ethernet: truncated"
		case n < ipEnd:
			layer = "ipv4: truncated"
		case n < tcpEnd:
			layer = "tcp: truncated"
		default:
			layer = "ipv4: truncated: total length 59, have"
		}
		if !strings.Contains(err.Error(), layer) {
			t.Errorf("%d bytes: error %q does not mention %q", n, err, layer)
		}
		if n >= ethEnd+20 && got.IPv4 == nil {
			t.Errorf("%d bytes: IPv4 not parsed", n)
		}
		if n >= tcpEnd && (got.TCP == nil || got.TCP.ChecksumValid) {
			t.Errorf("%d bytes: want TCP parsed, with its checksum not valid", n)
		}
		// Through Packet.Truncate too.
		q := *p
		q.Truncate = n
		b, err := q.Marshal()
		if n == 0 {
			b, err = full[:0], nil
		}
		if err != nil || !bytes.Equal(b, full[:n]) {
			t.Errorf("Truncate %d: %x, %v", n, b, err)
		}
	}
	if _, err := Parse(full); err != nil {
		t.Errorf("full packet: %v", err)
	}
	q := *p
	q.Truncate = len(full) + 1
	if _, err := q.Marshal(); !errors.Is(err, ErrTruncated) {
		t.Errorf("Truncate beyond the end: %v", err)
	}
}

func TestParseErrors(t *testing.T) {
	valid := func(t *testing.T, p *Packet) []byte {
		b, err := p.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	udp4 := valid(t, NewUDP(netip.AddrPortFrom(pod, 1), netip.AddrPortFrom(svc, 2)))
	tcp4 := valid(t, NewTCP(netip.AddrPortFrom(pod, 1), netip.AddrPortFrom(svc, 2), SYN))
	udp6 := valid(t, NewUDP(netip.AddrPortFrom(pod6, 1), netip.AddrPortFrom(svc6, 2)))
	arp := valid(t, &Packet{ARP: &ARP{Op: ARPReply}})
	set := func(b []byte, off int, v ...byte) []byte {
		b = bytes.Clone(b)
		copy(b[off:], v)
		return b
	}
	for _, tc := range []struct {
		name string
		in   []byte
		want string
	}{
		{"ipv4 version", set(udp4, 14, 0x65), "ipv4: malformed: version 6"},
		{"ipv4 total length below header", set(udp4, 16, 0, 10), "ipv4: malformed: total length 10 is shorter than the 20-byte header"},
		{"ipv6 version", set(udp6, 14, 0x40), "ipv6: malformed: version 4"},
		{"ipv6 payload length", set(udp6, 18, 0, 9), "ipv6: truncated: payload length 49, have 48 bytes"},
		{"tcp data offset", set(tcp4, 14+20+12, 0x40), "tcp: malformed: data offset 4 is below 5"},
		{"tcp data offset beyond", set(tcp4, 14+20+12, 0xf0), "tcp: truncated: data offset 15 needs 60 header bytes, have 20"},
		{"udp length below 8", set(udp4, 14+20+4, 0, 7), "udp: malformed: length 7 is below 8"},
		{"udp length beyond", set(udp4, 14+20+4, 0, 9), "udp: truncated: length 9, have 8 bytes"},
		{"arp not ethernet/ipv4", set(arp, 14, 0, 6), "arp: malformed: hardware type 6, protocol 0x0800, address lengths 6 and 4: only Ethernet/IPv4 is read"},
		{"arp short", arp[:14+20], "arp: truncated: Ethernet/IPv4 message needs 28 bytes, have 20"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Parse(tc.in)
			if err == nil || err.Error() != tc.want {
				t.Fatalf("Parse error = %v, want %q", err, tc.want)
			}
			if got == nil || got.Eth == nil {
				t.Fatalf("Parse returned %v, want at least the Ethernet layer", got)
			}
		})
	}
}

func TestChecksumValidDetectsCorruption(t *testing.T) {
	for _, p := range []*Packet{
		NewTCP(netip.AddrPortFrom(pod, 1), netip.AddrPortFrom(svc, 2), SYN),
		NewUDP(netip.AddrPortFrom(pod6, 1), netip.AddrPortFrom(svc6, 2)),
		NewPing(pod, svc, 1, 1),
		NewPing(pod6, svc6, 1, 1),
	} {
		p.Payload = Bytes("data")
		b, err := p.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		b[len(b)-1] ^= 0xff // corrupt the payload: only the transport checksum breaks
		got, err := Parse(b)
		if err != nil {
			t.Fatal(err)
		}
		ok := map[bool]bool{}
		for _, c := range []*bool{tcpValid(got), udpValid(got), icmpValid(got)} {
			if c != nil {
				ok[*c] = true
			}
		}
		if ok[true] || !ok[false] {
			t.Errorf("%v: corrupted transport checksum reported valid", got)
		}
		if got.IPv4 != nil && !got.IPv4.ChecksumValid {
			t.Errorf("%v: IPv4 header checksum reported invalid", got)
		}
	}
	// NAT rewrote the address without fixing the checksums.
	b, _ := NewTCP(netip.AddrPortFrom(pod, 1), netip.AddrPortFrom(svc, 2), SYN).Marshal()
	copy(b[14+16:], []byte{10, 0, 2, 7})
	got, _ := Parse(b)
	if got.IPv4.ChecksumValid || got.TCP.ChecksumValid {
		t.Errorf("after address rewrite: %v, want both checksums invalid", got)
	}
}

func tcpValid(p *Packet) *bool {
	if p.TCP == nil {
		return nil
	}
	return &p.TCP.ChecksumValid
}

func udpValid(p *Packet) *bool {
	if p.UDP == nil {
		return nil
	}
	return &p.UDP.ChecksumValid
}

func icmpValid(p *Packet) *bool {
	switch {
	case p.ICMP != nil:
		return &p.ICMP.ChecksumValid
	case p.ICMPv6 != nil:
		return &p.ICMPv6.ChecksumValid
	}
	return nil
}

func TestUDPZeroChecksum(t *testing.T) {
	for _, tc := range []struct {
		src, dst netip.Addr
		valid    bool
	}{
		{pod, svc, true},    // IPv4: "no checksum"
		{pod6, svc6, false}, // IPv6 requires a checksum
	} {
		p := NewUDP(netip.AddrPortFrom(tc.src, 1), netip.AddrPortFrom(tc.dst, 2))
		p.UDP.ZeroChecksum = true
		b, err := p.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		got, err := Parse(b)
		if err != nil {
			t.Fatal(err)
		}
		if got.UDP.Checksum != 0 || !got.UDP.ZeroChecksum || got.UDP.ChecksumValid != tc.valid {
			t.Errorf("%v: UDP %+v, want checksum 0, valid %v", tc.src, got.UDP, tc.valid)
		}
	}
}

func TestMarshalErrors(t *testing.T) {
	ip := func() *IPv4 { return &IPv4{Src: pod, Dst: svc} }
	for _, tc := range []struct {
		name string
		in   *Packet
		want string
	}{
		{"raw and layers", &Packet{Raw: Hex{1}, Eth: eth()}, "raw excludes layers, payload and trailer"},
		{"two network layers", &Packet{IPv4: ip(), IPv6: &IPv6{}}, "more than one of arp, ipv4 and ipv6 set"},
		{"two transport layers", &Packet{IPv4: ip(), TCP: &TCP{}, UDP: &UDP{}}, "more than one of tcp, udp, icmp and icmpv6 set"},
		{"transport without ip", &Packet{TCP: &TCP{}}, "transport layer needs ipv4 or ipv6"},
		{"arp payload", &Packet{ARP: &ARP{}, Payload: Bytes("x")}, "arp takes no payload; use trailer"},
		{"v6 address in ipv4", &Packet{IPv4: &IPv4{Src: pod6}}, "ipv4: source address fd00::1 is not IPv4"},
		{"v4 address in ipv6", &Packet{IPv6: &IPv6{Src: pod6, Dst: svc}}, "ipv6: destination address 10.96.0.10 is not IPv6"},
		{"v6 address in arp", &Packet{ARP: &ARP{TargetIP: pod6}}, "arp: destination address fd00::1 is not IPv4"},
		{"ipv4 flags", &Packet{IPv4: &IPv4{Flags: 8}}, "ipv4: flags 0x8 do not fit in 3 bits"},
		{"frag offset", &Packet{IPv4: &IPv4{FragOffset: 0x2000}}, "ipv4: frag-offset 8192 does not fit in 13 bits"},
		{"nop with data", &Packet{IPv4: &IPv4{Options: []IPv4Option{{Type: OptNOP, Data: Bytes{1}}}}}, "ipv4: option nop takes no data"},
		{"option too long", &Packet{IPv4: &IPv4{Options: []IPv4Option{{Type: 7, Data: make(Bytes, 254)}}}}, "ipv4: option type 0x07: 254 data bytes, at most 253 fit"},
		{"options too long", &Packet{IPv4: &IPv4{Options: []IPv4Option{{Type: 7, Data: make(Bytes, 40)}}}}, "ipv4: options take 44 bytes, at most 40 fit"},
		{"ipv4 too long", &Packet{IPv4: ip(), Payload: make(Bytes, 0xffff)}, "ipv4: packet of 65555 bytes exceeds the 65535 of total length"},
		{"ipv6 too long", &Packet{IPv6: &IPv6{}, Payload: make(Bytes, 0x10000)}, "ipv6: payload of 65536 bytes exceeds the 65535 of payload length"},
		{"udp too long", &Packet{IPv6: &IPv6{}, UDP: &UDP{}, Payload: make(Bytes, 0xffff)}, "udp: datagram of 65543 bytes exceeds the 65535 of length"},
		{"flow label", &Packet{IPv6: &IPv6{FlowLabel: 0x100000}}, "ipv6: flow-label 0x100000 does not fit in 20 bits"},
		{"tcp data offset", &Packet{IPv4: ip(), TCP: &TCP{DataOffset: 16}}, "tcp: data-offset 16 does not fit in 4 bits"},
		{"tcp flags", &Packet{IPv4: ip(), TCP: &TCP{Flags: 0x1000}}, "tcp: flags 0x1000 do not fit in 12 bits"},
		{"tcp options", &Packet{IPv4: ip(), TCP: &TCP{Options: make(Bytes, 41)}}, "tcp: options take 44 bytes, at most 40 fit"},
		{"negative truncate", &Packet{Truncate: -1}, "truncate -1: must not be negative"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.in.Marshal()
			if err == nil || err.Error() != tc.want {
				t.Errorf("Marshal error = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestRaw(t *testing.T) {
	p := &Packet{Raw: Hex{1, 2, 3, 4}, Truncate: 2}
	b, err := p.Marshal()
	if err != nil || !bytes.Equal(b, []byte{1, 2}) {
		t.Errorf("Marshal = %x, %v, want 0102", b, err)
	}
}

func TestParseMAC(t *testing.T) {
	for _, tc := range []struct {
		in, want string
	}{
		{"02:00:00:00:00:01", ""},
		{"02-AB-00-00-00-01", ""},
		{"02:00:00:00:00", `invalid MAC address "02:00:00:00:00": want six hex bytes like 02:00:00:00:00:01`},
		{"02:00:00:00:00:01:02", `invalid MAC address "02:00:00:00:00:01:02": want six hex bytes like 02:00:00:00:00:01`},
		{"02::00:00:00:00:01", `invalid MAC address "02::00:00:00:00:01": want six hex bytes like 02:00:00:00:00:01`},
		{"02:00:00:00:00:zz", `invalid MAC address "02:00:00:00:00:zz": bad byte "zz"`},
		{"02:00:00:00:00:123", `invalid MAC address "02:00:00:00:00:123": bad byte "123"`},
	} {
		m, err := ParseMAC(tc.in)
		if tc.want == "" {
			if err != nil || !strings.EqualFold(strings.ReplaceAll(tc.in, "-", ":"), m.String()) {
				t.Errorf("ParseMAC(%q) = %v, %v", tc.in, m, err)
			}
		} else if err == nil || err.Error() != tc.want {
			t.Errorf("ParseMAC(%q) error = %v, want %q", tc.in, err, tc.want)
		}
	}
}

func TestString(t *testing.T) {
	p := NewTCP(netip.AddrPortFrom(pod, 40000), netip.AddrPortFrom(svc, 80), SYN|ACK)
	p.Eth = eth()
	p.IPv4.Flags = DF
	p.IPv4.Options = []IPv4Option{DSROption(netip.AddrPortFrom(svc, 80))}
	p.Payload = Bytes("hi")
	got, err := Parse(mustMarshal(t, p))
	if err != nil {
		t.Fatal(err)
	}
	want := "eth 02:00:00:00:00:01 > 02:00:00:00:00:02 type 0x0800 | " +
		"ipv4 10.0.1.5 > 10.96.0.10 ttl 64 proto 6 id 0 len 50 csum 0x7e95 (valid) flags df frag 0 ihl 7 opt dsr 10.96.0.10:80 | " +
		"tcp 40000 > 80 [syn|ack] seq 0 ack 0 win 65535 csum 0x9568 (valid) | payload 2 bytes \"hi\""
	if got.String() != want {
		t.Errorf("String:\n got %s\nwant %s", got, want)
	}
	if s := (*Packet)(nil).String(); s != "<nil>" {
		t.Errorf("nil String = %q", s)
	}
}

func mustMarshal(t testing.TB, p *Packet) []byte {
	t.Helper()
	b, err := p.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}
