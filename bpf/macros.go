package bpf

// Macro documents one compile-time macro accepted in [VariantHeader].
type Macro struct {
	Name string
	// Values lists the accepted values; nil means a flag, written as
	// "#define NAME 1" when enabled and left out otherwise.
	Values []string
	// Requires lists macros that must also be defined; the C headers fail
	// with an #error otherwise.
	Requires []string
	// Kernel is the oldest kernel whose helpers and map types the macro's
	// code needs, when that is newer than the datapath's baseline. The
	// baseline itself is 5.2 because load-time variables live in frozen
	// .rodata (BPF_F_RDONLY_PROG).
	Kernel string
	// Unsupported marks a Cilium macro the datapath recognises only to
	// refuse it with an #error.
	Unsupported bool
	Doc         string
}

// Macros lists every macro the datapath reads, sorted by name, including
// those it only reads to refuse (Unsupported).
var Macros = []Macro{
	{
		Name:     "DSR_ENCAP_MODE",
		Values:   []string{"DSR_ENCAP_NONE", "1"},
		Requires: []string{"ENABLE_DSR"},
		Doc:      "DSR dispatch; only DSR_ENCAP_NONE (1, Cilium's \"opt\": frontend in IPv4 option 0x9a) is implemented.",
	},
	{
		Name:   "ENABLE_BANDWIDTH_MANAGER",
		Kernel: "5.1",
		Doc:    "EDT rate limiting in cil_to_netdev for endpoints with a dp_throttle entry (writes skb->tstamp).",
	},
	{
		Name:     "ENABLE_DSR",
		Requires: []string{"DSR_ENCAP_MODE"},
		Doc:      "Direct server return for services flagged ServiceDSR with remote backends. That it needs NodePort is a rule of the feature table (features/feature.go); the generated dp_variant.h guards it.",
	},
	{
		Name:     "ENABLE_DSR_HYBRID",
		Requires: []string{"ENABLE_DSR"},
		Doc:      "DSR for TCP only; UDP services use SNAT.",
	},
	{
		Name:     "ENABLE_EGRESS_GATEWAY",
		Requires: []string{"ENABLE_MASQUERADE_IPV4", "HAVE_ENCAP"},
		Doc:      "Pod traffic matching dp_egress_gw leaves through its gateway node (tunnelled there via cfg_encap_ifindex, in native routing too), which SNATs it to the egress IP.",
	},
	{
		Name:        "ENABLE_HIGH_SCALE_IPCACHE",
		Unsupported: true,
		Doc:         "Cilium's high-scale ipcache is not implemented: defining it is an #error, so no variant silently lacks it.",
	},
	{
		Name: "ENABLE_HOST_FIREWALL",
		Doc:  "Policy for the node's own traffic on the native device (subject IdentityHost); also drops non-IP and fragments there.",
	},
	{
		Name:   "ENABLE_HOST_ROUTING",
		Kernel: "5.10",
		Doc:    "BPF host routing: bpf_redirect_peer into local pods, bpf_fib_lookup + bpf_redirect_neigh otherwise. Without it packets go to the stack after a TTL decrement and MAC rewrite.",
	},
	{
		Name: "ENABLE_IPV4",
		Doc:  "IPv4 datapath. Without it IPv4 is dropped on pod/overlay devices and passed on the native device.",
	},
	{
		Name: "ENABLE_IPV6",
		Doc:  "IPv6 gets network policy and the host firewall (include/ipv6.h), then the stack routes it; no load balancing or NAT. Without it IPv6 is dropped on pod/overlay devices.",
	},
	{
		Name:     "ENABLE_IP_MASQ_AGENT_IPV4",
		Requires: []string{"ENABLE_MASQUERADE_IPV4"},
		Doc:      "Destinations in dp_nonmasq are not masqueraded.",
	},
	{
		Name:     "ENABLE_MASQUERADE_IPV4",
		Requires: []string{"ENABLE_IPV4"},
		Doc:      "BPF masquerading of pod traffic leaving the cluster (cil_to_netdev) to cfg_node_ipv4.",
	},
	{
		Name:     "ENABLE_MASQUERADE_IPV6",
		Requires: []string{"ENABLE_IPV6"},
		Doc:      "Accepted for parity; pods' IPv6 leaving the native device is counted as IPV6_NOT_MASQUERADED, not translated.",
	},
	{
		Name: "ENABLE_NODEPORT",
		Doc:  "kube-proxy replacement: ClusterIP in cil_from_container, NodePort/external services in cil_from_netdev (SNAT mode unless DSR).",
	},
	{
		Name:     "ENABLE_SESSION_AFFINITY",
		Requires: []string{"ENABLE_NODEPORT"},
		Doc:      "ClientIP session affinity for services flagged ServiceAffinity: a client keeps its backend (dp_affinity) while it used it within the service's timeout.",
	},
	{
		Name:     "ENABLE_VTEP",
		Requires: []string{"HAVE_ENCAP"},
		Doc:      "Destinations in dp_vtep (after cfg_vtep_mask) are tunnelled to their VTEP via cfg_encap_ifindex.",
	},
	{
		Name: "HAVE_ENCAP",
		Doc:  "The node has an overlay device (cfg_encap_ifindex): in tunnel routing, and in native routing for the egress gateway. Traffic to cfg_tunnel_port of the node on the native device is left to it (REASON_PASS_TUNNEL).",
	},
	{
		Name:   "HAVE_RINGBUF",
		Kernel: "5.8",
		Doc:    "dp_events is a BPF ring buffer; without it a perf event array.",
	},
	{
		Name:     "LB_SELECTION",
		Values:   []string{"LB_SELECTION_RANDOM", "LB_SELECTION_MAGLEV", "1", "2"},
		Requires: []string{"ENABLE_NODEPORT"},
		Doc:      "How a new flow's backend is chosen: a slot by flow hash (1, the default) or the service's Maglev table in dp_maglev (2, cfg_maglev_table_size slots).",
	},
	{
		Name:     "TUNNEL_MODE",
		Requires: []string{"HAVE_ENCAP"},
		Doc:      "Remote pods are reached through the overlay device (cfg_encap_ifindex) using dp_ipcache's tunnel endpoints.",
	},
	{
		Name:     "TUNNEL_PROTOCOL",
		Values:   []string{"TUNNEL_PROTOCOL_VXLAN", "TUNNEL_PROTOCOL_GENEVE", "1", "2"},
		Requires: []string{"HAVE_ENCAP"},
		Doc:      "Overlay protocol; selects cfg_tunnel_port's compiled-in default (8472 or 6081). Optional: the generator sets the port at load time and writes the protocol into node_config.h only.",
	},
}
