package bpf

import (
	"encoding/binary"
	"fmt"

	"github.com/cilium/ebpf/btf"
)

// Program names: the C function names, identical in every variant.
const (
	ProgFromContainer = "cil_from_container"
	ProgToContainer   = "cil_to_container"
	ProgFromNetdev    = "cil_from_netdev"
	ProgToNetdev      = "cil_to_netdev"
	ProgFromOverlay   = "cil_from_overlay"
	ProgToOverlay     = "cil_to_overlay"
)

// Map names, identical in every variant. All maps are pinned by name.
const (
	MapAffinity  = "dp_affinity"   // LRU: AffinityKey -> AffinityValue
	MapBackends  = "dp_backends"   // BackendKey -> BackendValue
	MapConntrack = "dp_conntrack"  // LRU: Tuple4 -> CTEntry
	MapEgressGW  = "dp_egress_gw"  // LPM: EgressGWKey -> EgressGWValue
	MapEndpoints = "dp_endpoints"  // EndpointKey -> EndpointInfo
	MapEventRate = "dp_event_rate" // array of 1: uint32 0 -> EventRate, the drop-event token bucket
	MapEvents    = "dp_events"     // ring buffer or perf event array of DropEvent
	MapFrags     = "dp_frags"      // LRU: FragKey -> FragPorts, ports of fragmented datagrams
	MapIPCache   = "dp_ipcache"    // LPM: LPM4Key -> RemoteEndpointInfo
	MapMaglev    = "dp_maglev"     // MaglevKey -> MaglevValue (Maglev lookup tables)
	MapMetrics   = "dp_metrics"    // per-CPU array: MetricsKey.Index -> MetricsValue (sum the CPUs)
	MapNonMasq   = "dp_nonmasq"    // LPM: LPM4Key -> NonMasqValue
	MapPolicy    = "dp_policy"     // PolicyKey -> PolicyEntry
	MapPolicyRev = "dp_policy_rev" // array of 1: uint32 0 -> uint32 revision; increment after changing MapPolicy or enforcement flags
	MapRevNAT    = "dp_revnat"     // RevNATKey -> RevNATValue
	MapServices  = "dp_services"   // SvcKey -> SvcValue
	MapSNAT      = "dp_snat"       // LRU: Tuple4 -> SNATEntry
	MapThrottle  = "dp_throttle"   // ThrottleKey -> ThrottleValue
	MapTrace     = "dp_trace"      // array of 1: uint32 0 -> TraceInfo
	MapVTEP      = "dp_vtep"       // VTEPKey -> VTEPValue
)

// Load-time variable names and the Go types to pass to VariableSpec.Set.
// Addresses are [4]byte in network byte order (what netip.Addr.As4
// returns); integers are host order. Defaults are in include/config.h.
const (
	VarClusterID       = "cfg_cluster_id"         // uint32
	VarEncapIfindex    = "cfg_encap_ifindex"      // uint32
	VarEventsBurst     = "cfg_events_burst"       // uint32 drop events in a burst
	VarEventsRate      = "cfg_events_rate"        // uint32 drop events per second, 0 = no limit
	VarLoopbackIPv4    = "cfg_loopback_ipv4"      // [4]byte, hairpin source (169.254.42.1)
	VarMaglevTableSize = "cfg_maglev_table_size"  // uint32, slots per service in MapMaglev
	VarMTU             = "cfg_mtu"                // uint32
	VarNativeIfindex   = "cfg_native_ifindex"     // uint32
	VarNodeIPv4        = "cfg_node_ipv4"          // [4]byte
	VarNodeMAC         = "cfg_node_mac"           // [6]byte
	VarNodePortMax     = "cfg_nodeport_max"       // uint16
	VarNodePortMin     = "cfg_nodeport_min"       // uint16
	VarSNATExclIPv4    = "cfg_snat_excl_ipv4"     // [4]byte
	VarSNATExclIPv4Len = "cfg_snat_excl_ipv4_len" // uint32 prefix length, 0 = none
	VarSNATPortMax     = "cfg_snat_port_max"      // uint16
	VarSNATPortMin     = "cfg_snat_port_min"      // uint16
	VarTrace           = "cfg_trace"              // uint32, non-zero: record verdicts in MapTrace
	VarTunnelPort      = "cfg_tunnel_port"        // uint16
	VarVTEPMask        = "cfg_vtep_mask"          // [4]byte
)

// Programs, Maps and Variables list every name, sorted. The test checks
// that every variant's CollectionSpec has exactly these keys.
var (
	Programs = []string{
		ProgFromContainer, ProgFromNetdev, ProgFromOverlay,
		ProgToContainer, ProgToNetdev, ProgToOverlay,
	}
	Maps = []string{
		MapAffinity, MapBackends, MapConntrack, MapConntrack6, MapEgressGW, MapEndpoints, MapEndpoints6,
		MapEventRate, MapEvents, MapFrags, MapFrags6, MapIPCache, MapIPCache6, MapMaglev, MapMetrics, MapNonMasq,
		MapPolicy, MapPolicyRev, MapRevNAT,
		MapServices, MapSNAT, MapThrottle, MapTrace, MapVTEP,
	}
	Variables = []string{
		VarClusterID, VarEncapIfindex, VarEventsBurst, VarEventsRate, VarLoopbackIPv4, VarMaglevTableSize,
		VarMTU, VarNativeIfindex,
		VarNodeIPv4, VarNodeMAC, VarNodePortMax, VarNodePortMin,
		VarSNATExclIPv4, VarSNATExclIPv4Len, VarSNATPortMax, VarSNATPortMin,
		VarTrace, VarTunnelPort, VarVTEPMask,
	}
)

// Values of the TUNNEL_PROTOCOL and DSR_ENCAP_MODE macros.
const (
	TunnelProtocolVXLAN  = 1
	TunnelProtocolGeneve = 2

	DSREncapNone = 1 // IPv4 option dispatch, the only one implemented
)

// Reserved security identities.
const (
	IdentityHost       = 1
	IdentityWorld      = 2
	IdentityRemoteNode = 6
)

// IPv4DSROptType is the IPv4 option carrying the DSR frontend: type 0x9a,
// length 8, 16-bit port then 32-bit address, both network byte order.
const IPv4DSROptType = 0x9a

// NetPort is a port (or ICMP echo identifier) in network byte order, as
// the datapath stores it.
type NetPort [2]byte

// PortOf converts a host-order port.
func PortOf(port uint16) NetPort {
	var p NetPort
	binary.BigEndian.PutUint16(p[:], port)
	return p
}

// Host returns the port in host order.
func (p NetPort) Host() uint16 { return binary.BigEndian.Uint16(p[:]) }

// EndpointKey is the key of [MapEndpoints]: a local pod's (or the node's) IPv4 address.
type EndpointKey struct {
	Addr [4]byte
}

// Flags of [EndpointInfo].
const (
	EndpointEnforceIngress = 0x0001 // no policy entry = deny, ingress
	EndpointEnforceEgress  = 0x0002 // no policy entry = deny, egress
	EndpointHost           = 0x0004 // the node itself (host firewall enforcement flags)
)

// EndpointInfo is the value of [MapEndpoints].
type EndpointInfo struct {
	Ifindex uint32  // host-side veth, bpf_redirect_peer target
	MAC     [6]byte // the pod's MAC
	NodeMAC [6]byte // host-side veth MAC, the pod's gateway
	EpID    uint16  // endpoint id, key of MapThrottle
	Flags   uint16  // Endpoint* flags
	SecID   uint32  // security identity
}

// LPM4Key is the key of the IPv4 LPM tries [MapIPCache] and [MapNonMasq].
type LPM4Key struct {
	Prefixlen uint32
	Addr      [4]byte
}

// IPCacheSkipTunnel marks a destination reachable natively in tunnel mode.
const IPCacheSkipTunnel = 0x01

// RemoteEndpointInfo is the value of [MapIPCache].
type RemoteEndpointInfo struct {
	SecID    uint32
	TunnelEP [4]byte // node to tunnel to; zero = route natively
	Flags    uint8
	_        [3]byte
}

// Scopes of a [Tuple4] key: conntrack (CT*) and SNAT (NAT*).
const (
	CTEgress   = 0 // policy state of a connection an endpoint opened
	CTIngress  = 1 // policy state of a connection an endpoint accepted
	CTService  = 2 // load-balancer state, keyed by the post-DNAT tuple
	CTLB       = 3 // the flow's backend, keyed by the pre-DNAT tuple
	NATEgress  = 8 // original tuple -> new source
	NATIngress = 9 // reply tuple as it arrives -> original source
)

// Tuple4 is the key of [MapConntrack] and [MapSNAT]. For ICMP echo the
// identifier is Sport of a request and Dport of a reply.
type Tuple4 struct {
	Saddr [4]byte
	Daddr [4]byte
	Sport NetPort
	Dport NetPort
	Proto uint8
	Scope uint8
	_     uint16
}

// Flags of [CTEntry].
const (
	CTFlagDSR      = 0x0001 // backend side of DSR: replies get DSRAddr:DSRPort as source
	CTFlagSNAT     = 0x0002 // load balancer also source-NATed the request
	CTFlagLocal    = 0x0004 // load balancer picked a local backend
	CTFlagLoopback = 0x0008 // hairpin: client is its own backend; DSRAddr holds its address
)

// TCP state bits of [CTEntry], which decide its idle lifetime: SYN only
// 60 s, established 6 h, closing (RST, or FIN from both sides) 10 s;
// other protocols 60 s (Cilium's defaults).
const (
	CTTCPNonSYN = 0x01 // a segment without SYN was seen
	CTTCPFinFwd = 0x02 // FIN from the tuple's source
	CTTCPFinRev = 0x04 // FIN from the tuple's destination
	CTTCPRST    = 0x08
)

// CTEntry is the value of [MapConntrack].
type CTEntry struct {
	Created     uint64 // bpf_ktime_get_ns
	LastSeen    uint64
	SrcSecID    uint32
	RevNATIndex uint16
	Flags       uint16
	DSRAddr     [4]byte
	DSRPort     NetPort
	PolicyRev   uint16 // low 16 bits of MapPolicyRev when the flow was last allowed
	TCPState    uint8  // CTTCP* bits
	_           uint8
	_           uint16
	BackendID   uint32 // CTLB: the flow's backend
}

// SNATHost marks an [SNATEntry] reserving a port of the node's own connection.
const SNATHost = 0x0001

// SNATEntry is the value of [MapSNAT].
type SNATEntry struct {
	Created  uint64
	ToAddr   [4]byte
	ToPort   NetPort
	Flags    uint16 // SNATHost
	LastSeen uint64 // bpf_ktime_get_ns; idle mappings expire like their flow's conntrack entry
}

// Flags of a service's slot-0 [SvcValue].
const (
	ServiceNodePort = 0x0001 // Addr zero: any local node address, port in the NodePort range
	ServiceExternal = 0x0002 // reachable from outside the cluster
	ServiceDSR      = 0x0004 // DSR allowed (ENABLE_DSR)
	ServiceAffinity = 0x0008 // ClientIP session affinity; slot 0's BackendID holds the timeout in seconds
)

// SvcKey is the key of [MapServices]. Slot 0 is the service; slots
// 1..Count point at its backends.
type SvcKey struct {
	Addr  [4]byte
	Dport NetPort
	Slot  uint16
	Proto uint8
	_     [3]byte
}

// SvcValue is the value of [MapServices].
type SvcValue struct {
	BackendID   uint32 // slots > 0; slot 0 with ServiceAffinity: affinity timeout (s)
	Count       uint16 // slot 0
	RevNATIndex uint16 // slot 0
	Flags       uint16 // slot 0: Service* flags
	_           uint16
}

// BackendKey is the key of [MapBackends].
type BackendKey struct {
	ID uint32
}

// BackendValue is the value of [MapBackends]. A zero Port keeps the frontend port.
type BackendValue struct {
	Addr  [4]byte
	Port  NetPort
	Proto uint8 // informational; the service key carries the protocol
	Flags uint8 // reserved
}

// RevNATKey is the key of [MapRevNAT].
type RevNATKey struct {
	Index uint16
	_     uint16
}

// RevNATValue is the value of [MapRevNAT]: a reply's new source. A zero
// Addr stands for cfg_node_ipv4 (NodePort).
type RevNATValue struct {
	Addr [4]byte
	Port NetPort
	_    uint16
}

// Directions of a [PolicyKey].
const (
	PolicyIngress = 1
	PolicyEgress  = 2
)

// PolicyKey is the key of [MapPolicy]. SubjectID is the identity whose
// policy it is (IdentityHost for the host firewall), RemoteID the peer.
// RemoteID, Dport and Proto zero mean ANY; lookups go id/proto/port,
// ANY/proto/port, id/proto/ANY, ANY/proto/ANY, id/ANY/ANY, ANY/ANY/ANY and
// the first entry found decides.
type PolicyKey struct {
	SubjectID uint32
	RemoteID  uint32
	Dport     NetPort
	Proto     uint8
	Dir       uint8
}

// PolicyEntry is the value of [MapPolicy].
type PolicyEntry struct {
	Deny uint8 // 0 = allow
	_    [3]byte
}

// EgressGWKey is the key of [MapEgressGW]: Prefixlen is 32 plus the
// destination CIDR's length.
type EgressGWKey struct {
	Prefixlen uint32
	Saddr     [4]byte
	Daddr     [4]byte
}

// EgressGWValue is the value of [MapEgressGW].
type EgressGWValue struct {
	EgressIP  [4]byte // SNAT source on the gateway; zero = its node address
	GatewayIP [4]byte // node doing the SNAT; EgressGWNoGateway or EgressGWExcludedCIDR
}

// Special GatewayIP values (Cilium's, in 0.0.0.0/8).
var (
	EgressGWNoGateway    = [4]byte{}           // the policy selects no gateway: drop (DROP_NO_EGRESS_GATEWAY)
	EgressGWExcludedCIDR = [4]byte{0, 0, 0, 1} // excluded destination: the ordinary path
)

// VTEPKey is the key of [MapVTEP]: destination & cfg_vtep_mask.
type VTEPKey struct {
	Addr [4]byte
}

// VTEPValue is the value of [MapVTEP]. A zero VNI sends IdentityWorld.
type VTEPValue struct {
	TunnelEP [4]byte
	VNI      uint32 // reserved: frames to a VTEP carry WORLD, as Cilium sends
	MAC      [6]byte
	_        [2]byte
}

// NonMasqValue is the value of [MapNonMasq] (presence is what counts).
type NonMasqValue struct {
	Present uint8
	_       [3]byte
}

// ThrottleKey is the key of [MapThrottle]: an endpoint id.
type ThrottleKey struct {
	EpID uint32
}

// ThrottleValue is the value of [MapThrottle].
type ThrottleValue struct {
	RateBps   uint64 // bits per second; 0 = unlimited
	TLast     uint64 // departure time of the last packet (ns, datapath-owned)
	HorizonNs uint64 // drop packets scheduled further out; 0 = 2s
}

// MaglevKey is the key of [MapMaglev]: one slot of a service's Maglev
// lookup table (slots 0..cfg_maglev_table_size-1).
type MaglevKey struct {
	RevNATIndex uint16
	_           uint16
	Slot        uint32
}

// MaglevValue is the value of [MapMaglev].
type MaglevValue struct {
	BackendID uint32
}

// AffinityKey is the key of [MapAffinity]: a client of a service.
type AffinityKey struct {
	Client      [4]byte
	RevNATIndex uint16
	_           uint16
}

// AffinityValue is the value of [MapAffinity].
type AffinityValue struct {
	LastUsed  uint64 // bpf_ktime_get_ns
	BackendID uint32
	_         uint32
}

// Dir is the direction of a metric, seen from the pod or node a hook guards.
type Dir uint8

// Directions.
const (
	DirIngress Dir = 1
	DirEgress  Dir = 2
)

func (d Dir) String() string {
	switch d {
	case DirIngress:
		return "ingress"
	case DirEgress:
		return "egress"
	}
	return fmt.Sprintf("Dir(%d)", uint8(d))
}

// Hook identifies the program that counted a packet.
type Hook uint8

// Hooks.
const (
	HookFromContainer Hook = 1
	HookToContainer   Hook = 2
	HookFromNetdev    Hook = 3
	HookToNetdev      Hook = 4
	HookFromOverlay   Hook = 5
	HookToOverlay     Hook = 6
)

var hookPrograms = map[Hook]string{
	HookFromContainer: ProgFromContainer,
	HookToContainer:   ProgToContainer,
	HookFromNetdev:    ProgFromNetdev,
	HookToNetdev:      ProgToNetdev,
	HookFromOverlay:   ProgFromOverlay,
	HookToOverlay:     ProgToOverlay,
}

// String returns the program name.
func (h Hook) String() string {
	if name, ok := hookPrograms[h]; ok {
		return name
	}
	return fmt.Sprintf("Hook(%d)", uint8(h))
}

// FragKey is the key of [MapFrags]: one IPv4 datagram.
type FragKey struct {
	Saddr [4]byte
	Daddr [4]byte
	ID    [2]byte // network byte order
	Proto uint8
	_     uint8
}

// FragPorts is the value of [MapFrags]: the ports its first fragment carried.
type FragPorts struct {
	Sport NetPort
	Dport NetPort
}

// EventRate is the value of [MapEventRate]: the drop-event token bucket.
type EventRate struct {
	LastTopup uint64 // bpf_ktime_get_ns of the last refill; 0 = full bucket
	Tokens    uint64
}

// MetricsKey is what one slot of [MapMetrics] counts. The map is a per-CPU
// array: [MetricsKey.Index] is the slot of a key, [MetricsKeyAt] the key of
// a slot.
type MetricsKey struct {
	Reason Reason
	Dir    Dir
	Hook   Hook
	_      uint8
}

// Index returns the slot of k in [MapMetrics], packed as metrics_index in
// include/metrics.h packs it: reason in bits 4-11, direction in bit 3, hook
// in bits 0-2. It is false for a key no program counts under.
func (k MetricsKey) Index() (uint32, bool) {
	if k.Dir < DirIngress || k.Dir > DirEgress || k.Hook > 7 {
		return 0, false
	}
	return uint32(k.Reason)<<4 | uint32(k.Dir-DirIngress)<<3 | uint32(k.Hook), true
}

// MetricsKeyAt returns the key whose packets slot i of [MapMetrics] counts.
func MetricsKeyAt(i uint32) MetricsKey {
	return MetricsKey{Reason: Reason(i >> 4), Dir: DirIngress + Dir(i>>3&1), Hook: Hook(i & 7)}
}

// MetricsValue is the value of [MapMetrics], one per CPU: the map is a
// per-CPU array, so a lookup fills a []MetricsValue whose sum is the count.
type MetricsValue struct {
	Packets uint64
	Bytes   uint64
}

// IndexedKey describes an array map whose index packs a struct key. Readers
// that decode maps through BTF show and accept the key as that struct.
type IndexedKey struct {
	// Type is the key's C struct. It is given here because the object's
	// BTF lacks it: no map, variable or function has that type.
	Type  *btf.Struct
	Index func(key []byte) (uint32, bool) // the struct's bytes to the index; false: no slot
	Key   func(index uint32) []byte       // the index to the struct's bytes
}

// IndexedKeys lists, by map name, the maps whose index packs a key.
var IndexedKeys = map[string]IndexedKey{
	MapMetrics: {
		Type: &btf.Struct{Name: "metrics_key", Size: 4, Members: []btf.Member{
			{Name: "reason", Type: btfU8, Offset: 0},
			{Name: "dir", Type: btfU8, Offset: 8},
			{Name: "hook", Type: btfU8, Offset: 16},
			{Name: "pad", Type: btfU8, Offset: 24},
		}},
		Index: func(b []byte) (uint32, bool) {
			if len(b) != 4 {
				return 0, false
			}
			return MetricsKey{Reason: Reason(b[0]), Dir: Dir(b[1]), Hook: Hook(b[2])}.Index()
		},
		Key: func(i uint32) []byte {
			k := MetricsKeyAt(i)
			return []byte{byte(k.Reason), byte(k.Dir), byte(k.Hook), 0}
		},
	},
}

var btfU8 = &btf.Typedef{Name: "__u8", Type: &btf.Int{Name: "unsigned char", Size: 1}}

// TraceKind is how a program run let a packet go, as [TraceInfo] records it.
type TraceKind uint8

// Trace kinds.
const (
	TraceToStack       TraceKind = 1 // TC_ACT_OK
	TraceRedirect      TraceKind = 2 // bpf_redirect to the egress of Ifindex
	TraceRedirectPeer  TraceKind = 3 // bpf_redirect_peer into the pod behind veth Ifindex
	TraceRedirectNeigh TraceKind = 4 // bpf_redirect_neigh out of Ifindex
	TraceDrop          TraceKind = 5 // TC_ACT_SHOT
)

var traceKindNames = map[TraceKind]string{
	TraceToStack:       "TO_STACK",
	TraceRedirect:      "REDIRECT",
	TraceRedirectPeer:  "REDIRECT_PEER",
	TraceRedirectNeigh: "REDIRECT_NEIGH",
	TraceDrop:          "DROP",
}

// String returns the C name without its TRACE_ prefix, e.g. "REDIRECT_PEER".
func (k TraceKind) String() string {
	if name, ok := traceKindNames[k]; ok {
		return name
	}
	return fmt.Sprintf("TraceKind(%d)", uint8(k))
}

// TraceInfo is the value of [MapTrace]'s only slot (key 0): the last
// verdict of any program run, written only when [VarTrace] is non-zero.
// Redirect fields (Ifindex, TunnelRemote, TunnelID) are zero unless Kind
// is a redirect; the tunnel fields are the key bpf_skb_set_tunnel_key set.
type TraceInfo struct {
	Ifindex      uint32
	Kind         TraceKind
	Reason       Reason
	Hook         Hook
	PktType      uint8 // skb->pkt_type when the program returned (0 = PACKET_HOST)
	TunnelRemote [4]byte
	TunnelID     uint32
	SecID        uint32 // source identity the program used; 0 if it dropped before knowing it
}

// DropEvent is the record the datapath writes to [MapEvents] for every
// drop. Address and port fields are zero when the packet was not parsed
// that far.
type DropEvent struct {
	Ts        uint64
	Ifindex   uint32
	Len       uint32
	SrcSecID  uint32
	ClusterID uint32
	Saddr     [4]byte
	Daddr     [4]byte
	Sport     NetPort
	Dport     NetPort
	Proto     uint8
	Reason    Reason
	Hook      Hook
	Dir       Dir
}

// UnmarshalBinary decodes a record read from [MapEvents]. The datapath
// writes it in the byte order of the machine it runs on.
func (e *DropEvent) UnmarshalBinary(b []byte) error {
	if len(b) < binary.Size(e) {
		return fmt.Errorf("drop event: %d bytes, want %d", len(b), binary.Size(e))
	}
	_, err := binary.Decode(b, binary.NativeEndian, e)
	return err
}

// Reason says why a program forwarded or dropped a packet. The values are
// ABI shared with include/common.h (enum dp_reason).
type Reason uint8

// Forwarding reasons, below DropBase.
const (
	ReasonForwarded          Reason = 0 // handled and forwarded (stack or redirect)
	ReasonPassARP            Reason = 1
	ReasonPassIPv6           Reason = 2 // IPv6 passed without policy: ND/MLD, overlay devices
	ReasonPassUnknownL3      Reason = 3 // native device: the host's non-IP traffic
	ReasonPassFragment       Reason = 4 // netdev/overlay: fragments go to the stack
	ReasonPassHost           Reason = 5 // native/overlay: for this node, untranslated
	ReasonPassTunnel         Reason = 6 // native device: encapsulated overlay traffic
	ReasonIPv6NotMasqueraded Reason = 7 // ENABLE_MASQUERADE_IPV6: a pod's IPv6 leaves untranslated
)

// Drop reasons, from DropBase up.
const (
	DropBase             Reason = 128
	DropInvalid          Reason = 128 // truncated, or inconsistent lengths
	DropUnknownL3        Reason = 129
	DropUnknownL4        Reason = 130
	DropFragNotSupported Reason = 131
	DropInvalidIHL       Reason = 132
	DropTTLExceeded      Reason = 133
	DropPolicyDenied     Reason = 134
	DropNoServiceBackend Reason = 135
	DropHostFW           Reason = 136
	DropNATNoMapping     Reason = 137
	DropBWHorizon        Reason = 138
	DropInvalidSource    Reason = 139
	DropNoTunnelKey      Reason = 140
	DropWriteError       Reason = 141
	DropCTCreateFailed   Reason = 142
	DropFIBUnreachable   Reason = 143
	DropFragNeeded       Reason = 144
	DropInvalidVersion   Reason = 145

	// Numbered as Cilium numbers the same drop.
	DropUnroutable      Reason = 151 // must be tunnelled, but there is no overlay device (cfg_encap_ifindex 0)
	DropInvalidIdentity Reason = 171 // overlay: tunnel key claims the host identity
	DropIsClusterIP     Reason = 174 // a ClusterIP reached from outside the cluster
	DropFragNotFound    Reason = 175 // a later fragment whose first was not seen
	DropInvalidVNI      Reason = 183 // overlay: VTEP source with a VNI other than WORLD
	DropNoEgressGateway Reason = 194 // egress-gateway policy without a gateway
)

var reasonNames = map[Reason]string{
	ReasonForwarded:          "FORWARDED",
	ReasonPassARP:            "PASS_ARP",
	ReasonPassIPv6:           "PASS_IPV6",
	ReasonPassUnknownL3:      "PASS_UNKNOWN_L3",
	ReasonPassFragment:       "PASS_FRAGMENT",
	ReasonPassHost:           "PASS_HOST",
	ReasonPassTunnel:         "PASS_TUNNEL",
	ReasonIPv6NotMasqueraded: "IPV6_NOT_MASQUERADED",
	DropInvalid:              "DROP_INVALID",
	DropUnknownL3:            "DROP_UNKNOWN_L3",
	DropUnknownL4:            "DROP_UNKNOWN_L4",
	DropFragNotSupported:     "DROP_FRAG_NOT_SUPPORTED",
	DropInvalidIHL:           "DROP_INVALID_IHL",
	DropTTLExceeded:          "DROP_TTL_EXCEEDED",
	DropPolicyDenied:         "DROP_POLICY_DENIED",
	DropNoServiceBackend:     "DROP_NO_SERVICE_BACKEND",
	DropHostFW:               "DROP_HOST_FW",
	DropNATNoMapping:         "DROP_NAT_NO_MAPPING",
	DropBWHorizon:            "DROP_BW_HORIZON",
	DropInvalidSource:        "DROP_INVALID_SOURCE",
	DropNoTunnelKey:          "DROP_NO_TUNNEL_KEY",
	DropWriteError:           "DROP_WRITE_ERROR",
	DropCTCreateFailed:       "DROP_CT_CREATE_FAILED",
	DropFIBUnreachable:       "DROP_FIB_UNREACHABLE",
	DropFragNeeded:           "DROP_FRAG_NEEDED",
	DropInvalidVersion:       "DROP_INVALID_VERSION",
	DropUnroutable:           "DROP_UNROUTABLE",
	DropInvalidIdentity:      "DROP_INVALID_IDENTITY",
	DropIsClusterIP:          "DROP_IS_CLUSTER_IP",
	DropFragNotFound:         "DROP_FRAG_NOT_FOUND",
	DropInvalidVNI:           "DROP_INVALID_VNI",
	DropNoEgressGateway:      "DROP_NO_EGRESS_GATEWAY",
}

// String returns the C enumerator's name without its REASON_ prefix,
// e.g. "DROP_INVALID" or "FORWARDED".
func (r Reason) String() string {
	if name, ok := reasonNames[r]; ok {
		return name
	}
	return fmt.Sprintf("Reason(%d)", uint8(r))
}

// IsDrop reports whether r is a drop reason.
func (r Reason) IsDrop() bool { return r >= DropBase }
