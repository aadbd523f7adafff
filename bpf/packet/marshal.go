package packet

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
)

var be = binary.BigEndian

// Marshal returns the packet's wire bytes. Derived fields left at zero are
// computed; set ones are written as given. Marshal always writes an Ethernet
// header: a nil Eth means zero addresses.
func (p *Packet) Marshal() ([]byte, error) {
	b, err := p.marshal()
	if err != nil {
		return nil, err
	}
	switch {
	case p.Truncate < 0:
		return nil, fmt.Errorf("truncate %d: must not be negative", p.Truncate)
	case p.Truncate > len(b):
		return nil, fmt.Errorf("truncate %d: %w: packet has only %d bytes", p.Truncate, ErrTruncated, len(b))
	case p.Truncate > 0:
		b = b[:p.Truncate]
	}
	return b, nil
}

func (p *Packet) marshal() ([]byte, error) {
	network := count(p.ARP != nil, p.IPv4 != nil, p.IPv6 != nil)
	transport := count(p.TCP != nil, p.UDP != nil, p.ICMP != nil, p.ICMPv6 != nil)
	switch {
	case p.Raw != nil:
		if p.Eth != nil || network+transport > 0 || p.Payload != nil || p.Trailer != nil {
			return nil, errors.New("raw excludes layers, payload and trailer")
		}
		return append([]byte{}, p.Raw...), nil
	case network > 1:
		return nil, errors.New("more than one of arp, ipv4 and ipv6 set")
	case transport > 1:
		return nil, errors.New("more than one of tcp, udp, icmp and icmpv6 set")
	case transport > 0 && p.IPv4 == nil && p.IPv6 == nil:
		return nil, errors.New("transport layer needs ipv4 or ipv6")
	case p.ARP != nil && p.Payload != nil:
		return nil, errors.New("arp takes no payload; use trailer")
	}

	// Build from the inside out: the transport checksum needs the addresses,
	// the network header the transport length.
	var src, dst netip.Addr
	var err error
	switch {
	case p.IPv4 != nil:
		src, dst, err = addrs(p.IPv4.Src, p.IPv4.Dst, false)
		err = wrap("ipv4", err)
	case p.IPv6 != nil:
		src, dst, err = addrs(p.IPv6.Src, p.IPv6.Dst, true)
		err = wrap("ipv6", err)
	}
	if err != nil {
		return nil, err
	}
	b := []byte(p.Payload)
	var proto uint8
	switch {
	case p.TCP != nil:
		proto = ProtoTCP
		b, err = p.TCP.marshal(b, src, dst)
		err = wrap("tcp", err)
	case p.UDP != nil:
		proto = ProtoUDP
		b, err = p.UDP.marshal(b, src, dst)
		err = wrap("udp", err)
	case p.ICMP != nil:
		proto = ProtoICMP
		b = p.ICMP.marshal(b, 0)
	case p.ICMPv6 != nil:
		proto = ProtoICMPv6
		b = (*ICMPv4)(p.ICMPv6).marshal(b, pseudoSum(src, dst, proto, 8+len(b)))
	}
	if err != nil {
		return nil, err
	}

	var etherType EtherType
	switch {
	case p.IPv4 != nil:
		etherType = EtherTypeIPv4
		b, err = p.IPv4.marshal(b, src, dst, proto)
		err = wrap("ipv4", err)
	case p.IPv6 != nil:
		etherType = EtherTypeIPv6
		b, err = p.IPv6.marshal(b, src, dst, proto)
		err = wrap("ipv6", err)
	case p.ARP != nil:
		etherType = EtherTypeARP
		b, err = p.ARP.marshal()
		err = wrap("arp", err)
	}
	if err != nil {
		return nil, err
	}

	eth := p.Eth
	if eth == nil {
		eth = &Ethernet{}
	}
	if eth.EtherType != 0 {
		etherType = eth.EtherType
	}
	out := make([]byte, 0, 14+len(b)+len(p.Trailer))
	out = append(out, eth.Dst[:]...)
	out = append(out, eth.Src[:]...)
	out = be.AppendUint16(out, uint16(etherType))
	out = append(out, b...)
	return append(out, p.Trailer...), nil
}

func count(bs ...bool) int {
	n := 0
	for _, b := range bs {
		if b {
			n++
		}
	}
	return n
}

func wrap(layer string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w", layer, err)
}

// addrs checks that src and dst belong to the IP version, taking the zero
// Addr as the unspecified address.
func addrs(src, dst netip.Addr, v6 bool) (netip.Addr, netip.Addr, error) {
	norm := func(a netip.Addr, what string) (netip.Addr, error) {
		switch {
		case !a.IsValid() && v6:
			return netip.IPv6Unspecified(), nil
		case !a.IsValid():
			return netip.IPv4Unspecified(), nil
		case v6 && a.Is4():
			return a, fmt.Errorf("%s address %s is not IPv6", what, a)
		case !v6 && !a.Unmap().Is4():
			return a, fmt.Errorf("%s address %s is not IPv4", what, a)
		case !v6:
			return a.Unmap(), nil
		}
		return a, nil
	}
	s, err := norm(src, "source")
	if err != nil {
		return s, dst, err
	}
	d, err := norm(dst, "destination")
	return s, d, err
}

func (ip *IPv4) marshal(l4 []byte, src, dst netip.Addr, proto uint8) ([]byte, error) {
	switch {
	case ip.IHL > 15:
		return nil, fmt.Errorf("ihl %d does not fit in 4 bits", ip.IHL)
	case ip.Flags > 7:
		return nil, fmt.Errorf("flags %#x do not fit in 3 bits", uint8(ip.Flags))
	case ip.FragOffset > 0x1fff:
		return nil, fmt.Errorf("frag-offset %d does not fit in 13 bits", ip.FragOffset)
	}
	var opts []byte
	for _, o := range ip.Options {
		switch {
		case o.Type == OptEOL:
			opts = append(opts, o.Type)
			opts = append(opts, o.Data...)
		case o.Type == OptNOP && len(o.Data) == 0:
			opts = append(opts, o.Type)
		case o.Type == OptNOP:
			return nil, errors.New("option nop takes no data")
		case len(o.Data) > 253:
			return nil, fmt.Errorf("option type %#02x: %d data bytes, at most 253 fit", o.Type, len(o.Data))
		default:
			opts = append(opts, o.Type, byte(len(o.Data)+2))
			opts = append(opts, o.Data...)
		}
	}
	for len(opts)%4 != 0 {
		opts = append(opts, OptEOL)
	}
	if len(opts) > 40 {
		return nil, fmt.Errorf("options take %d bytes, at most 40 fit", len(opts))
	}
	hlen := 20 + len(opts)
	ihl := or(ip.IHL, uint8(hlen/4))
	if hlen+len(l4) > 0xffff && ip.TotLen == 0 {
		return nil, fmt.Errorf("packet of %d bytes exceeds the 65535 of total length", hlen+len(l4))
	}
	b := make([]byte, 0, hlen+len(l4))
	b = append(b, 4<<4|ihl, ip.TOS)
	b = be.AppendUint16(b, or(ip.TotLen, uint16(hlen+len(l4))))
	b = be.AppendUint16(b, ip.ID)
	b = be.AppendUint16(b, uint16(ip.Flags)<<13|ip.FragOffset)
	b = append(b, or(ip.TTL, 64), or(ip.Protocol, proto))
	b = be.AppendUint16(b, ip.Checksum)
	b = append(b, src.AsSlice()...)
	b = append(b, dst.AsSlice()...)
	b = append(b, opts...)
	if ip.Checksum == 0 {
		be.PutUint16(b[10:], Checksum(b))
	}
	return append(b, l4...), nil
}

func (ip *IPv6) marshal(l4 []byte, src, dst netip.Addr, proto uint8) ([]byte, error) {
	if ip.FlowLabel > 0xfffff {
		return nil, fmt.Errorf("flow-label %#x does not fit in 20 bits", ip.FlowLabel)
	}
	if len(l4) > 0xffff && ip.PayloadLen == 0 {
		return nil, fmt.Errorf("payload of %d bytes exceeds the 65535 of payload length", len(l4))
	}
	b := make([]byte, 0, 40+len(l4))
	b = be.AppendUint32(b, 6<<28|uint32(ip.TrafficClass)<<20|ip.FlowLabel)
	b = be.AppendUint16(b, or(ip.PayloadLen, uint16(len(l4))))
	b = append(b, or(ip.NextHeader, proto), or(ip.HopLimit, 64))
	b = append(b, src.AsSlice()...)
	b = append(b, dst.AsSlice()...)
	return append(b, l4...), nil
}

func (a *ARP) marshal() ([]byte, error) {
	sip, tip, err := addrs(a.SenderIP, a.TargetIP, false)
	if err != nil {
		return nil, err
	}
	// Hardware type Ethernet (1), protocol IPv4, address lengths 6 and 4.
	b := []byte{0, 1, 0x08, 0x00, 6, 4}
	b = be.AppendUint16(b, a.Op)
	b = append(b, a.SenderMAC[:]...)
	b = append(b, sip.AsSlice()...)
	b = append(b, a.TargetMAC[:]...)
	return append(b, tip.AsSlice()...), nil
}

func (t *TCP) marshal(payload []byte, src, dst netip.Addr) ([]byte, error) {
	if t.DataOffset > 15 {
		return nil, fmt.Errorf("data-offset %d does not fit in 4 bits", t.DataOffset)
	}
	opts := append([]byte{}, t.Options...)
	for len(opts)%4 != 0 {
		opts = append(opts, 0)
	}
	if len(opts) > 40 {
		return nil, fmt.Errorf("options take %d bytes, at most 40 fit", len(opts))
	}
	b := make([]byte, 0, 20+len(opts)+len(payload))
	b = be.AppendUint16(b, t.SrcPort)
	b = be.AppendUint16(b, t.DstPort)
	b = be.AppendUint32(b, t.Seq)
	b = be.AppendUint32(b, t.Ack)
	if t.Flags > 0xfff {
		return nil, fmt.Errorf("flags %#x do not fit in 12 bits", uint16(t.Flags))
	}
	b = append(b, or(t.DataOffset, uint8(5+len(opts)/4))<<4|byte(t.Flags>>8), byte(t.Flags))
	b = be.AppendUint16(b, t.Window)
	b = be.AppendUint16(b, t.Checksum)
	b = be.AppendUint16(b, t.Urgent)
	b = append(b, opts...)
	b = append(b, payload...)
	if t.Checksum == 0 {
		be.PutUint16(b[16:], fold(sum(pseudoSum(src, dst, ProtoTCP, len(b)), b)))
	}
	return b, nil
}

func (u *UDP) marshal(payload []byte, src, dst netip.Addr) ([]byte, error) {
	n := 8 + len(payload)
	if n > 0xffff && u.Length == 0 {
		return nil, fmt.Errorf("datagram of %d bytes exceeds the 65535 of length", n)
	}
	b := make([]byte, 0, n)
	b = be.AppendUint16(b, u.SrcPort)
	b = be.AppendUint16(b, u.DstPort)
	b = be.AppendUint16(b, or(u.Length, uint16(n)))
	b = be.AppendUint16(b, u.Checksum)
	b = append(b, payload...)
	if u.Checksum == 0 && !u.ZeroChecksum {
		c := fold(sum(pseudoSum(src, dst, ProtoUDP, len(b)), b))
		if c == 0 {
			c = 0xffff // 0 means "no checksum" (RFC 768)
		}
		be.PutUint16(b[6:], c)
	}
	return b, nil
}

// marshal writes an ICMP or ICMPv6 message; pseudo is the sum of the
// pseudo-header for ICMPv6 and 0 for ICMP.
func (c *ICMPv4) marshal(payload []byte, pseudo uint32) []byte {
	b := make([]byte, 0, 8+len(payload))
	b = append(b, c.Type, c.Code)
	b = be.AppendUint16(b, c.Checksum)
	b = be.AppendUint16(b, c.ID)
	b = be.AppendUint16(b, c.Seq)
	b = append(b, payload...)
	if c.Checksum == 0 {
		be.PutUint16(b[2:], fold(sum(pseudo, b)))
	}
	return b
}

// or returns v, or def when v is zero.
func or[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}
