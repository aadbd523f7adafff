package features

// Stage says when a feature takes effect.
type Stage int

const (
	// CompileTime features change the datapath's code: their #defines are
	// part of a variant's identity.
	CompileTime Stage = iota
	// LoadTime values are set per node when the object is loaded
	// (volatile const variables); nodes differing only in them share an object.
	LoadTime
	// Agent features change no datapath code here (host configuration,
	// iptables, the agent itself) but take part in the rules.
	Agent
)

func (s Stage) String() string {
	return [...]string{"compile-time", "load-time", "agent"}[s]
}

// Policy says what happens when a requirement is unmet.
type Policy int

const (
	// Fail makes the configuration invalid, as Cilium refuses to start.
	Fail Policy = iota
	// Degrade disables the feature and records why, as Cilium falls back.
	Degrade
	// FailUnlessProbe fails under kube-proxy-replacement=true/strict/partial
	// and degrades under probe.
	FailUnlessProbe
	// Warn keeps the feature and warns, as Cilium does for combinations it
	// supports only in part.
	Warn
	// Ignore disables the feature without a fallback and notes it, as Cilium
	// auto-disables an option that has nothing to act on.
	Ignore
)

// Define is one C preprocessor macro.
type Define struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Setting is one option value.
type Setting struct{ Option, Value string }

// Requirement is one condition a feature needs. Exactly one of Feature, Cap,
// MinKernel or Option is set.
type Requirement struct {
	// Feature must be enabled, or disabled when written "!name" (a conflict).
	Feature string
	// Cap must be present in the kernel.
	Cap Capability
	// MinKernel is a documented minimum without a probeable capability.
	MinKernel Version
	// Option must be set explicitly, and with Values to one of them.
	Option string
	Values []string
	// When restricts the requirement to configurations where this feature
	// is enabled ("!name": disabled).
	When string
	// Exempt lists settings under which the requirement does not apply.
	Exempt []Setting
	// Since and Until restrict the requirement to Cilium releases
	// [Since, Until); zero means unbounded.
	Since, Until Release
	// Message is Cilium's wording for the unmet case.
	Message string
	// Policy overrides the feature's policy for this requirement.
	Policy *Policy
	// Blame names another option to point at, besides the feature's own.
	Blame string
	// Quiet marks an expected fallback: recorded, not warned about.
	Quiet bool
}

// applies reports whether the requirement is in force for a configuration
// on a release.
func (req Requirement) applies(cfg Config, rel Release) bool {
	if !req.Since.IsZero() && !rel.AtLeast(req.Since) || !req.Until.IsZero() && rel.AtLeast(req.Until) {
		return false
	}
	for _, e := range req.Exempt {
		if cfg.Get(e.Option) == e.Value {
			return false
		}
	}
	return true
}

// Feature is one row of the feature table.
type Feature struct {
	Name  string // stable id, kebab-case
	Title string // as Cilium's documents name it
	// Option asks for the feature; diagnostics point at it.
	Option  string
	Stage   Stage
	Defines []Define
	// Want says whether the configuration asks for the feature.
	Want     func(Config) bool
	Requires []Requirement
	Unmet    Policy
	// Fallback names what runs instead when the feature is degraded.
	Fallback string
	// Quiet degradations are expected and not warned about.
	Quiet bool
}

func pol(p Policy) *Policy { return &p }

// wantsEgressGateway: the configuration asks for the egress gateway.
func wantsEgressGateway(c Config) bool {
	return c.Bool("enable-ipv4-egress-gateway") || c.Bool("enable-egress-gateway")
}

// overlayProtocol is the protocol of the node's overlay device, "" when it
// has none: tunnel routing has one, native routing when the egress gateway
// asks for it (the device is asked for whether or not the feature then
// resolves, as Cilium asks on the option alone).
func overlayProtocol(c Config) string {
	switch r := c.Routing(); {
	case r.Tunnel:
		return r.Protocol
	case wantsEgressGateway(c):
		return r.Encap
	}
	return ""
}

func one(name string) []Define { return []Define{{name, "1"}} }

// Features is the feature table, in resolution order: a feature only
// requires features listed before it.
var Features = []Feature{
	{Name: "ipv4", Title: "IPv4", Option: "enable-ipv4", Stage: CompileTime, Defines: one("ENABLE_IPV4"),
		Want: func(c Config) bool { return c.Bool("enable-ipv4") }},
	{Name: "ipv6", Title: "IPv6", Option: "enable-ipv6", Stage: CompileTime, Defines: one("ENABLE_IPV6"),
		Want: func(c Config) bool { return c.Bool("enable-ipv6") }},
	{Name: "tunnel", Title: "Tunnel routing", Option: "tunnel", Stage: CompileTime, Defines: one("TUNNEL_MODE"),
		Want: func(c Config) bool { return c.Routing().Tunnel }},
	// The overlay device exists whenever a feature asks for it, as
	// Cilium's tunnel "enablers" do (pkg/datapath/tunnel): tunnel routing,
	// and the egress gateway also in native routing, since pod traffic
	// reaches its gateway node encapsulated (pkg/egressgateway asks with
	// tunnel.NewEnabler(true)). The datapath then has the device's
	// ifindex and leaves the device's port on the native device to it.
	{Name: "tunnel-device", Title: "Overlay device", Option: "routing-mode", Stage: CompileTime,
		Defines: one("HAVE_ENCAP"),
		Want:    func(c Config) bool { return overlayProtocol(c) != "" }},
	// The protocol changes no datapath code (the device decides the
	// encapsulation; the port is a load-time value), so it is load-time:
	// VXLAN and Geneve nodes share one object.
	{Name: "tunnel-vxlan", Title: "VXLAN encapsulation", Option: "tunnel", Stage: LoadTime,
		Defines: []Define{{"TUNNEL_PROTOCOL", "1"}},
		Want:    func(c Config) bool { return overlayProtocol(c) == "vxlan" }},
	{Name: "tunnel-geneve", Title: "Geneve encapsulation", Option: "tunnel", Stage: LoadTime,
		Defines: []Define{{"TUNNEL_PROTOCOL", "2"}},
		Want:    func(c Config) bool { return overlayProtocol(c) == "geneve" }},
	{Name: "auto-direct-node-routes", Title: "Auto direct node routes", Option: "auto-direct-node-routes", Stage: Agent,
		Want: func(c Config) bool { return c.Bool("auto-direct-node-routes") },
		Requires: []Requirement{{Feature: "!tunnel", Blame: "tunnel",
			Message: "auto-direct-node-routes cannot be used with tunneling. Packets must be routed through the tunnel device."}}},
	{Name: "l7-proxy", Title: "L7 proxy", Option: "enable-l7-proxy", Stage: Agent,
		Want: func(c Config) bool { return c.Bool("enable-l7-proxy") }},
	{Name: "ipsec", Title: "IPsec encryption", Option: "enable-ipsec", Stage: Agent,
		Want: func(c Config) bool { return c.Bool("enable-ipsec") }},
	{Name: "wireguard", Title: "WireGuard encryption", Option: "enable-wireguard", Stage: Agent,
		Want: func(c Config) bool { return c.Bool("enable-wireguard") },
		Requires: []Requirement{
			{Feature: "!ipsec", Blame: "enable-ipsec", Message: "WireGuard and IPsec are mutually exclusive."},
			{Cap: CapWireGuard, Message: "WireGuard transparent encryption requires kernel 5.6 or newer."},
		}},
	{Name: "nodeport", Title: "NodePort (kube-proxy replacement)", Option: "kube-proxy-replacement", Stage: CompileTime,
		Defines: one("ENABLE_NODEPORT"), Unmet: FailUnlessProbe, Fallback: "kube-proxy",
		Want: func(c Config) bool {
			m := c.KPR()
			return m.Full() || (m != KPRDisabled && c.Bool("enable-node-port"))
		},
		Requires: []Requirement{
			{Cap: CapFibLookup, Message: "BPF NodePort requires the bpf_fib_lookup helper (kernel 4.18 or newer)."},
			{Cap: CapLRUHash, Message: "BPF NodePort requires LRU maps (kernel 4.10 or newer)."},
		}},
	{Name: "host-port", Title: "HostPort", Option: "enable-host-port", Stage: Agent, Unmet: FailUnlessProbe,
		Want: func(c Config) bool {
			m := c.KPR()
			return m.Full() || (m != KPRDisabled && c.Bool("enable-host-port"))
		},
		Requires: []Requirement{{Feature: "nodeport", Message: "HostPort requires BPF NodePort."}}},
	{Name: "external-ips", Title: "ExternalIPs", Option: "enable-external-ips", Stage: Agent, Unmet: FailUnlessProbe,
		Want: func(c Config) bool {
			m := c.KPR()
			return m.Full() || (m != KPRDisabled && c.Bool("enable-external-ips"))
		},
		Requires: []Requirement{{Feature: "nodeport", Message: "ExternalIPs requires BPF NodePort."}}},
	{Name: "dsr", Title: "NodePort DSR", Option: "bpf-lb-mode", Stage: CompileTime,
		Defines: []Define{{"ENABLE_DSR", "1"}, {"DSR_ENCAP_MODE", "1"}},
		Want:    func(c Config) bool { m := c.Get("bpf-lb-mode"); return m == "dsr" || m == "hybrid" },
		Requires: []Requirement{
			{Feature: "nodeport", Message: `Node Port "dsr" mode requires kube-proxy replacement (BPF NodePort).`, Blame: "kube-proxy-replacement"},
			{Feature: "!tunnel-vxlan", Blame: "tunnel", Message: `Node Port "dsr" mode cannot be used with vxlan tunneling.`},
			{Feature: "!tunnel", Blame: "tunnel", Message: `Tunnel routing with Node Port "dsr" mode requires geneve dispatch, which the dpforge datapath does not implement.`},
			{Option: "bpf-lb-dsr-dispatch", Values: []string{"opt"}, When: "dsr",
				Message: `the dpforge datapath implements DSR dispatch "opt" (IPv4 option) only`},
		}},
	{Name: "maglev", Title: "Maglev consistent hashing", Option: "bpf-lb-algorithm", Stage: CompileTime,
		Defines: []Define{{"LB_SELECTION", "2"}},
		Want:    func(c Config) bool { return c.Get("bpf-lb-algorithm") == "maglev" },
		Requires: []Requirement{{Feature: "nodeport", Blame: "kube-proxy-replacement",
			Message: "Maglev backend selection requires the eBPF kube-proxy replacement (BPF NodePort)."}}},
	// Off by default until 1.17; on by default in 1.18, which deprecated
	// the option (cilium/cilium#38447); always on in 1.19, which removed it
	// (cilium/cilium#39583). Without the kube-proxy replacement, kube-proxy
	// keeps services' affinity.
	{Name: "session-affinity", Title: "Session affinity", Option: "enable-session-affinity", Stage: CompileTime,
		Defines: one("ENABLE_SESSION_AFFINITY"), Unmet: Degrade, Quiet: true, Fallback: "kube-proxy's session affinity",
		Want: func(c Config) bool {
			r, _ := c.Release()
			switch {
			case r.AtLeast(R(1, 19)):
				return true
			case r.AtLeast(R(1, 18)) && !c.IsSet("enable-session-affinity"):
				return true
			}
			return c.Bool("enable-session-affinity")
		},
		Requires: []Requirement{{Feature: "nodeport", Blame: "kube-proxy-replacement",
			Message: "BPF session affinity requires the eBPF kube-proxy replacement (BPF NodePort)."}}},
	{Name: "dsr-hybrid", Title: "NodePort hybrid DSR/SNAT", Option: "bpf-lb-mode", Stage: CompileTime,
		Defines:  one("ENABLE_DSR_HYBRID"),
		Want:     func(c Config) bool { return c.Get("bpf-lb-mode") == "hybrid" },
		Requires: []Requirement{{Feature: "dsr", Message: `Node Port "hybrid" mode requires DSR.`}}},
	{Name: "masquerade-ipv4", Title: "IPv4 masquerading", Option: "enable-ipv4-masquerade", Stage: Agent,
		Want: func(c Config) bool { return c.Bool("enable-ipv4-masquerade") && c.Bool("enable-ipv4") },
		// With ipam=eni the VPC CIDR is the non-masquerade range, and the
		// ip-masq-agent brings its own list: neither needs the CIDR.
		// The agent's wording names the routing option of its release.
		Requires: []Requirement{
			{Option: "ipv4-native-routing-cidr", When: "!tunnel", Blame: "tunnel", Until: R(1, 14),
				Exempt:  []Setting{{"ipam", "eni"}, {"enable-ip-masq-agent", "true"}},
				Message: "native routing CIDR must be configured with option --ipv4-native-routing-cidr in combination with --enable-ipv4-masquerade --tunnel=disabled --enable-ip-masq-agent=false"},
			{Option: "ipv4-native-routing-cidr", When: "!tunnel", Blame: "routing-mode", Since: R(1, 14),
				Exempt:  []Setting{{"ipam", "eni"}, {"enable-ip-masq-agent", "true"}},
				Message: "native routing CIDR must be configured with option --ipv4-native-routing-cidr in combination with --enable-ipv4-masquerade --routing-mode=native --enable-ip-masq-agent=false"},
		}},
	{Name: "masquerade-ipv6", Title: "IPv6 masquerading", Option: "enable-ipv6-masquerade", Stage: Agent,
		Want: func(c Config) bool { return c.Bool("enable-ipv6-masquerade") && c.Bool("enable-ipv6") },
		// The agent's wording names the routing option of its release.
		Requires: []Requirement{
			{Option: "ipv6-native-routing-cidr", When: "!tunnel", Blame: "tunnel", Until: R(1, 14),
				Exempt:  []Setting{{"ipam", "eni"}, {"enable-ip-masq-agent", "true"}},
				Message: "native routing CIDR must be configured with option --ipv6-native-routing-cidr in combination with --enable-ipv6-masquerade --tunnel=disabled --enable-ip-masq-agent=false"},
			{Option: "ipv6-native-routing-cidr", When: "!tunnel", Blame: "routing-mode", Since: R(1, 14),
				Exempt:  []Setting{{"ipam", "eni"}, {"enable-ip-masq-agent", "true"}},
				Message: "native routing CIDR must be configured with option --ipv6-native-routing-cidr in combination with --enable-ipv6-masquerade --routing-mode=native --enable-ip-masq-agent=false"},
		}},
	{Name: "bpf-masquerade-ipv4", Title: "BPF masquerading (IPv4)", Option: "enable-bpf-masquerade", Stage: CompileTime,
		Defines: one("ENABLE_MASQUERADE_IPV4"), Unmet: Degrade, Fallback: "iptables masquerading",
		Want: func(c Config) bool { return c.Bool("enable-bpf-masquerade") },
		Requires: []Requirement{
			{Feature: "masquerade-ipv4", Blame: "enable-ipv4-masquerade", Policy: pol(Ignore),
				Message: "Auto-disabling enable-bpf-masquerade since IPv4 masquerading is disabled (enable-ipv4-masquerade=false)."},
			// Up to 1.14 the agent fell back to iptables masquerading (and
			// so to legacy host routing, cilium/cilium#12026); 1.15 to 1.18
			// refuse to start (cilium/cilium#29778, in v1.15.0-rc.1); from
			// 1.19 Cilium no longer needs NodePort here (cilium/cilium#41380)
			// but the dpforge datapath masquerades in its NodePort code.
			{Feature: "nodeport", Blame: "kube-proxy-replacement", Until: R(1, 15),
				Message: "BPF masquerade requires NodePort (--enable-node-port=\"true\")."},
			{Feature: "nodeport", Blame: "kube-proxy-replacement", Since: R(1, 15), Until: R(1, 19), Policy: pol(Fail),
				Message: "unable to initialize BPF masquerade support: BPF masquerade requires NodePort (--enable-node-port=\"true\")."},
			{Feature: "nodeport", Blame: "kube-proxy-replacement", Since: R(1, 19),
				Message: "Cilium masquerades in BPF without NodePort from 1.19, but the dpforge datapath does so only in its NodePort code."},
			{Cap: CapLRUHash, Message: "BPF masquerade requires LRU maps."},
		}},
	{Name: "bpf-masquerade-ipv6", Title: "BPF masquerading (IPv6)", Option: "enable-bpf-masquerade", Stage: CompileTime,
		Defines: one("ENABLE_MASQUERADE_IPV6"), Unmet: Degrade, Fallback: "iptables masquerading", Quiet: true,
		Want: func(c Config) bool { return c.Bool("enable-bpf-masquerade") && c.Bool("enable-ipv6") },
		Requires: []Requirement{
			{Feature: "masquerade-ipv6", Policy: pol(Ignore), Message: "BPF masquerading of IPv6 is off with enable-ipv6-masquerade=false."},
			{Feature: "nodeport", Until: R(1, 15), Message: "BPF masquerade requires NodePort (--enable-node-port=\"true\")."},
			{Feature: "nodeport", Since: R(1, 15), Until: R(1, 19), Policy: pol(Fail), Blame: "kube-proxy-replacement",
				Message: "unable to initialize BPF masquerade support: BPF masquerade requires NodePort (--enable-node-port=\"true\")."},
			{Feature: "nodeport", Since: R(1, 19), Blame: "kube-proxy-replacement",
				Message: "Cilium masquerades in BPF without NodePort from 1.19, but the dpforge datapath does so only in its NodePort code."},
		}},
	{Name: "ip-masq-agent", Title: "BPF ip-masq-agent", Option: "enable-ip-masq-agent", Stage: CompileTime,
		Defines: one("ENABLE_IP_MASQ_AGENT_IPV4"),
		Want:    func(c Config) bool { return c.Bool("enable-ip-masq-agent") },
		Requires: []Requirement{{Feature: "bpf-masquerade-ipv4", Blame: "enable-bpf-masquerade",
			Message: "BPF ip-masq-agent requires --enable-bpf-masquerade=\"true\" (BPF masquerading)."}}},
	{Name: "host-routing", Title: "eBPF host routing", Option: "enable-host-legacy-routing", Stage: CompileTime,
		Defines: one("ENABLE_HOST_ROUTING"), Unmet: Degrade, Fallback: "legacy host routing (enable-host-legacy-routing=true)",
		Want: func(c Config) bool { return !c.Bool("enable-host-legacy-routing") },
		Requires: []Requirement{
			{Feature: "!ipsec", Blame: "enable-ipsec", Message: "BPF host routing is incompatible with enable-ipsec."},
			// Without the kube-proxy replacement or BPF masquerading the
			// agent falls back quietly: that is the expected outcome.
			{Feature: "nodeport", Blame: "kube-proxy-replacement", Quiet: true, Message: "BPF host routing requires BPF NodePort."},
			// From 1.14 host routing follows kube-proxy-replacement=true
			// itself: false with enable-node-port (the old "partial") runs
			// legacy host routing.
			{Option: "kube-proxy-replacement", Values: []string{"true", "strict"}, Since: R(1, 14), Quiet: true,
				Message: "BPF host routing requires kube-proxy-replacement=true."},
			{Feature: "bpf-masquerade-ipv4", When: "masquerade-ipv4", Blame: "enable-bpf-masquerade", Quiet: true, Message: "BPF host routing requires enable-bpf-masquerade."},
			{Cap: CapRedirectPeer, Message: "BPF host routing requires kernel 5.10 or newer."},
			{Cap: CapRedirectNeigh, Message: "BPF host routing requires kernel 5.10 or newer."},
		}},
	{Name: "high-scale-ipcache", Title: "High-scale ipcache", Option: "enable-high-scale-ipcache", Stage: CompileTime,
		Defines: one("ENABLE_HIGH_SCALE_IPCACHE"),
		Want:    func(c Config) bool { return c.Bool("enable-high-scale-ipcache") },
		Requires: []Requirement{
			{Feature: "!tunnel", Blame: "tunnel", Message: "high-scale ipcache requires native routing."},
			{Feature: "dsr", Blame: "bpf-lb-mode", Message: "high-scale ipcache requires DSR with geneve dispatch (bpf-lb-mode=dsr, bpf-lb-dsr-dispatch=geneve)."},
			{Option: "bpf-lb-dsr-dispatch", Values: []string{"geneve"}, Message: "high-scale ipcache requires bpf-lb-dsr-dispatch=geneve."},
		}},
	{Name: "egress-gateway", Title: "Egress gateway", Option: "enable-ipv4-egress-gateway", Stage: CompileTime,
		Defines: one("ENABLE_EGRESS_GATEWAY"),
		// Renamed enable-egress-gateway in 1.18; the release drops the
		// spelling it does not know before the table is consulted.
		Want: wantsEgressGateway,
		Requires: []Requirement{
			{Feature: "ipv4", Blame: "enable-ipv4", Message: "egress gateway requires IPv4 (IPv6 is not supported)."},
			{Feature: "masquerade-ipv4", Blame: "enable-ipv4-masquerade", Message: `egress gateway requires --enable-ipv4-masquerade="true" and --enable-bpf-masquerade="true"`},
			{Feature: "bpf-masquerade-ipv4", Blame: "enable-bpf-masquerade", Message: `egress gateway requires --enable-ipv4-masquerade="true" and --enable-bpf-masquerade="true"`},
			{Feature: "nodeport", Blame: "kube-proxy-replacement", Message: "egress gateway requires the eBPF kube-proxy replacement."},
			// A warning in Cilium, not a refusal (cilium/cilium#19642).
			{Feature: "!l7-proxy", Blame: "enable-l7-proxy", Policy: pol(Warn),
				Message: "both egress gateway and L7 proxy (--enable-l7-proxy) are enabled. This is currently not fully supported: if the same endpoint is selected both by an egress gateway and a L7 policy, endpoint traffic will not go through egress gateway."},
			{Feature: "!high-scale-ipcache", Blame: "enable-high-scale-ipcache", Message: "egress gateway is incompatible with the high-scale ipcache."},
			{MinKernel: V(5, 2, 0), Message: "egress gateway requires kernel 5.2 or newer."},
		}},
	{Name: "host-firewall", Title: "Host firewall", Option: "enable-host-firewall", Stage: CompileTime,
		Defines: one("ENABLE_HOST_FIREWALL"),
		Want:    func(c Config) bool { return c.Bool("enable-host-firewall") }},
	{Name: "bandwidth-manager", Title: "Bandwidth manager", Option: "enable-bandwidth-manager", Stage: CompileTime,
		Defines: one("ENABLE_BANDWIDTH_MANAGER"), Unmet: Degrade, Fallback: "no pod egress rate limiting",
		Want: func(c Config) bool { return c.Bool("enable-bandwidth-manager") },
		Requires: []Requirement{
			{Feature: "!ipsec", Blame: "enable-ipsec", Message: "The bandwidth manager cannot be used with IPSec. Disabling the bandwidth manager."},
			{Cap: CapEDT, Message: "BPF bandwidth manager needs kernel 5.1 or newer (EDT: writable skb tstamp and fq horizon)."},
		}},
	{Name: "vtep", Title: "VTEP integration", Option: "enable-vtep", Stage: CompileTime,
		Defines: one("ENABLE_VTEP"),
		Want:    func(c Config) bool { return c.Bool("enable-vtep") },
		Requires: []Requirement{
			{Feature: "tunnel", Blame: "tunnel", Message: "VTEP integration requires VXLAN tunneling."},
			{Feature: "tunnel-vxlan", Blame: "tunnel", Message: "VTEP integration requires VXLAN tunneling."},
			{Option: "vtep-endpoint", Message: "VTEP integration requires vtep-endpoint."},
			{Option: "vtep-cidr", Message: "VTEP integration requires vtep-cidr."},
			{Option: "vtep-mask", Message: "VTEP integration requires vtep-mask."},
			{Option: "vtep-mac", Message: "VTEP integration requires vtep-mac."},
			{MinKernel: V(5, 2, 0), Message: "VTEP integration requires kernel 5.2 or newer."},
		}},
	{Name: "no-conntrack-iptables", Title: "Bypass iptables connection tracking", Option: "install-no-conntrack-iptables-rules", Stage: Agent,
		Want: func(c Config) bool { return c.Bool("install-no-conntrack-iptables-rules") },
		Requires: []Requirement{
			{Feature: "!tunnel", Blame: "tunnel", Message: "install-no-conntrack-iptables-rules requires native routing."},
			{Option: "kube-proxy-replacement", Values: []string{"true", "strict"}, Message: "install-no-conntrack-iptables-rules requires kube-proxy-replacement=true."},
			{Feature: "nodeport", Blame: "kube-proxy-replacement", Message: "install-no-conntrack-iptables-rules requires the eBPF kube-proxy replacement."},
			{Feature: "bpf-masquerade-ipv4", When: "masquerade-ipv4", Blame: "enable-bpf-masquerade", Message: "install-no-conntrack-iptables-rules requires BPF masquerading (or no masquerading)."},
			{Cap: CapSocketLBUDP, Message: "install-no-conntrack-iptables-rules requires kernel 4.19.57, 5.1.16 or 5.2 or newer."},
		}},
	{Name: "ipv6-big-tcp", Title: "IPv6 BIG TCP", Option: "enable-ipv6-big-tcp", Stage: LoadTime, Unmet: Fail, Fallback: "64k GSO/GRO",
		Want: func(c Config) bool { return c.Bool("enable-ipv6-big-tcp") },
		Requires: []Requirement{
			{Feature: "ipv6", Blame: "enable-ipv6", Message: "IPv6 BIG TCP requires enable-ipv6."},
			// Up to 1.14 the agent first turns BIG TCP off on a kernel
			// without it, then refuses the combinations below; from 1.15
			// it refuses them first (bigtcp validateConfig).
			{Cap: CapBigTCPv6, Until: R(1, 15), Message: "Cannot enable --enable-ipv6-big-tcp, needs kernel 5.19 or newer.", Policy: pol(Degrade)},
			{Feature: "!tunnel", Blame: "tunnel", Message: "BIG TCP is not supported in tunneling mode."},
			{Feature: "!ipsec", Blame: "enable-ipsec", Message: "BIG TCP is not supported with encryption enabled."},
			{Feature: "!wireguard", Blame: "enable-wireguard", Message: "BIG TCP is not supported with encryption enabled."},
			{Feature: "host-routing", Blame: "enable-host-legacy-routing", Message: "BIG TCP is not supported with legacy host routing."},
			{Cap: CapBigTCPv6, Message: "Cannot enable --enable-ipv6-big-tcp, needs kernel 5.19 or newer.", Policy: pol(Degrade)},
		}},
	{Name: "ipv4-big-tcp", Title: "IPv4 BIG TCP", Option: "enable-ipv4-big-tcp", Stage: LoadTime, Unmet: Fail, Fallback: "64k GSO/GRO",
		Want: func(c Config) bool { return c.Bool("enable-ipv4-big-tcp") },
		Requires: []Requirement{
			{Feature: "ipv4", Blame: "enable-ipv4", Message: "IPv4 BIG TCP requires enable-ipv4."},
			// Up to 1.14 the agent first turns BIG TCP off on a kernel
			// without it, then refuses the combinations below; from 1.15
			// it refuses them first (bigtcp validateConfig).
			{Cap: CapBigTCPv4, Until: R(1, 15), Message: "Cannot enable --enable-ipv4-big-tcp, needs kernel 6.3 or newer.", Policy: pol(Degrade)},
			{Feature: "!tunnel", Blame: "tunnel", Message: "BIG TCP is not supported in tunneling mode."},
			{Feature: "!ipsec", Blame: "enable-ipsec", Message: "BIG TCP is not supported with encryption enabled."},
			{Feature: "!wireguard", Blame: "enable-wireguard", Message: "BIG TCP is not supported with encryption enabled."},
			{Feature: "host-routing", Blame: "enable-host-legacy-routing", Message: "BIG TCP is not supported with legacy host routing."},
			{Cap: CapBigTCPv4, Message: "Cannot enable --enable-ipv4-big-tcp, needs kernel 6.3 or newer.", Policy: pol(Degrade)},
		}},
	{Name: "tcx", Title: "tcx attachment", Option: "enable-tcx", Stage: Agent,
		Unmet: Degrade, Quiet: true, Fallback: "legacy tc attachment",
		// Releases before 1.16 have no tcx attachment at all.
		Want: func(c Config) bool { r, _ := c.Release(); return r.AtLeast(R(1, 16)) && c.Bool("enable-tcx") },
		Requires: []Requirement{
			{Cap: CapTCX, Message: "tcx needs kernel 6.6 or newer."},
		}},
	{Name: "events-ringbuf", Title: "Drop events through a BPF ring buffer", Stage: CompileTime,
		Defines: one("HAVE_RINGBUF"), Unmet: Degrade, Quiet: true, Fallback: "a perf event array",
		Want:     func(Config) bool { return true },
		Requires: []Requirement{{Cap: CapRingBuf, Message: "BPF ring buffers need kernel 5.8 or newer."}}},
}

var featureIndex = func() map[string]int {
	m := make(map[string]int, len(Features))
	for i, f := range Features {
		if _, dup := m[f.Name]; dup {
			panic("features: duplicate feature " + f.Name)
		}
		for _, r := range f.Requires {
			name := r.Feature
			if name != "" && name[0] == '!' {
				name = name[1:]
			}
			if name == "" {
				continue
			}
			if j, ok := m[name]; !ok || j >= i {
				// Conflicts may point forward only at agent-level switches
				// decided purely from options (no requirements of their own).
				if r.Feature[0] != '!' {
					panic("features: " + f.Name + " requires " + name + ", which is not listed before it")
				}
			}
		}
		m[f.Name] = i
	}
	return m
}()

// LookupFeature finds a row of the table.
func LookupFeature(name string) (*Feature, bool) {
	i, ok := featureIndex[name]
	if !ok {
		return nil, false
	}
	return &Features[i], true
}
