package packet

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"slices"
)

// Parse reads an Ethernet frame: the Ethernet header, then by EtherType an
// IPv4, IPv6 or ARP (Ethernet/IPv4 only) layer, then by protocol a TCP, UDP,
// ICMP or ICMPv6 layer. What follows the last header it reads is Payload;
// what follows the end given by a length field is Trailer. A non-first IPv4
// fragment stops at the IPv4 layer.
//
// Parse fills derived fields and ChecksumValid. On bad input it returns the
// layers read so far, with the bytes it could not interpret in Payload, and
// an error naming each problem's layer; it reads past a problem when it can
// (a total length beyond the captured bytes, a malformed option). The
// returned packet does not share memory with b.
func Parse(b []byte) (*Packet, error) {
	ps := parser{p: &Packet{}}
	ps.eth(bytes.Clone(b))
	// Clip, so that appending to Payload cannot overwrite another field.
	ps.p.Payload = slices.Clip(ps.p.Payload)
	if len(ps.p.Payload) == 0 {
		ps.p.Payload = nil
	}
	return ps.p, errors.Join(ps.errs...)
}

type parser struct {
	p    *Packet
	errs []error
}

func (ps *parser) errorf(layer string, kind error, format string, args ...any) {
	ps.errs = append(ps.errs, fmt.Errorf("%s: %w: %s", layer, kind, fmt.Sprintf(format, args...)))
}

// short reports whether b is shorter than n bytes, recording the error.
func (ps *parser) short(layer, what string, b []byte, n int) bool {
	if len(b) >= n {
		return false
	}
	ps.errorf(layer, ErrTruncated, "%s needs %d bytes, have %d", what, n, len(b))
	ps.p.Payload = b
	return true
}

// limit returns b[start:end] for a layer whose length field gives end,
// moving what follows end to the front of the trailer. complete is false
// when b ends before end.
func (ps *parser) limit(layer, field string, b []byte, start, end int) (body []byte, complete bool) {
	switch {
	case end < start:
		ps.errorf(layer, ErrMalformed, "%s %d is shorter than the %d-byte header", field, end, start)
		return b[start:], false
	case end > len(b):
		ps.errorf(layer, ErrTruncated, "%s %d, have %d bytes", field, end, len(b))
		return b[start:], false
	case end < len(b):
		ps.p.Trailer = append(Bytes(bytes.Clone(b[end:])), ps.p.Trailer...)
	}
	return b[start:end], true
}

func (ps *parser) eth(b []byte) {
	if ps.short("ethernet", "header", b, 14) {
		return
	}
	e := &Ethernet{EtherType: EtherType(be.Uint16(b[12:]))}
	copy(e.Dst[:], b[0:6])
	copy(e.Src[:], b[6:12])
	ps.p.Eth = e
	switch b = b[14:]; e.EtherType {
	case EtherTypeIPv4:
		ps.ipv4(b)
	case EtherTypeIPv6:
		ps.ipv6(b)
	case EtherTypeARP:
		ps.arp(b)
	default:
		ps.p.Payload = b
	}
}

func (ps *parser) ipv4(b []byte) {
	if ps.short("ipv4", "header", b, 20) {
		return
	}
	if v := b[0] >> 4; v != 4 {
		ps.errorf("ipv4", ErrMalformed, "version %d", v)
		ps.p.Payload = b
		return
	}
	ip := &IPv4{
		IHL:        b[0] & 0xf,
		TOS:        b[1],
		TotLen:     be.Uint16(b[2:]),
		ID:         be.Uint16(b[4:]),
		Flags:      IPv4Flags(b[6] >> 5),
		FragOffset: be.Uint16(b[6:]) & 0x1fff,
		TTL:        b[8],
		Protocol:   b[9],
		Checksum:   be.Uint16(b[10:]),
		Src:        netip.AddrFrom4([4]byte(b[12:16])),
		Dst:        netip.AddrFrom4([4]byte(b[16:20])),
	}
	ps.p.IPv4 = ip
	hlen := int(ip.IHL) * 4
	if hlen < 20 {
		ps.errorf("ipv4", ErrMalformed, "ihl %d is below 5", ip.IHL)
		ps.p.Payload = b[20:]
		return
	}
	if len(b) < hlen {
		ps.errorf("ipv4", ErrTruncated, "ihl %d needs %d header bytes, have %d", ip.IHL, hlen, len(b))
		ps.p.Payload = b[20:]
		return
	}
	ip.ChecksumValid = Checksum(b[:hlen]) == 0
	ip.Options = ps.ipv4Options(b[20:hlen])
	body, complete := ps.limit("ipv4", "total length", b, hlen, int(ip.TotLen))
	if ip.FragOffset != 0 {
		ps.p.Payload = body // a non-first fragment has no transport header
		return
	}
	ps.transport(ip.Protocol, body, ip.Src, ip.Dst, complete, ip.Flags&MF != 0)
}

func (ps *parser) ipv4Options(b []byte) []IPv4Option {
	var opts []IPv4Option
	for i := 0; i < len(b); {
		switch t := b[i]; {
		case t == OptEOL:
			// Marshal pads to a multiple of 4 with zeros; keep anything else.
			if len(b)-i >= 4 || !allZero(b[i:]) {
				opts = append(opts, IPv4Option{Type: t, Data: Bytes(bytes.Clone(b[i+1:]))})
			}
			return opts
		case t == OptNOP:
			opts = append(opts, IPv4Option{Type: t})
			i++
		case i+1 >= len(b):
			ps.errorf("ipv4", ErrMalformed, "option type %#02x at header byte %d has no length", t, 20+i)
			return opts
		case b[i+1] < 2 || i+int(b[i+1]) > len(b):
			ps.errorf("ipv4", ErrMalformed, "option type %#02x at header byte %d: length %d does not fit in %d bytes",
				t, 20+i, b[i+1], len(b)-i)
			return opts
		default:
			n := int(b[i+1])
			opts = append(opts, IPv4Option{Type: t, Data: Bytes(bytes.Clone(b[i+2 : i+n]))})
			i += n
		}
	}
	return opts
}

func (ps *parser) ipv6(b []byte) {
	if ps.short("ipv6", "header", b, 40) {
		return
	}
	w := be.Uint32(b)
	if v := w >> 28; v != 6 {
		ps.errorf("ipv6", ErrMalformed, "version %d", v)
		ps.p.Payload = b
		return
	}
	ip := &IPv6{
		TrafficClass: uint8(w >> 20),
		FlowLabel:    w & 0xfffff,
		PayloadLen:   be.Uint16(b[4:]),
		NextHeader:   b[6],
		HopLimit:     b[7],
		Src:          netip.AddrFrom16([16]byte(b[8:24])),
		Dst:          netip.AddrFrom16([16]byte(b[24:40])),
	}
	ps.p.IPv6 = ip
	body, complete := ps.limit("ipv6", "payload length", b, 40, 40+int(ip.PayloadLen))
	ps.transport(ip.NextHeader, body, ip.Src, ip.Dst, complete, false)
}

func (ps *parser) arp(b []byte) {
	if ps.short("arp", "header", b, 8) {
		return
	}
	if be.Uint16(b) != 1 || be.Uint16(b[2:]) != uint16(EtherTypeIPv4) || b[4] != 6 || b[5] != 4 {
		ps.errorf("arp", ErrMalformed, "hardware type %d, protocol %#04x, address lengths %d and %d: only Ethernet/IPv4 is read",
			be.Uint16(b), be.Uint16(b[2:]), b[4], b[5])
		ps.p.Payload = b
		return
	}
	if ps.short("arp", "Ethernet/IPv4 message", b, 28) {
		return
	}
	a := &ARP{
		Op:       be.Uint16(b[6:]),
		SenderIP: netip.AddrFrom4([4]byte(b[14:18])),
		TargetIP: netip.AddrFrom4([4]byte(b[24:28])),
	}
	copy(a.SenderMAC[:], b[8:14])
	copy(a.TargetMAC[:], b[18:24])
	ps.p.ARP = a
	ps.limit("arp", "message length", b, 28, 28)
}

// transport reads the layer after IP. complete is false when the IP layer
// lacks bytes; fragment is true for a first fragment, whose transport length
// and checksum cover bytes that are in later fragments.
func (ps *parser) transport(proto uint8, b []byte, src, dst netip.Addr, complete, fragment bool) {
	p := ps.p
	verify := complete && !fragment
	switch proto {
	case ProtoTCP:
		if ps.short("tcp", "header", b, 20) {
			return
		}
		t := &TCP{
			SrcPort:    be.Uint16(b),
			DstPort:    be.Uint16(b[2:]),
			Seq:        be.Uint32(b[4:]),
			Ack:        be.Uint32(b[8:]),
			DataOffset: b[12] >> 4,
			Flags:      TCPFlags(b[12]&0xf)<<8 | TCPFlags(b[13]),
			Window:     be.Uint16(b[14:]),
			Checksum:   be.Uint16(b[16:]),
			Urgent:     be.Uint16(b[18:]),
		}
		p.TCP = t
		hlen := int(t.DataOffset) * 4
		switch {
		case hlen < 20:
			ps.errorf("tcp", ErrMalformed, "data offset %d is below 5", t.DataOffset)
			p.Payload = b[20:]
			return
		case hlen > len(b):
			ps.errorf("tcp", ErrTruncated, "data offset %d needs %d header bytes, have %d", t.DataOffset, hlen, len(b))
			p.Payload = b[20:]
			return
		case hlen > 20:
			t.Options = Bytes(slices.Clip(b[20:hlen]))
		}
		p.Payload = b[hlen:]
		t.ChecksumValid = verify && fold(sum(pseudoSum(src, dst, proto, len(b)), b)) == 0
	case ProtoUDP:
		if ps.short("udp", "header", b, 8) {
			return
		}
		u := &UDP{
			SrcPort:  be.Uint16(b),
			DstPort:  be.Uint16(b[2:]),
			Length:   be.Uint16(b[4:]),
			Checksum: be.Uint16(b[6:]),
		}
		p.UDP = u
		u.ZeroChecksum = u.Checksum == 0
		if u.Length < 8 {
			ps.errorf("udp", ErrMalformed, "length %d is below 8", u.Length)
			p.Payload = b[8:]
			return
		}
		if fragment && int(u.Length) > len(b) {
			p.Payload = b[8:]
			return
		}
		b, complete := ps.limit("udp", "length", b, 0, int(u.Length))
		p.Payload = b[8:]
		switch {
		case !verify || !complete:
		case u.ZeroChecksum:
			u.ChecksumValid = src.Is4() // only IPv4 allows "no checksum"
		default:
			u.ChecksumValid = fold(sum(pseudoSum(src, dst, proto, len(b)), b)) == 0
		}
	case ProtoICMP, ProtoICMPv6:
		layer := "icmp"
		if proto == ProtoICMPv6 {
			layer = "icmpv6"
		}
		if ps.short(layer, "header", b, 8) {
			return
		}
		c := &ICMPv4{Type: b[0], Code: b[1], Checksum: be.Uint16(b[2:]), ID: be.Uint16(b[4:]), Seq: be.Uint16(b[6:])}
		var pseudo uint32
		if proto == ProtoICMPv6 {
			pseudo = pseudoSum(src, dst, proto, len(b))
			p.ICMPv6 = (*ICMPv6)(c)
		} else {
			p.ICMP = c
		}
		c.ChecksumValid = verify && fold(sum(pseudo, b)) == 0
		p.Payload = b[8:]
	default:
		p.Payload = b
	}
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}
