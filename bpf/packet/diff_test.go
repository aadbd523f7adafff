package packet

import (
	"net/netip"
	"strings"
	"testing"
)

func TestDiff(t *testing.T) {
	// got is what a datapath that DNATs 10.96.0.10:80 to 10.0.2.7:8080 and
	// fixes the checksums would return.
	in := NewTCP(netip.AddrPortFrom(pod, 40000), netip.AddrPortFrom(svc, 80), SYN)
	in.Eth = eth()
	in.Payload = Bytes("hello")
	nat := *in
	ip, tcp := *in.IPv4, *in.TCP
	ip.Dst, ip.TTL, tcp.DstPort = netip.MustParseAddr("10.0.2.7"), 63, 8080
	nat.IPv4, nat.TCP = &ip, &tcp
	got, err := Parse(mustMarshal(t, &nat))
	if err != nil {
		t.Fatal(err)
	}
	broken := mustMarshal(t, &nat)
	broken[len(broken)-1] = 'O' // payload changed after the checksum
	gotBroken, err := Parse(broken)
	if err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name string
		want *Packet
		got  *Packet
		diff []string // substrings of the report; none means no difference
	}{
		{"nil want cares about nothing", nil, got, nil},
		{"empty want cares about nothing", &Packet{}, got, nil},
		{"only the rewritten fields", &Packet{
			IPv4: &IPv4{Dst: netip.MustParseAddr("10.0.2.7")},
			TCP:  &TCP{DstPort: 8080},
		}, got, nil},
		{"wrong port", &Packet{TCP: &TCP{DstPort: 80}}, got, []string{"DstPort", "80", "8080"}},
		{"wrong address", &Packet{IPv4: &IPv4{Dst: svc}}, got, []string{"Dst", "10.96.0.10", "10.0.2.7"}},
		{"wrong flags", &Packet{TCP: &TCP{Flags: SYN | ACK}}, got, []string{"Flags", "syn|ack", "syn"}},
		{"missing layer", &Packet{UDP: &UDP{DstPort: 53}}, got, []string{"UDP", "&packet.UDP"}},
		{"valid checksums asked and given", &Packet{
			IPv4: &IPv4{ChecksumValid: true},
			TCP:  &TCP{ChecksumValid: true},
		}, got, nil},
		{"valid checksum asked, not given", &Packet{TCP: &TCP{ChecksumValid: true}}, gotBroken, []string{"ChecksumValid", "true", "false"}},
		{"checksum not asked", &Packet{TCP: &TCP{DstPort: 8080}}, gotBroken, nil},
		{"exact checksum", &Packet{TCP: &TCP{Checksum: 1}}, got, []string{"Checksum"}},
		{"payload", &Packet{Payload: Bytes("hello")}, got, nil},
		{"wrong payload", &Packet{Payload: Bytes("hellO")}, got, []string{"Payload", "hellO", "hello"}},
		{"empty payload asked", &Packet{Payload: Bytes{}}, got, []string{"Payload"}},
		{"truncate ignored", &Packet{Truncate: 3}, got, nil},
		{"got nil", &Packet{}, nil, []string{"packet.Packet"}},
		{"raw is exact", &Packet{Raw: Hex(mustMarshal(t, &nat))}, got, nil},
		{"raw shows the field", &Packet{Raw: Hex(mustMarshal(t, in))}, got, []string{"DstPort", "TTL", "Checksum"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := Diff(tc.want, tc.got)
			if len(tc.diff) == 0 && d != "" {
				t.Errorf("Diff reported a difference:\n%s", d)
			}
			if len(tc.diff) > 0 && d == "" {
				t.Error("Diff reported no difference")
			}
			for _, s := range tc.diff {
				if !strings.Contains(d, s) {
					t.Errorf("Diff report does not contain %q:\n%s", s, d)
				}
			}
		})
	}
}
