package features

import (
	"fmt"
	"net/netip"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/dpforge/dpforge/features/diag"
)

// Kind is the type of an option's value.
type Kind int

// Option kinds.
const (
	KindBool Kind = iota
	KindEnum
	KindInt
	KindCIDR
	KindString
	KindList // comma- or space-separated words (devices, vtep lists)
	KindMAC
	KindRelease // a Cilium release, 1.MINOR[.PATCH]
)

func (k Kind) String() string {
	return [...]string{"boolean", "one of a set of words", "integer", "CIDR", "string", "list", "MAC address", "Cilium release"}[k]
}

// Option is one of Cilium's agent options that dpforge models.
type Option struct {
	Name    string
	Kind    Kind
	Default string
	Values  []string // KindEnum: allowed words
	Min     int64    // KindInt bounds
	Max     int64
	Doc     string
}

var (
	nameRe   = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
	deviceRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.:+-]{0,14}$`)
	macRe    = regexp.MustCompile(`^([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}$`)
)

// optionTable lists the modeled options. Defaults are the agent's defaults.
var optionTable = []Option{
	{Name: "tunnel", Kind: KindEnum, Values: []string{"vxlan", "geneve", "disabled"}, Doc: "encapsulation (pre-1.14 spelling of routing-mode/tunnel-protocol)"},
	{Name: "routing-mode", Kind: KindEnum, Values: []string{"tunnel", "native"}, Doc: "tunnel or native routing"},
	{Name: "tunnel-protocol", Kind: KindEnum, Values: []string{"vxlan", "geneve"}, Doc: "encapsulation protocol of the overlay device: tunnel routing, and the egress gateway in native routing"},
	{Name: "tunnel-port", Kind: KindInt, Min: 1, Max: 65535, Doc: "UDP port of the tunnel (8472 for vxlan, 6081 for geneve)"},
	{Name: "ipv4-native-routing-cidr", Kind: KindCIDR, Doc: "IPv4 CIDR reachable without masquerading in native routing"},
	{Name: "ipv6-native-routing-cidr", Kind: KindCIDR, Doc: "IPv6 CIDR reachable without masquerading in native routing"},
	{Name: "auto-direct-node-routes", Kind: KindBool, Default: "false", Doc: "install routes to other nodes' pod CIDRs (native routing on one L2)"},
	{Name: "kube-proxy-replacement", Kind: KindEnum, Default: "false",
		Values: []string{"true", "false", "strict", "partial", "probe", "disabled"},
		Doc:    "eBPF replacement of kube-proxy (the words' meaning follows the release: see valueEras)"},
	{Name: "enable-node-port", Kind: KindBool, Default: "false", Doc: "NodePort services in BPF"},
	{Name: "enable-host-port", Kind: KindBool, Default: "false", Doc: "hostPort in BPF"},
	{Name: "enable-external-ips", Kind: KindBool, Default: "false", Doc: "externalIPs services in BPF"},
	{Name: "node-port-range", Kind: KindString, Default: "30000,32767", Doc: "NodePort range MIN,MAX"},
	{Name: "enable-host-legacy-routing", Kind: KindBool, Default: "false", Doc: "route through the host stack instead of eBPF host routing"},
	{Name: "bpf-lb-mode", Kind: KindEnum, Default: "snat", Values: []string{"snat", "dsr", "hybrid"}, Doc: "NodePort forwarding mode"},
	{Name: "bpf-lb-dsr-dispatch", Kind: KindEnum, Default: "opt", Values: []string{"opt", "ipip", "geneve"}, Doc: "how DSR carries the service address"},
	{Name: "enable-bpf-masquerade", Kind: KindBool, Default: "false", Doc: "masquerade in BPF instead of iptables"},
	{Name: "enable-ipv4-masquerade", Kind: KindBool, Default: "true", Doc: "masquerade IPv4 traffic leaving the cluster"},
	{Name: "enable-ipv6-masquerade", Kind: KindBool, Default: "true", Doc: "masquerade IPv6 traffic leaving the cluster"},
	{Name: "enable-ip-masq-agent", Kind: KindBool, Default: "false", Doc: "non-masquerade CIDRs from the ip-masq-agent config"},
	{Name: "enable-ipv4", Kind: KindBool, Default: "true", Doc: "IPv4 addressing"},
	{Name: "enable-ipv6", Kind: KindBool, Default: "false", Doc: "IPv6 addressing"},
	{Name: "enable-ipv4-egress-gateway", Kind: KindBool, Default: "false", Doc: "egress gateway policies (up to 1.18)"},
	{Name: "enable-egress-gateway", Kind: KindBool, Default: "false", Doc: "egress gateway policies (1.18 on)"},
	{Name: "enable-l7-proxy", Kind: KindBool, Default: "true", Doc: "L7 policy through the proxy"},
	{Name: "enable-host-firewall", Kind: KindBool, Default: "false", Doc: "host policies on the native devices"},
	{Name: "enable-bandwidth-manager", Kind: KindBool, Default: "false", Doc: "EDT-based pod egress rate limits"},
	{Name: "enable-ipv6-big-tcp", Kind: KindBool, Default: "false", Doc: "IPv6 BIG TCP"},
	{Name: "enable-ipv4-big-tcp", Kind: KindBool, Default: "false", Doc: "IPv4 BIG TCP"},
	{Name: "enable-vtep", Kind: KindBool, Default: "false", Doc: "VXLAN tunnel endpoint integration"},
	{Name: "vtep-endpoint", Kind: KindList, Doc: "VTEP IPv4 addresses"},
	{Name: "vtep-cidr", Kind: KindList, Doc: "CIDRs behind each VTEP"},
	{Name: "vtep-mask", Kind: KindString, Doc: "VTEP CIDR mask (dotted quad)"},
	{Name: "vtep-mac", Kind: KindList, Doc: "MAC address of each VTEP"},
	{Name: "enable-high-scale-ipcache", Kind: KindBool, Default: "false", Doc: "high-scale ipcache (native routing, DSR with geneve dispatch)"},
	{Name: "install-no-conntrack-iptables-rules", Kind: KindBool, Default: "false", Doc: "bypass iptables connection tracking for pod traffic"},
	{Name: "enable-wireguard", Kind: KindBool, Default: "false", Doc: "WireGuard transparent encryption"},
	{Name: "enable-ipsec", Kind: KindBool, Default: "false", Doc: "IPsec transparent encryption"},
	{Name: "cluster-id", Kind: KindInt, Default: "0", Min: 0, Max: 511, Doc: "cluster id for cluster mesh"},
	{Name: "cluster-name", Kind: KindString, Default: "default", Doc: "cluster name"},
	{Name: "devices", Kind: KindList, Doc: "native devices the datapath attaches to"},
	{Name: "mtu", Kind: KindInt, Default: "0", Min: 0, Max: 65535, Doc: "device MTU (0: detect)"},
	// Load balancing and datapath state sizes.
	{Name: "bpf-lb-algorithm", Kind: KindEnum, Default: "random", Values: []string{"random", "maglev"}, Doc: "backend selection for new flows"},
	{Name: "bpf-lb-maglev-table-size", Kind: KindInt, Default: "16381", Min: 251, Max: 131071, Doc: "Maglev lookup table size per service (a prime listed by Cilium)"},
	{Name: "enable-session-affinity", Kind: KindBool, Default: "false", Doc: "ClientIP session affinity of services"},
	{Name: "bpf-ct-global-tcp-max", Kind: KindInt, Default: "524288", Min: 1 << 10, Max: 1 << 24, Doc: "conntrack entries for TCP"},
	{Name: "bpf-ct-global-any-max", Kind: KindInt, Default: "262144", Min: 1 << 10, Max: 1 << 24, Doc: "conntrack entries for other protocols"},
	{Name: "bpf-nat-global-max", Kind: KindInt, Default: "524288", Min: 1 << 10, Max: 1 << 24, Doc: "NAT mapping entries"},
	{Name: "enable-tcx", Kind: KindBool, Default: "true", Doc: "attach with tcx links where the kernel has them (Cilium 1.16+)"},
	{Name: "ipam", Kind: KindString, Default: "cluster-pool", Doc: "IP address management mode (eni: the VPC routes pod addresses)"},
	{Name: ReleaseOption, Kind: KindRelease, Doc: "the Cilium release that runs the configuration (dpforge's own key; default: the newest modeled)"},
}

// MaglevTableSizes are the Maglev table sizes Cilium accepts (primes, so
// that every backend's permutation covers the table).
var MaglevTableSizes = []int{251, 509, 1021, 2039, 4093, 8191, 16381, 32749, 65521, 131071}

var optionIndex = func() map[string]*Option {
	m := make(map[string]*Option, len(optionTable))
	for i := range optionTable {
		m[optionTable[i].Name] = &optionTable[i]
	}
	return m
}()

// Options lists the modeled options, sorted by name.
func Options() []Option {
	out := append([]Option(nil), optionTable...)
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Modeled finds an option dpforge models.
func Modeled(name string) (*Option, bool) {
	o, ok := optionIndex[name]
	return o, ok
}

// knownNames are every Cilium option and dpforge's own keys, for suggestions.
var knownNames = func() []string {
	var all []string
	for _, o := range KnownOptions() {
		all = append(all, o.Name)
	}
	for _, o := range optionTable {
		if _, ok := LookupOption(o.Name); !ok {
			all = append(all, o.Name)
		}
	}
	return all
}()

// Suggest returns the known option name closest to one no Cilium release
// has, or "".
func Suggest(name string) string { return diag.Closest(name, knownNames) }

// Normalize checks a raw option value against the option's kind and returns
// its canonical form (booleans as "true"/"false", lists joined by ",").
func (o *Option) Normalize(raw string) (string, error) {
	v := strings.TrimSpace(raw)
	switch o.Kind {
	case KindBool:
		b, err := strconv.ParseBool(v)
		if err != nil {
			return "", fmt.Errorf("%q is not a boolean (want true or false)", raw)
		}
		return strconv.FormatBool(b), nil
	case KindEnum:
		l := strings.ToLower(v)
		for _, w := range o.Values {
			if l == w {
				return w, nil
			}
		}
		return "", fmt.Errorf("%q is not one of %s", raw, strings.Join(o.Values, ", "))
	case KindInt:
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return "", fmt.Errorf("%q is not an integer", raw)
		}
		if n < o.Min || n > o.Max {
			return "", fmt.Errorf("%d is out of range %d..%d", n, o.Min, o.Max)
		}
		return strconv.FormatInt(n, 10), nil
	case KindCIDR:
		p, err := netip.ParsePrefix(v)
		if err != nil {
			return "", fmt.Errorf("%q is not a CIDR", raw)
		}
		if p.Masked() != p {
			return "", fmt.Errorf("%q has host bits set (did you mean %s?)", raw, p.Masked())
		}
		return p.String(), nil
	case KindList:
		words := strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' })
		for _, w := range words {
			if !safeWord(w) {
				return "", fmt.Errorf("list element %q contains characters not allowed in a name or address", w)
			}
		}
		return strings.Join(words, ","), nil
	case KindRelease:
		r, err := ParseRelease(v)
		if err != nil {
			return "", err
		}
		return r.String(), nil
	case KindMAC:
		if !macRe.MatchString(v) {
			return "", fmt.Errorf("%q is not a MAC address", raw)
		}
		return strings.ToLower(v), nil
	default: // KindString
		if !safeString(v) {
			return "", fmt.Errorf("%q contains characters that are not allowed (quotes, '#', '\\', control characters)", raw)
		}
		return v, nil
	}
}

// safeWord allows what device names, addresses, CIDRs and MACs are made of.
func safeWord(s string) bool {
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("._:/+-", r)) {
			return false
		}
	}
	return s != "" && !strings.Contains(s, "..")
}

// safeString keeps values out of C syntax: generated headers put some of them
// inside comments and string literals.
func safeString(s string) bool {
	for _, r := range s {
		if r < 0x20 || r == 0x7f || r == '"' || r == '\'' || r == '\\' || r == '#' || r == '*' || r == '`' {
			return false
		}
	}
	return len(s) <= 253
}

// ValidName reports whether s is a DNS-1123 label, as node and profile names
// must be: they become file names and C comments.
func ValidName(s string) bool {
	if s == "" || len(s) > 63 || s[0] == '-' || s[len(s)-1] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// ValidDevice reports whether s looks like a Linux interface name.
func ValidDevice(s string) bool { return deviceRe.MatchString(s) && !strings.Contains(s, "..") }
