// Package packet describes network packets by their header fields, turns those
// descriptions into wire bytes and parses wire bytes back into them.
//
// dpforge tests a tc datapath one packet at a time: a scenario gives an input
// [Packet] by fields, [Packet.Marshal] turns it into the bytes handed to
// BPF_PROG_TEST_RUN, [Parse] turns the program's output back into a [Packet],
// and [Diff] compares that with the expected [Packet].
//
// # Vocabulary
//
// A layer is one protocol header: [Ethernet], [ARP], [IPv4], [IPv6], [TCP],
// [UDP], [ICMPv4] or [ICMPv6]. A [Packet] holds each layer as a pointer; a nil
// pointer means the layer is absent. At most one network layer (ARP, IPv4,
// IPv6) and one transport layer (TCP, UDP, ICMPv4, ICMPv6) may be set. The
// payload is what follows the innermost header; the trailer is what follows
// the end of the innermost length-delimited layer (the IPv4 total length, the
// IPv6 payload length, the UDP length), such as Ethernet padding.
//
// A derived field is one whose value Marshal can compute: EtherType, IPv4 IHL,
// TotLen, Protocol and Checksum, IPv6 PayloadLen and NextHeader, TCP
// DataOffset and Checksum, UDP Length and Checksum, ICMP Checksum. A derived
// field left at zero is computed; a non-zero one is written as given, which is
// how a test forges a bad IHL or a wrong checksum. TTL and HopLimit default to
// 64 when zero, so a packet with TTL 0 can only be forged through Raw. A UDP
// checksum of zero ("no checksum") is forged with UDP.ZeroChecksum.
//
// Parse fills every field it reads, derived ones included, and records in
// ChecksumValid whether each checksum it could verify was correct. A checksum
// cannot be verified when its layer is truncated or, for transport layers,
// when the IPv4 packet is a fragment; ChecksumValid is then false. So
// Marshal followed by Parse gives back the input with the derived fields
// filled in and ChecksumValid set.
//
// Parse never panics. On bad input it returns the layers it could read, puts
// the bytes it could not interpret into Payload, and returns an error naming
// the layer ("tcp: truncated: ..."). Errors wrap [ErrTruncated] when bytes are
// missing and [ErrMalformed] when a field has an impossible value.
//
// # Don't care
//
// [Diff] treats a zero value in the expected packet as "don't care": a nil
// layer, a zero field, a nil Payload or Options. So an expectation lists only
// the fields it cares about. Checksums follow the same rule: an expectation
// asks for a correct checksum with checksum-valid: true, and for an exact value
// with a non-zero Checksum. An expected packet given as Raw bytes is parsed
// and compared field by field, with nothing left out.
//
// # YAML
//
// Every type decodes from readable YAML with gopkg.in/yaml.v3:
//
//	eth: {src: "02:00:00:00:00:01", dst: "02:00:00:00:00:02"}
//	ipv4: {src: 10.0.1.5, dst: 10.96.0.10, ttl: 64, flags: [df]}
//	tcp: {sport: 40000, dport: 80, flags: [syn]}
//	payload: "hello"
//
// Payload, Trailer and option data are a string, or hex bytes after a "hex:"
// prefix; Raw is hex bytes with the prefix optional. Only leaf types (MAC,
// flag sets, byte strings, IPv4Option) have their own UnmarshalYAML, so a
// yaml.Decoder with KnownFields(true) rejects unknown keys at every level.
// Leaf errors carry the line number and are collected with yaml.v3's own
// errors in a *yaml.TypeError. Addresses are netip types, decoded by their
// UnmarshalText: a bad address aborts decoding with netip's error, which
// quotes the value but has no line number. The types also encode back to
// YAML, so a parsed packet can be shown in the scenario's own notation.
package packet
