package packet

import (
	"net/netip"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

var cmpOptions = cmp.Options{
	cmp.Comparer(func(a, b netip.Addr) bool { return a == b }),
	cmp.FilterValues(func(a, b []IPv4Option) bool { return true }, cmpopts.EquateEmpty()),
	// Compare byte strings in their YAML form, so that a report shows
	// "hello" or hex:..., not a column of bytes.
	cmp.Transformer("yaml", Bytes.text),
}

// Diff compares a packet from Parse with an expectation and returns "" when
// it matches, or a go-cmp report of the differences (-want +got).
//
// A zero value in want means "don't care": a nil layer, a zero field, a nil
// Payload, Trailer or Options are not compared. An empty but non-nil Payload
// (YAML payload: "") asks for no payload. Derived fields follow the same
// rule, so checksums are compared only when want asks: ChecksumValid true
// requires a correct checksum, a non-zero Checksum an exact value. Truncate
// is never compared. When want.Raw is set, it is parsed and compared with
// got field by field, with nothing left out.
func Diff(want, got *Packet) string {
	if want == nil {
		return ""
	}
	if got != nil {
		c := *got
		c.Raw, c.Truncate = nil, 0
		got = &c
	}
	if want.Raw != nil {
		w, _ := Parse(want.Raw) // an error is a malformed expectation, compared like any other
		return cmp.Diff(w, got, cmpOptions)
	}
	w := *want
	w.Truncate = 0
	return cmp.Diff(&w, mask(&w, got), cmpOptions)
}

// mask returns a copy of g without the fields that w does not care about.
func mask(w, g *Packet) *Packet {
	if g == nil {
		return nil
	}
	m := &Packet{
		Eth:    maskLayer(w.Eth, g.Eth, maskEthernet),
		ARP:    maskLayer(w.ARP, g.ARP, maskARP),
		IPv4:   maskLayer(w.IPv4, g.IPv4, maskIPv4),
		IPv6:   maskLayer(w.IPv6, g.IPv6, maskIPv6),
		TCP:    maskLayer(w.TCP, g.TCP, maskTCP),
		UDP:    maskLayer(w.UDP, g.UDP, maskUDP),
		ICMP:   maskLayer(w.ICMP, g.ICMP, maskICMP),
		ICMPv6: maskLayer(w.ICMPv6, g.ICMPv6, func(w, m *ICMPv6) { maskICMP((*ICMPv4)(w), (*ICMPv4)(m)) }),
	}
	if w.Payload != nil {
		m.Payload = g.Payload
	}
	if w.Trailer != nil {
		m.Trailer = g.Trailer
	}
	return m
}

// maskLayer returns nil when w or g is nil, else a copy of g masked by f.
func maskLayer[T any](w, g *T, f func(w, m *T)) *T {
	if w == nil || g == nil {
		return nil
	}
	m := *g
	f(w, &m)
	return &m
}

// keep zeroes *m when w is zero.
func keep[T comparable](w T, m *T) {
	var zero T
	if w == zero {
		*m = zero
	}
}

func maskEthernet(w, m *Ethernet) {
	keep(w.Src, &m.Src)
	keep(w.Dst, &m.Dst)
	keep(w.EtherType, &m.EtherType)
}

func maskARP(w, m *ARP) {
	keep(w.Op, &m.Op)
	keep(w.SenderMAC, &m.SenderMAC)
	keep(w.SenderIP, &m.SenderIP)
	keep(w.TargetMAC, &m.TargetMAC)
	keep(w.TargetIP, &m.TargetIP)
}

func maskIPv4(w, m *IPv4) {
	keep(w.Src, &m.Src)
	keep(w.Dst, &m.Dst)
	keep(w.TOS, &m.TOS)
	keep(w.TotLen, &m.TotLen)
	keep(w.ID, &m.ID)
	keep(w.Flags, &m.Flags)
	keep(w.FragOffset, &m.FragOffset)
	keep(w.TTL, &m.TTL)
	keep(w.Protocol, &m.Protocol)
	keep(w.Checksum, &m.Checksum)
	keep(w.IHL, &m.IHL)
	keep(w.ChecksumValid, &m.ChecksumValid)
	if w.Options == nil {
		m.Options = nil
	}
}

func maskIPv6(w, m *IPv6) {
	keep(w.Src, &m.Src)
	keep(w.Dst, &m.Dst)
	keep(w.TrafficClass, &m.TrafficClass)
	keep(w.FlowLabel, &m.FlowLabel)
	keep(w.PayloadLen, &m.PayloadLen)
	keep(w.NextHeader, &m.NextHeader)
	keep(w.HopLimit, &m.HopLimit)
}

func maskTCP(w, m *TCP) {
	keep(w.SrcPort, &m.SrcPort)
	keep(w.DstPort, &m.DstPort)
	keep(w.Seq, &m.Seq)
	keep(w.Ack, &m.Ack)
	keep(w.Flags, &m.Flags)
	keep(w.Window, &m.Window)
	keep(w.Checksum, &m.Checksum)
	keep(w.Urgent, &m.Urgent)
	keep(w.DataOffset, &m.DataOffset)
	keep(w.ChecksumValid, &m.ChecksumValid)
	if w.Options == nil {
		m.Options = nil
	}
}

func maskUDP(w, m *UDP) {
	keep(w.SrcPort, &m.SrcPort)
	keep(w.DstPort, &m.DstPort)
	keep(w.Length, &m.Length)
	keep(w.Checksum, &m.Checksum)
	keep(w.ZeroChecksum, &m.ZeroChecksum)
	keep(w.ChecksumValid, &m.ChecksumValid)
}

func maskICMP(w, m *ICMPv4) {
	keep(w.Type, &m.Type)
	keep(w.Code, &m.Code)
	keep(w.ID, &m.ID)
	keep(w.Seq, &m.Seq)
	keep(w.Checksum, &m.Checksum)
	keep(w.ChecksumValid, &m.ChecksumValid)
}
