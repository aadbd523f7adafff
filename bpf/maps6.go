package bpf

// IPv6 maps (include/ipv6.h, the IPv6 block at the end of include/maps.h).
// Values are the IPv4 maps' types: an IPv6 endpoint is an [EndpointInfo],
// an ipcache entry a [RemoteEndpointInfo], a conntrack entry a [CTEntry]
// with the same scopes; [MapPolicy] serves both families.
const (
	MapConntrack6 = "dp_conntrack6" // LRU: Tuple6 -> CTEntry
	MapEndpoints6 = "dp_endpoints6" // Endpoint6Key -> EndpointInfo; the node's addresses carry EndpointHost
	MapFrags6     = "dp_frags6"     // LRU: Frag6Key -> FragPorts, ports of fragmented datagrams
	MapIPCache6   = "dp_ipcache6"   // LPM: LPM6Key -> RemoteEndpointInfo (SecID; TunnelEP unused)
)

// Endpoint6Key is the key of [MapEndpoints6]: a local pod's (or the node's) IPv6 address.
type Endpoint6Key struct {
	Addr [16]byte
}

// LPM6Key is the key of [MapIPCache6].
type LPM6Key struct {
	Prefixlen uint32
	Addr      [16]byte
}

// Tuple6 is the key of [MapConntrack6]: [Tuple4] with IPv6 addresses. For
// ICMPv6 echo the identifier is Sport of a request and Dport of a reply.
type Tuple6 struct {
	Saddr [16]byte
	Daddr [16]byte
	Sport NetPort
	Dport NetPort
	Proto uint8
	Scope uint8 // CTEgress or CTIngress
	_     uint16
}

// Frag6Key is the key of [MapFrags6]: a datagram by addresses, the fragment
// header's identification (network byte order) and next header.
type Frag6Key struct {
	Saddr [16]byte
	Daddr [16]byte
	ID    [4]byte
	Proto uint8
	_     [3]byte
}
