package packet

import (
	"bytes"
	"errors"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
	"gopkg.in/yaml.v3"
)

// FuzzParse checks that Parse never panics, that its errors name a sentinel,
// that a parsed packet survives YAML and Diff, and that a packet parsed
// without error marshals back to the same bytes unless it relies on a
// zero value Marshal replaces (a checksum, TTL or hop limit of 0). The seed
// corpus is in testdata/fuzz/FuzzParse.
//
//	go test -run '^$' -fuzz=FuzzParse -fuzztime=30s -fuzzminimizetime=2s ./bpf/packet
//
// A short -fuzzminimizetime keeps the workers fuzzing: by default each new
// input is minimized for up to 60s, during which no executions are counted.
func FuzzParse(f *testing.F) {
	for _, p := range []*Packet{
		NewTCP(netip.MustParseAddrPort("10.0.1.5:40000"), netip.MustParseAddrPort("10.96.0.10:80"), SYN),
		NewUDP(netip.MustParseAddrPort("[fd00::1]:5353"), netip.MustParseAddrPort("[fd00::a]:53")),
	} {
		f.Add(mustMarshal(f, p))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := Parse(b)
		if p == nil {
			t.Fatal("Parse returned nil")
		}
		_ = p.String()
		if d := Diff(p, p); d != "" {
			t.Fatalf("Diff(p, p):\n%s", d)
		}
		y, yerr := yaml.Marshal(p)
		if yerr != nil {
			t.Fatalf("yaml.Marshal: %v", yerr)
		}
		back, yerr := decodeYAML(string(y))
		if yerr != nil {
			t.Fatalf("decoding\n%s: %v", y, yerr)
		}
		if !cmp.Equal(p, back, cmpOptions) {
			t.Fatalf("YAML round trip of\n%s(-parsed +decoded):\n%s", y, cmp.Diff(p, back, cmpOptions))
		}
		if err != nil {
			if !errors.Is(err, ErrTruncated) && !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v wraps neither ErrTruncated nor ErrMalformed", err)
			}
			return
		}
		if replacesZero(p) {
			return
		}
		out, err := p.Marshal()
		if err != nil {
			t.Fatalf("Marshal(%v): %v", p, err)
		}
		if !bytes.Equal(out, b) {
			t.Fatalf("Marshal(Parse(b)) != b\n got %x\nwant %x\npacket %v", out, b, p)
		}
	})
}

// replacesZero reports whether p has a zero field that Marshal would fill.
func replacesZero(p *Packet) bool {
	return p.IPv4 != nil && (p.IPv4.Checksum == 0 || p.IPv4.TTL == 0) ||
		p.IPv6 != nil && p.IPv6.HopLimit == 0 ||
		p.TCP != nil && p.TCP.Checksum == 0 ||
		p.ICMP != nil && p.ICMP.Checksum == 0 ||
		p.ICMPv6 != nil && p.ICMPv6.Checksum == 0
}
