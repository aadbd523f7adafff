package packet

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"gopkg.in/yaml.v3"
)

func decodeYAML(src string) (*Packet, error) {
	dec := yaml.NewDecoder(strings.NewReader(src))
	dec.KnownFields(true)
	var p Packet
	err := dec.Decode(&p)
	return &p, err
}

func TestYAMLDecode(t *testing.T) {
	for _, tc := range []struct {
		name string
		src  string
		want *Packet
	}{
		{"brief example", `
eth: {src: "02:00:00:00:00:01", dst: "02:00:00:00:00:02"}
ipv4: {src: 10.0.1.5, dst: 10.96.0.10, ttl: 64}
tcp: {sport: 40000, dport: 80, flags: [syn]}
payload: "hello"
`, &Packet{
			Eth:     eth(),
			IPv4:    &IPv4{Src: pod, Dst: svc, TTL: 64},
			TCP:     &TCP{SrcPort: 40000, DstPort: 80, Flags: SYN},
			Payload: Bytes("hello"),
		}},
		{"every ipv4 and tcp field", `
eth: {src: 02:00:00:00:00:01, dst: 02-00-00-00-00-02, ethertype: 0x0800}
ipv4:
  src: 10.0.1.5
  dst: 10.96.0.10
  tos: 0x10
  tot-len: 60
  id: 4660
  flags: df|mf
  frag-offset: 0
  ttl: 1
  protocol: 6
  checksum: 0xdead
  ihl: 4
  options:
    - {dsr: "10.96.0.10:80"}
    - {type: 1}
    - {type: 0x94, data: "hex:0000"}
  checksum-valid: true
tcp:
  sport: 1
  dport: 2
  seq: 4294967295
  ack: 7
  flags: "syn, ACK"
  window: 65535
  checksum: 0xbeef
  urgent: 3
  data-offset: 6
  options: "hex:02 04 05 b4"
  checksum-valid: true
truncate: 40
`, &Packet{
			Eth: &Ethernet{Src: mac1, Dst: mac2, EtherType: EtherTypeIPv4},
			IPv4: &IPv4{Src: pod, Dst: svc, TOS: 0x10, TotLen: 60, ID: 0x1234, Flags: DF | MF, TTL: 1,
				Protocol: ProtoTCP, Checksum: 0xdead, IHL: 4, ChecksumValid: true,
				Options: []IPv4Option{DSROption(netip.AddrPortFrom(svc, 80)), {Type: OptNOP}, {Type: 0x94, Data: Bytes{0, 0}}}},
			TCP: &TCP{SrcPort: 1, DstPort: 2, Seq: 0xffffffff, Ack: 7, Flags: SYN | ACK, Window: 65535,
				Checksum: 0xbeef, Urgent: 3, DataOffset: 6, Options: Bytes{2, 4, 5, 0xb4}, ChecksumValid: true},
			Truncate: 40,
		}},
		{"ipv6 udp", `
ipv6: {src: "fd00::1", dst: "fd00::a", traffic-class: 184, flow-label: 0xabcde, payload-len: 10, next-header: 17, hop-limit: 255}
udp: {sport: 5353, dport: 53, length: 10, checksum: 1, zero-checksum: true, checksum-valid: true}
payload: "hex:dead:beef"
trailer: ""
`, &Packet{
			IPv6:    &IPv6{Src: pod6, Dst: svc6, TrafficClass: 184, FlowLabel: 0xabcde, PayloadLen: 10, NextHeader: 17, HopLimit: 255},
			UDP:     &UDP{SrcPort: 5353, DstPort: 53, Length: 10, Checksum: 1, ZeroChecksum: true, ChecksumValid: true},
			Payload: Bytes{0xde, 0xad, 0xbe, 0xef},
			Trailer: Bytes{},
		}},
		{"icmp", `
ipv4: {src: 10.96.0.10, dst: 10.0.1.5}
icmp: {type: 3, code: 4, id: 0, seq: 1450, checksum: 5, checksum-valid: true}
`, &Packet{
			IPv4: &IPv4{Src: svc, Dst: pod},
			ICMP: &ICMPv4{Type: 3, Code: 4, Seq: 1450, Checksum: 5, ChecksumValid: true},
		}},
		{"icmpv6", `
ipv6: {src: "fd00::1", dst: "fd00::a"}
icmpv6: {type: 128, code: 0, id: 7, seq: 1, checksum: 5, checksum-valid: true}
`, &Packet{
			IPv6:   &IPv6{Src: pod6, Dst: svc6},
			ICMPv6: &ICMPv6{Type: 128, ID: 7, Seq: 1, Checksum: 5, ChecksumValid: true},
		}},
		{"arp", `
eth: {dst: "ff:ff:ff:ff:ff:ff"}
arp: {op: 1, sender-mac: "02:00:00:00:00:01", sender-ip: 10.0.1.5, target-mac: "00:00:00:00:00:00", target-ip: 10.96.0.10}
`, &Packet{
			Eth: &Ethernet{Dst: MAC{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}},
			ARP: &ARP{Op: ARPRequest, SenderMAC: mac1, SenderIP: pod, TargetIP: svc},
		}},
		{"flags as number and list", `
ipv4: {flags: 2}
tcp: {flags: [fin, psh, ae]}
`, &Packet{IPv4: &IPv4{Flags: DF}, TCP: &TCP{Flags: FIN | PSH | AE}}},
		{"raw", `
raw: |
  02000000 0002
  ff:ee
`, &Packet{Raw: Hex{2, 0, 0, 0, 0, 2, 0xff, 0xee}}},
		{"raw with prefix", `raw: "hex:0102"`, &Packet{Raw: Hex{1, 2}}},
		{"empty payload", `payload: ""`, &Packet{Payload: Bytes{}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := decodeYAML(tc.src)
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tc.want, got, cmpOptions); d != "" {
				t.Errorf("decode (-want +got):\n%s", d)
			}
		})
	}
}

func TestYAMLEmptyPayloadIsNotNil(t *testing.T) {
	p, err := decodeYAML(`payload: ""`)
	if err != nil || p.Payload == nil {
		t.Errorf("payload: \"\" gave %#v, %v; want empty, non-nil", p.Payload, err)
	}
}

func TestYAMLErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		src  string
		want []string
	}{
		{"unknown top-level key", "eth: {}\nipv5: {}\n", []string{"line 2: field ipv5 not found in type packet.Packet"}},
		{"unknown nested key", "ipv4:\n  src: 10.0.1.5\n  tll: 64\n", []string{"line 3: field tll not found in type packet.IPv4"}},
		{"unknown tcp key", "tcp: {sport: 1, src-port: 2}\n", []string{"line 1: field src-port not found in type packet.TCP"}},
		{"bad mac", "eth:\n  src: 02:00:00:00:01\n", []string{`line 2: invalid MAC address "02:00:00:00:01": want six hex bytes like 02:00:00:00:00:01`}},
		{"mac not a string", "eth:\n  dst: [1, 2]\n", []string{"line 2: MAC address must be a string like 02:00:00:00:00:01"}},
		{"bad tcp flag", "tcp:\n  flags: [syn,\n    sin]\n", []string{`line 3: unknown TCP flag "sin" (want one of fin, syn, rst, psh, ack, urg, ece, cwr, ae)`}},
		{"bad flag in string", "tcp: {flags: \"syn|fyn\"}\n", []string{`line 1: unknown TCP flag "fyn"`}},
		{"tcp flags number too big", "tcp: {flags: 0x1000}\n", []string{"line 1: TCP flags 0x1000 do not fit in 12 bits"}},
		{"bad ipv4 flag", "ipv4:\n  flags: [dont-fragment]\n", []string{`line 2: unknown IPv4 flag "dont-fragment" (want one of mf, df, rf)`}},
		{"flags mapping", "ipv4: {flags: {df: true}}\n", []string{"line 1: IPv4 flags must be a list of names like [df]"}},
		{"bad hex payload", "payload: \"hex:abc\"\n", []string{"line 1: invalid hex bytes: encoding/hex: odd length hex string"}},
		{"payload list", "payload: [1, 2]\n", []string{`line 1: bytes must be a string, or hex after "hex:"`}},
		{"bad raw", "raw: zz\n", []string{"line 1: invalid hex bytes: encoding/hex: invalid byte: U+007A 'z'"}},
		{"port out of range", "udp: {sport: 70000}\n", []string{"line 1: cannot unmarshal !!int `70000` into uint16"}},
		{"ttl out of range", "ipv4:\n  ttl: 256\n", []string{"line 2: cannot unmarshal !!int `256` into uint8"}},
		{"bad dsr", "ipv4:\n  options:\n    - dsr: 10.96.0.10\n", []string{`line 3: invalid DSR service "10.96.0.10": want IPv4 ADDR:PORT`}},
		{"ipv6 dsr", "ipv4:\n  options:\n    - dsr: \"[fd00::1]:80\"\n", []string{`line 3: invalid DSR service "[fd00::1]:80": want IPv4 ADDR:PORT`}},
		{"dsr with type", "ipv4:\n  options:\n    - {dsr: \"10.96.0.10:80\", type: 1}\n", []string{"line 3: dsr excludes type and data"}},
		{"unknown option key", "ipv4:\n  options:\n    - {typ: 1}\n", []string{`line 3: unknown IPv4 option key "typ" (want type, data or dsr)`,
			`line 3: IPv4 option must be {type: N, data: ...} or {dsr: "10.96.0.10:80"}`}},
		{"option type too big", "ipv4:\n  options:\n    - type: 256\n", []string{"line 3: cannot unmarshal !!int `256` into uint8"}},
		{"option data", "ipv4:\n  options:\n    - type: 7\n      data: \"hex:0\"\n", []string{"line 4: invalid hex bytes"}},
		{"option scalar", "ipv4:\n  options: [nop]\n", []string{`line 2: IPv4 option must be {type: N, data: ...}`}},
		{"errors are collected", "eth:\n  src: bad\n  dst: worse\ntcp:\n  flags: [sin]\n  sport: x\n", []string{
			`line 2: invalid MAC address "bad"`,
			`line 3: invalid MAC address "worse"`,
			`line 5: unknown TCP flag "sin"`,
			"line 6: cannot unmarshal !!str `x` into uint16",
		}},
		// netip decodes addresses through UnmarshalText, which yaml.v3 does
		// not give a line number.
		{"bad address", "ipv4:\n  src: 10.0.1.x\n", []string{`ParseAddr("10.0.1.x")`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := decodeYAML(tc.src)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error\n%v\ndoes not contain %q", err, w)
				}
			}
		})
	}
}

func TestYAMLEncode(t *testing.T) {
	p := NewTCP(netip.AddrPortFrom(pod, 40000), netip.AddrPortFrom(svc, 80), SYN|ACK)
	p.Eth = eth()
	p.IPv4.Flags = DF
	p.IPv4.Options = []IPv4Option{DSROption(netip.AddrPortFrom(svc, 80)), {Type: OptNOP}, {Type: 7, Data: Bytes{1, 2}}}
	p.Payload = Bytes("hi\x00")
	p.Trailer = Bytes("pad")
	got, err := Parse(mustMarshal(t, p))
	if err != nil {
		t.Fatal(err)
	}
	out, err := yaml.Marshal(got)
	if err != nil {
		t.Fatal(err)
	}
	want := `eth:
    src: "02:00:00:00:00:01"
    dst: "02:00:00:00:00:02"
    ethertype: 0x0800
ipv4:
    src: 10.0.1.5
    dst: 10.96.0.10
    tot-len: 59
    flags: [df]
    ttl: 64
    protocol: 6
    checksum: 30084
    ihl: 9
    options:
        - dsr: 10.96.0.10:80
        - type: 1
        - type: 7
          data: hex:0102
    checksum-valid: true
tcp:
    sport: 40000
    dport: 80
    flags: [syn, ack]
    window: 65535
    checksum: 38247
    data-offset: 5
    checksum-valid: true
payload: hex:686900
trailer: pad
`
	if d := cmp.Diff(want, string(out)); d != "" {
		t.Errorf("yaml.Marshal (-want +got):\n%s", d)
	}
	back, err := decodeYAML(string(out))
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(got, back, cmpOptions); d != "" {
		t.Errorf("decode(encode(p)) (-p +got):\n%s", d)
	}
}
