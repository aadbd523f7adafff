package packet

import "net/netip"

// sum adds b as big-endian 16-bit words to the one's complement sum s,
// padding an odd last byte with zero (RFC 1071). Carries are folded by fold.
func sum(s uint32, b []byte) uint32 {
	// A 64-bit accumulator cannot overflow for any input that fits in memory.
	acc := uint64(s)
	for len(b) >= 2 {
		acc += uint64(b[0])<<8 | uint64(b[1])
		b = b[2:]
	}
	if len(b) == 1 {
		acc += uint64(b[0]) << 8
	}
	for acc>>32 != 0 {
		acc = acc&0xffffffff + acc>>32
	}
	return uint32(acc)
}

// fold returns the checksum, the complement of the folded sum.
func fold(s uint32) uint16 {
	for s>>16 != 0 {
		s = s&0xffff + s>>16
	}
	return ^uint16(s)
}

// Checksum returns the Internet checksum (RFC 1071) of b. A buffer whose
// checksum field is correct has Checksum 0.
func Checksum(b []byte) uint16 { return fold(sum(0, b)) }

// pseudoSum is the sum of the IPv4 or IPv6 pseudo-header for a transport
// segment of length n.
func pseudoSum(src, dst netip.Addr, proto uint8, n int) uint32 {
	s := sum(0, src.AsSlice())
	s = sum(s, dst.AsSlice())
	// IPv4 has a zero byte, the protocol and a 16-bit length; IPv6 a 32-bit
	// length, three zero bytes and the next header. Both sum the same.
	return sum(s, []byte{0, proto, byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)})
}
