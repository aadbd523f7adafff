package features

import (
	"fmt"
	"strings"
)

// status renders the node's outcome in the words of `cilium status`.
func status(cfg Config, r *Resolution) []StatusLine {
	var s []StatusLine
	add := func(k, v string) { s = append(s, StatusLine{k, v}) }
	devs := ""
	if d := cfg.List("devices"); len(d) > 0 {
		devs = " [" + strings.Join(d, ", ") + "]"
	}
	enabled := func(on bool) string {
		if on {
			return "Enabled"
		}
		return "Disabled"
	}

	kpr := cfg.KPR().Word()
	if d := r.Decision("nodeport"); d.State == Failed {
		kpr += " (failed: " + d.Reason + ")"
	} else if d.State == Downgraded {
		kpr += " (NodePort disabled: " + d.Reason + ")"
	} else if d.State == Enabled {
		kpr += devs
	}
	add("KubeProxyReplacement", kpr)
	if r.On("nodeport") {
		mode := "SNAT"
		if r.On("dsr-hybrid") {
			mode = "Hybrid"
		} else if r.On("dsr") {
			mode = "DSR"
		}
		lo, hi, _ := nodePortRange(cfg)
		details := fmt.Sprintf("Mode: %s", mode)
		if r.On("dsr") {
			details += "  DSR Dispatch Mode: IP Option/Extension"
		}
		details += fmt.Sprintf("  Port Range: %d-%d", lo, hi)
		details += "  HostPort: " + enabled(r.On("host-port")) + "  ExternalIPs: " + enabled(r.On("external-ips"))
		add("KubeProxyReplacement Details", details)
	}

	host := "BPF"
	if !r.On("host-routing") {
		host = "Legacy"
	}
	network := "Native"
	if rt := cfg.Routing(); rt.Tunnel {
		network = "Tunnel [" + rt.Protocol + "]"
	}
	add("Routing", "Network: "+network+"   Host: "+host)
	add("Host Routing", host)

	fam := fmt.Sprintf("[IPv4: %s, IPv6: %s]", enabled(r.On("masquerade-ipv4")), enabled(r.On("masquerade-ipv6")))
	switch {
	case r.Decision("bpf-masquerade-ipv4").State == Failed:
		add("Masquerading", "BPF (failed: "+r.Decision("bpf-masquerade-ipv4").Reason+")")
	case !r.On("masquerade-ipv4") && !r.On("masquerade-ipv6"):
		add("Masquerading", "Disabled")
	case r.On("bpf-masquerade-ipv4") || r.On("bpf-masquerade-ipv6"):
		m := "BPF"
		if r.On("ip-masq-agent") {
			m = "BPF (ip-masq-agent)"
		}
		m += devs
		if p, ok := cfg.Prefix("ipv4-native-routing-cidr"); ok {
			m += "   " + p.String()
		}
		add("Masquerading", m+" "+fam)
	default:
		add("Masquerading", "IPTables "+fam)
	}

	bw := "Disabled"
	if r.On("bandwidth-manager") {
		bw = "EDT with BPF [CUBIC]" + devs
	}
	add("BandwidthManager", bw)
	big := func(name string) string {
		if r.On(name) {
			return "Enabled [196608]"
		}
		return "Disabled"
	}
	add("IPv6 BIG TCP", big("ipv6-big-tcp"))
	add("IPv4 BIG TCP", big("ipv4-big-tcp"))
	fw := "Disabled"
	if r.On("host-firewall") {
		fw = "Enabled" + devs
	}
	add("Host firewall", fw)
	if r.On("ipv6") {
		// What the datapath does with IPv6 today, plainly.
		v6 := "Network policy"
		if r.On("host-firewall") {
			v6 += " and host firewall"
		}
		add("IPv6", v6+" (identity, port, conntrack), then routed by the stack: no load balancing, NAT or masquerading in the datapath")
	}
	egw := enabled(r.On("egress-gateway"))
	if r.On("egress-gateway") && !r.On("tunnel") && r.On("tunnel-device") {
		egw += " (to gateway nodes through the " + cfg.Routing().Encap + " overlay device, in native routing too)"
	}
	add("Egress Gateway", egw)
	add("VTEP", enabled(r.On("vtep")))
	enc := "Disabled"
	switch {
	case r.On("wireguard"):
		enc = "Wireguard"
	case r.On("ipsec"):
		enc = "IPsec"
	}
	add("Encryption", enc)
	attach := "Legacy TC"
	if r.On("tcx") {
		attach = "TCX"
	}
	add("Attach Mode", attach)
	return s
}
