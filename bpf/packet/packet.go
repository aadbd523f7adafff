package packet

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
)

// ErrTruncated is wrapped by Parse errors for input that ends inside a layer
// and by Marshal errors for a Truncate beyond the packet's length.
var ErrTruncated = errors.New("truncated")

// ErrMalformed is wrapped by Parse errors for a field with an impossible
// value, such as an IPv4 IHL below 5.
var ErrMalformed = errors.New("malformed")

// Packet is a packet described by its layers. See the package documentation
// for derived fields and the don't-care rule of Diff.
type Packet struct {
	Eth    *Ethernet `yaml:"eth,omitempty"`
	ARP    *ARP      `yaml:"arp,omitempty"`
	IPv4   *IPv4     `yaml:"ipv4,omitempty"`
	IPv6   *IPv6     `yaml:"ipv6,omitempty"`
	TCP    *TCP      `yaml:"tcp,omitempty"`
	UDP    *UDP      `yaml:"udp,omitempty"`
	ICMP   *ICMPv4   `yaml:"icmp,omitempty"`
	ICMPv6 *ICMPv6   `yaml:"icmpv6,omitempty"`
	// Payload follows the innermost header.
	Payload Bytes `yaml:"payload,omitempty"`
	// Trailer follows the end of the innermost length-delimited layer.
	Trailer Bytes `yaml:"trailer,omitempty"`
	// Truncate, when positive, cuts the marshaled packet to this many bytes.
	// Parse never sets it and Diff ignores it.
	Truncate int `yaml:"truncate,omitempty"`
	// Raw, when set, is the whole packet; no layer, Payload or Trailer may be
	// set with it. Parse never sets it.
	Raw Hex `yaml:"raw,omitempty"`
}

// EtherType is the type field of an Ethernet header.
type EtherType uint16

// EtherTypes that Parse follows.
const (
	EtherTypeIPv4 EtherType = 0x0800
	EtherTypeARP  EtherType = 0x0806
	EtherTypeIPv6 EtherType = 0x86dd
)

// IP protocol numbers that Parse follows.
const (
	ProtoICMP   uint8 = 1
	ProtoTCP    uint8 = 6
	ProtoUDP    uint8 = 17
	ProtoICMPv6 uint8 = 58
)

// Ethernet is an Ethernet II header.
type Ethernet struct {
	Src MAC `yaml:"src,omitempty"`
	Dst MAC `yaml:"dst,omitempty"`
	// EtherType is derived from the network layer when zero.
	EtherType EtherType `yaml:"ethertype,omitempty"`
}

// ARP operations.
const (
	ARPRequest uint16 = 1
	ARPReply   uint16 = 2
)

// ARP is an ARP message for IPv4 over Ethernet, the only kind Parse reads.
type ARP struct {
	Op        uint16     `yaml:"op,omitempty"`
	SenderMAC MAC        `yaml:"sender-mac,omitempty"`
	SenderIP  netip.Addr `yaml:"sender-ip"`
	TargetMAC MAC        `yaml:"target-mac,omitempty"`
	TargetIP  netip.Addr `yaml:"target-ip"`
}

// IPv4Flags are the three flag bits of an IPv4 header.
type IPv4Flags uint8

// IPv4 flag bits, with their values in the header's 3-bit flags field.
const (
	MF IPv4Flags = 1 << iota // more fragments
	DF                       // don't fragment
	RF                       // reserved, must be zero
)

// IPv4 is an IPv4 header. A zero address is written as 0.0.0.0.
type IPv4 struct {
	// Addresses have no omitempty: yaml.v3 takes every netip.Addr, whose
	// fields are unexported, for empty.
	Src netip.Addr `yaml:"src"`
	Dst netip.Addr `yaml:"dst"`
	TOS uint8      `yaml:"tos,omitempty"`
	// TotLen is derived when zero.
	TotLen uint16    `yaml:"tot-len,omitempty"`
	ID     uint16    `yaml:"id,omitempty"`
	Flags  IPv4Flags `yaml:"flags,omitempty"`
	// FragOffset is in units of 8 bytes, as on the wire.
	FragOffset uint16 `yaml:"frag-offset,omitempty"`
	// TTL is 64 when zero.
	TTL uint8 `yaml:"ttl,omitempty"`
	// Protocol is derived from the transport layer when zero.
	Protocol uint8 `yaml:"protocol,omitempty"`
	// Checksum is computed when zero.
	Checksum uint16 `yaml:"checksum,omitempty"`
	// IHL, the header length in 32-bit words, is derived from Options when
	// zero; a non-zero IHL is written as given even if it does not match.
	IHL     uint8        `yaml:"ihl,omitempty"`
	Options []IPv4Option `yaml:"options,omitempty"`
	// ChecksumValid is set by Parse; Marshal ignores it.
	ChecksumValid bool `yaml:"checksum-valid,omitempty"`
}

// IPv4 option types with no length byte.
const (
	OptEOL uint8 = 0 // end of option list
	OptNOP uint8 = 1 // no operation
)

// OptDSR is the IPv4 option type Cilium uses to carry the service address in
// direct server return mode.
const OptDSR uint8 = 0x9a

// IPv4Option is one IPv4 option. An OptNOP is the single type byte. An OptEOL
// is the type byte followed by Data as is, the rest of the header. Any other
// type is type, length (len(Data)+2) and Data. Marshal pads the options with
// zeros to a multiple of 4 bytes. Parse records an OptEOL only when the bytes
// from it on are not exactly that padding.
type IPv4Option struct {
	Type uint8
	Data Bytes
}

// DSROption returns Cilium's DSR option for a service address: type 0x9a,
// length 8, the port and then the IPv4 address, both in network byte order.
// An address that is not IPv4 gives an option Marshal rejects.
func DSROption(svc netip.AddrPort) IPv4Option {
	a := svc.Addr().Unmap()
	if !a.Is4() {
		return IPv4Option{Type: OptDSR, Data: a.AsSlice()}
	}
	b := a.As4()
	return IPv4Option{Type: OptDSR, Data: []byte{byte(svc.Port() >> 8), byte(svc.Port()), b[0], b[1], b[2], b[3]}}
}

// DSR decodes a DSR option. ok is false if o is not a well-formed DSR option.
func (o IPv4Option) DSR() (svc netip.AddrPort, ok bool) {
	if o.Type != OptDSR || len(o.Data) != 6 {
		return netip.AddrPort{}, false
	}
	port := uint16(o.Data[0])<<8 | uint16(o.Data[1])
	return netip.AddrPortFrom(netip.AddrFrom4([4]byte(o.Data[2:6])), port), true
}

// IPv6 is an IPv6 header without extension headers. A zero address is
// written as ::.
type IPv6 struct {
	Src          netip.Addr `yaml:"src"`
	Dst          netip.Addr `yaml:"dst"`
	TrafficClass uint8      `yaml:"traffic-class,omitempty"`
	FlowLabel    uint32     `yaml:"flow-label,omitempty"`
	// PayloadLen is derived when zero.
	PayloadLen uint16 `yaml:"payload-len,omitempty"`
	// NextHeader is derived from the transport layer when zero.
	NextHeader uint8 `yaml:"next-header,omitempty"`
	// HopLimit is 64 when zero.
	HopLimit uint8 `yaml:"hop-limit,omitempty"`
}

// TCPFlags are the twelve bits of a TCP header after the data offset: the
// eight classic flags in the low byte, then AE (formerly NS) and three
// reserved bits.
type TCPFlags uint16

// TCP flag bits.
const (
	FIN TCPFlags = 1 << iota
	SYN
	RST
	PSH
	ACK
	URG
	ECE
	CWR
	AE
)

// TCP is a TCP header.
type TCP struct {
	SrcPort uint16   `yaml:"sport,omitempty"`
	DstPort uint16   `yaml:"dport,omitempty"`
	Seq     uint32   `yaml:"seq,omitempty"`
	Ack     uint32   `yaml:"ack,omitempty"`
	Flags   TCPFlags `yaml:"flags,omitempty"`
	Window  uint16   `yaml:"window,omitempty"`
	// Checksum is computed when zero.
	Checksum uint16 `yaml:"checksum,omitempty"`
	Urgent   uint16 `yaml:"urgent,omitempty"`
	// DataOffset, the header length in 32-bit words, is derived from Options
	// when zero.
	DataOffset uint8 `yaml:"data-offset,omitempty"`
	// Options are the raw option bytes; Marshal pads them with zeros to a
	// multiple of 4.
	Options Bytes `yaml:"options,omitempty"`
	// ChecksumValid is set by Parse; Marshal ignores it.
	ChecksumValid bool `yaml:"checksum-valid,omitempty"`
}

// UDP is a UDP header.
type UDP struct {
	SrcPort uint16 `yaml:"sport,omitempty"`
	DstPort uint16 `yaml:"dport,omitempty"`
	// Length is derived when zero.
	Length uint16 `yaml:"length,omitempty"`
	// Checksum is computed when zero, unless ZeroChecksum is set.
	Checksum uint16 `yaml:"checksum,omitempty"`
	// ZeroChecksum sends checksum 0, "no checksum" over IPv4. Parse sets it
	// when the checksum is 0.
	ZeroChecksum bool `yaml:"zero-checksum,omitempty"`
	// ChecksumValid is set by Parse; a zero checksum over IPv4 is valid.
	ChecksumValid bool `yaml:"checksum-valid,omitempty"`
}

// ICMPv4 and ICMPv6 message types used by the constructors.
const (
	ICMPv4EchoReply   uint8 = 0
	ICMPv4EchoRequest uint8 = 8
	ICMPv6EchoRequest uint8 = 128
	ICMPv6EchoReply   uint8 = 129
)

// ICMPv4 is an ICMP header. ID and Seq are the two 16-bit words after the
// checksum, named after echo messages; for other types they hold whatever the
// type puts there (for "fragmentation needed", Seq is the next-hop MTU). The
// rest of the message, such as the quoted datagram of an error, is Payload.
type ICMPv4 struct {
	Type uint8  `yaml:"type,omitempty"`
	Code uint8  `yaml:"code,omitempty"`
	ID   uint16 `yaml:"id,omitempty"`
	Seq  uint16 `yaml:"seq,omitempty"`
	// Checksum is computed when zero.
	Checksum uint16 `yaml:"checksum,omitempty"`
	// ChecksumValid is set by Parse; Marshal ignores it.
	ChecksumValid bool `yaml:"checksum-valid,omitempty"`
}

// ICMPv6 is an ICMPv6 header, laid out like ICMPv4 (for "packet too big" ID
// and Seq are the high and low halves of the MTU). Its checksum covers the
// IPv6 pseudo-header.
type ICMPv6 struct {
	Type uint8  `yaml:"type,omitempty"`
	Code uint8  `yaml:"code,omitempty"`
	ID   uint16 `yaml:"id,omitempty"`
	Seq  uint16 `yaml:"seq,omitempty"`
	// Checksum is computed when zero.
	Checksum uint16 `yaml:"checksum,omitempty"`
	// ChecksumValid is set by Parse; Marshal ignores it.
	ChecksumValid bool `yaml:"checksum-valid,omitempty"`
}

// NewTCP returns an Ethernet/IP/TCP packet with zero MAC addresses, TTL 64
// and a window of 65535. The IP version follows src's address.
func NewTCP(src, dst netip.AddrPort, flags TCPFlags) *Packet {
	p := newIP(src.Addr(), dst.Addr())
	p.TCP = &TCP{SrcPort: src.Port(), DstPort: dst.Port(), Flags: flags, Window: 65535}
	return p
}

// NewUDP returns an Ethernet/IP/UDP packet with zero MAC addresses and TTL 64.
// The IP version follows src's address.
func NewUDP(src, dst netip.AddrPort) *Packet {
	p := newIP(src.Addr(), dst.Addr())
	p.UDP = &UDP{SrcPort: src.Port(), DstPort: dst.Port()}
	return p
}

// NewPing returns an ICMP echo request over IPv4, or an ICMPv6 one when src is
// an IPv6 address, with zero MAC addresses and TTL 64.
func NewPing(src, dst netip.Addr, id, seq uint16) *Packet {
	p := newIP(src, dst)
	if p.IPv6 != nil {
		p.ICMPv6 = &ICMPv6{Type: ICMPv6EchoRequest, ID: id, Seq: seq}
	} else {
		p.ICMP = &ICMPv4{Type: ICMPv4EchoRequest, ID: id, Seq: seq}
	}
	return p
}

func newIP(src, dst netip.Addr) *Packet {
	p := &Packet{Eth: &Ethernet{}}
	if src.Is6() && !src.Is4In6() {
		p.IPv6 = &IPv6{Src: src, Dst: dst, HopLimit: 64}
	} else {
		p.IPv4 = &IPv4{Src: src.Unmap(), Dst: dst.Unmap(), TTL: 64}
	}
	return p
}

// String describes the packet on one line, one "|"-separated part per layer,
// for test failure output.
func (p *Packet) String() string {
	if p == nil {
		return "<nil>"
	}
	var parts []string
	add := func(format string, args ...any) { parts = append(parts, fmt.Sprintf(format, args...)) }
	if p.Raw != nil {
		add("raw %d bytes %x", len(p.Raw), []byte(p.Raw))
	}
	if e := p.Eth; e != nil {
		add("eth %s > %s type %s", e.Src, e.Dst, e.EtherType)
	}
	if a := p.ARP; a != nil {
		add("arp op %d %s %s > %s %s", a.Op, a.SenderMAC, a.SenderIP, a.TargetMAC, a.TargetIP)
	}
	if ip := p.IPv4; ip != nil {
		s := fmt.Sprintf("ipv4 %s > %s ttl %d proto %d id %d len %d csum %#04x%s", ip.Src, ip.Dst,
			ip.TTL, ip.Protocol, ip.ID, ip.TotLen, ip.Checksum, valid(ip.ChecksumValid))
		if ip.Flags != 0 || ip.FragOffset != 0 {
			s += fmt.Sprintf(" flags %s frag %d", ip.Flags, ip.FragOffset)
		}
		if ip.TOS != 0 {
			s += fmt.Sprintf(" tos %#02x", ip.TOS)
		}
		if ip.IHL != 0 && ip.IHL != 5 {
			s += fmt.Sprintf(" ihl %d", ip.IHL)
		}
		for _, o := range ip.Options {
			s += " opt " + o.String()
		}
		parts = append(parts, s)
	}
	if ip := p.IPv6; ip != nil {
		add("ipv6 %s > %s hlim %d next %d plen %d tc %d flow %#x", ip.Src, ip.Dst,
			ip.HopLimit, ip.NextHeader, ip.PayloadLen, ip.TrafficClass, ip.FlowLabel)
	}
	if t := p.TCP; t != nil {
		s := fmt.Sprintf("tcp %d > %d [%s] seq %d ack %d win %d csum %#04x%s", t.SrcPort, t.DstPort,
			t.Flags, t.Seq, t.Ack, t.Window, t.Checksum, valid(t.ChecksumValid))
		if len(t.Options) > 0 {
			s += fmt.Sprintf(" opts %x", []byte(t.Options))
		}
		parts = append(parts, s)
	}
	if u := p.UDP; u != nil {
		add("udp %d > %d len %d csum %#04x%s", u.SrcPort, u.DstPort, u.Length, u.Checksum, valid(u.ChecksumValid))
	}
	if c := p.ICMP; c != nil {
		add("icmp type %d code %d id %d seq %d csum %#04x%s", c.Type, c.Code, c.ID, c.Seq, c.Checksum, valid(c.ChecksumValid))
	}
	if c := p.ICMPv6; c != nil {
		add("icmpv6 type %d code %d id %d seq %d csum %#04x%s", c.Type, c.Code, c.ID, c.Seq, c.Checksum, valid(c.ChecksumValid))
	}
	if p.Payload != nil {
		add("payload %s", p.Payload)
	}
	if p.Trailer != nil {
		add("trailer %s", p.Trailer)
	}
	if p.Truncate != 0 {
		add("truncate %d", p.Truncate)
	}
	return strings.Join(parts, " | ")
}

func valid(ok bool) string {
	if ok {
		return " (valid)"
	}
	return ""
}

// String formats the option as "dsr 10.96.0.10:80", "nop", "eol" or
// "type 0x.. data ..".
func (o IPv4Option) String() string {
	if svc, ok := o.DSR(); ok {
		return "dsr " + svc.String()
	}
	switch {
	case o.Type == OptEOL && len(o.Data) == 0:
		return "eol"
	case o.Type == OptNOP && len(o.Data) == 0:
		return "nop"
	}
	return fmt.Sprintf("type %#02x data %x", o.Type, []byte(o.Data))
}
