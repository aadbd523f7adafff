package features

import (
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/dpforge/dpforge/features/diag"
)

func kernel(v string) Kernel { return Kernel{Name: v, Version: MustVersion(v)} }

func states(r *Resolution, names ...string) map[string]State {
	m := map[string]State{}
	for _, n := range names {
		m[n] = r.Decision(n).State
	}
	return m
}

func TestResolveSeedScenarios(t *testing.T) {
	for _, tc := range []struct {
		name   string
		cfg    Config
		kernel string
		want   map[string]State
		errors []string // rules of error problems
	}{
		{
			// Seed 000: Cilium on 4.19.232 without KPR: legacy routing,
			// iptables masquerading, no bandwidth manager, no BIG TCP.
			name: "seed-4.19.232", kernel: "4.19.232",
			cfg: Config{"kube-proxy-replacement": "disabled", "enable-bandwidth-manager": "true", "cilium-version": "1.12"},
			want: map[string]State{"host-routing": Downgraded, "bandwidth-manager": Downgraded, "nodeport": Disabled,
				"bpf-masquerade-ipv4": Disabled, "masquerade-ipv4": Enabled, "ipv6-big-tcp": Disabled, "events-ringbuf": Downgraded},
		},
		{
			name: "vxlan-strict-bpf-masq", kernel: "5.10.0",
			cfg:  Config{"cilium-version": "1.14", "tunnel": "vxlan", "kube-proxy-replacement": "strict", "enable-bpf-masquerade": "true"},
			want: map[string]State{"host-routing": Enabled, "nodeport": Enabled, "bpf-masquerade-ipv4": Enabled, "tunnel-vxlan": Enabled},
		},
		{
			name: "native-dsr", kernel: "6.1.0",
			cfg: Config{"cilium-version": "1.14", "tunnel": "disabled", "kube-proxy-replacement": "true", "bpf-lb-mode": "dsr",
				"ipv4-native-routing-cidr": "10.0.0.0/8", "enable-bpf-masquerade": "true"},
			want: map[string]State{"dsr": Enabled, "dsr-hybrid": Disabled, "host-routing": Enabled},
		},
		{
			name: "dsr-vxlan", kernel: "6.1.0",
			cfg:    Config{"cilium-version": "1.14", "tunnel": "vxlan", "kube-proxy-replacement": "true", "bpf-lb-mode": "dsr"},
			want:   map[string]State{"dsr": Failed},
			errors: []string{"conflict"},
		},
		{
			name: "native-without-cidr", kernel: "6.1.0",
			cfg:    Config{"routing-mode": "native", "kube-proxy-replacement": "true"},
			want:   map[string]State{"masquerade-ipv4": Failed},
			errors: []string{"missing-option"},
		},
		{
			// Cilium warns (cilium/cilium#19642) and starts; the L7 proxy is
			// on by default, so this is the standard install.
			name: "egress-gateway-l7", kernel: "5.10.0",
			cfg:  Config{"kube-proxy-replacement": "true", "enable-bpf-masquerade": "true", "enable-ipv4-egress-gateway": "true", "cilium-version": "1.16"},
			want: map[string]State{"egress-gateway": Enabled, "l7-proxy": Enabled},
		},
		{
			name: "egress-gateway-ok", kernel: "5.10.0",
			cfg:  Config{"kube-proxy-replacement": "true", "enable-bpf-masquerade": "true", "enable-egress-gateway": "true", "enable-l7-proxy": "false"},
			want: map[string]State{"egress-gateway": Enabled},
		},
		{
			name: "strict-old-kernel-fails", kernel: "4.9.0",
			cfg:    Config{"kube-proxy-replacement": "strict", "cilium-version": "1.14"},
			want:   map[string]State{"nodeport": Failed, "host-routing": Downgraded},
			errors: []string{"kernel-too-old"},
		},
		{
			name: "probe-old-kernel-degrades", kernel: "4.9.0",
			cfg:  Config{"kube-proxy-replacement": "probe", "cilium-version": "1.12"},
			want: map[string]State{"nodeport": Downgraded, "host-routing": Downgraded},
		},
		{
			// Removed in 1.13 (cilium/cilium#22083): the agent refuses it.
			name: "probe-removed", kernel: "6.1.0",
			cfg:    Config{"kube-proxy-replacement": "probe", "cilium-version": "1.13"},
			want:   map[string]State{"nodeport": Enabled},
			errors: []string{"invalid-value"},
		},
		{
			// 1.15 still reads strict as true; 1.16 refuses it
			// (cilium/cilium#31286).
			name: "strict-1.15", kernel: "6.1.0",
			cfg:  Config{"kube-proxy-replacement": "strict", "cilium-version": "1.15", "enable-bpf-masquerade": "true", "routing-mode": "tunnel"},
			want: map[string]State{"nodeport": Enabled, "host-routing": Enabled},
		},
		{
			name: "strict-1.16", kernel: "6.1.0",
			cfg:    Config{"kube-proxy-replacement": "strict", "cilium-version": "1.16"},
			want:   map[string]State{},
			errors: []string{"invalid-value"},
		},
		{
			// Typhoon's emulation of partial: NodePort in BPF, but host
			// routing follows kube-proxy-replacement=true from 1.14.
			name: "kpr-false-nodeport-1.14", kernel: "6.1.0",
			cfg:  Config{"kube-proxy-replacement": "false", "enable-node-port": "true", "cilium-version": "1.14"},
			want: map[string]State{"nodeport": Enabled, "host-routing": Downgraded},
		},
		{
			name: "kpr-false-nodeport-1.13", kernel: "6.1.0",
			cfg:  Config{"kube-proxy-replacement": "partial", "enable-node-port": "true", "enable-bpf-masquerade": "true", "cilium-version": "1.13"},
			want: map[string]State{"nodeport": Enabled, "host-routing": Enabled},
		},
		{
			name: "eni-needs-no-cidr", kernel: "6.1.0",
			cfg:  Config{"routing-mode": "native", "kube-proxy-replacement": "true", "ipam": "eni"},
			want: map[string]State{"masquerade-ipv4": Enabled},
		},
		{
			name: "ip-masq-agent-needs-no-cidr", kernel: "6.1.0",
			cfg:  Config{"routing-mode": "native", "kube-proxy-replacement": "true", "enable-bpf-masquerade": "true", "enable-ip-masq-agent": "true"},
			want: map[string]State{"masquerade-ipv4": Enabled, "ip-masq-agent": Enabled},
		},
		{
			// Fatal from 1.15 (cilium/cilium#29778, v1.15.0-rc.1).
			name: "bpf-masq-without-nodeport-1.15", kernel: "6.1.0",
			cfg:    Config{"kube-proxy-replacement": "false", "enable-bpf-masquerade": "true", "cilium-version": "1.15"},
			want:   map[string]State{"bpf-masquerade-ipv4": Failed},
			errors: []string{"missing-dependency"},
		},
		{
			// Before, the agent fell back to iptables masquerading.
			name: "bpf-masq-without-nodeport-1.14", kernel: "6.1.0",
			cfg:  Config{"kube-proxy-replacement": "false", "enable-bpf-masquerade": "true", "cilium-version": "1.14"},
			want: map[string]State{"bpf-masquerade-ipv4": Downgraded, "masquerade-ipv4": Enabled},
		},
		{
			// From 1.19 Cilium needs no NodePort here (cilium/cilium#41380);
			// dpforge's datapath does, so it is a downgrade, not an error.
			name: "bpf-masq-without-nodeport-1.19", kernel: "6.1.0",
			cfg:  Config{"kube-proxy-replacement": "false", "enable-bpf-masquerade": "true", "cilium-version": "1.19"},
			want: map[string]State{"bpf-masquerade-ipv4": Downgraded},
		},
		{
			// 1.14 refuses routing-mode other than its default with tunnel.
			name: "tunnel-and-routing-mode-1.14", kernel: "6.1.0",
			cfg:    Config{"tunnel": "disabled", "routing-mode": "native", "ipv4-native-routing-cidr": "10.0.0.0/8", "cilium-version": "1.14"},
			want:   map[string]State{},
			errors: []string{"conflict"},
		},
		{
			// ... and reads tunnel when routing-mode is the default.
			name: "tunnel-wins-over-default-routing-mode-1.14", kernel: "6.1.0",
			cfg:  Config{"tunnel": "disabled", "routing-mode": "tunnel", "ipv4-native-routing-cidr": "10.0.0.0/8", "cilium-version": "1.14"},
			want: map[string]State{"tunnel": Disabled},
		},
		{
			name: "big-tcp-legacy-routing", kernel: "6.6.0",
			cfg: Config{"routing-mode": "native", "ipv4-native-routing-cidr": "10.0.0.0/8", "kube-proxy-replacement": "true",
				"enable-bpf-masquerade": "true", "enable-host-legacy-routing": "true", "enable-ipv4-big-tcp": "true"},
			want:   map[string]State{"ipv4-big-tcp": Failed},
			errors: []string{"missing-dependency"},
		},
		{
			name: "big-tcp-tunnel", kernel: "6.6.0",
			cfg:    Config{"kube-proxy-replacement": "true", "enable-bpf-masquerade": "true", "enable-ipv6": "true", "enable-ipv6-big-tcp": "true"},
			want:   map[string]State{"ipv6-big-tcp": Failed},
			errors: []string{"conflict"},
		},
		{
			// A 1.15+ agent does not know tunnel: it stays in VXLAN.
			name: "tunnel-disabled-ignored", kernel: "6.1.0",
			cfg:  Config{"tunnel": "disabled", "kube-proxy-replacement": "true", "cilium-version": "1.15"},
			want: map[string]State{"tunnel": Enabled, "tunnel-vxlan": Enabled},
		},
		{
			name: "tunnel-disabled-1.14", kernel: "6.1.0",
			cfg:  Config{"tunnel": "disabled", "ipv4-native-routing-cidr": "10.0.0.0/8", "kube-proxy-replacement": "true", "cilium-version": "1.14"},
			want: map[string]State{"tunnel": Disabled},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := Resolve(tc.cfg, kernel(tc.kernel), "")
			names := make([]string, 0, len(tc.want))
			for n := range tc.want {
				names = append(names, n)
			}
			if diff := cmp.Diff(tc.want, states(r, names...)); diff != "" {
				t.Errorf("states (-want +got):\n%s\nproblems: %+v", diff, r.Problems)
			}
			var errs []string
			for _, p := range r.Problems {
				if p.Severity == diag.Error {
					errs = append(errs, p.Rule)
				}
			}
			if diff := cmp.Diff(tc.errors, errs); diff != "" {
				t.Errorf("error rules (-want +got):\n%s\nproblems: %+v", diff, r.Problems)
			}
		})
	}
}

func TestResolveIsPureAndStable(t *testing.T) {
	cfg := Config{"tunnel": "geneve", "kube-proxy-replacement": "true", "enable-bpf-masquerade": "true"}
	a := Resolve(cfg, kernel("6.1.0"), "")
	b := Resolve(cfg, kernel("6.1.0"), "")
	if diff := cmp.Diff(a, b, cmpopts.IgnoreUnexported(Resolution{})); diff != "" {
		t.Fatalf("two resolutions differ:\n%s", diff)
	}
	if len(a.Variant.ID) != 12 {
		t.Errorf("variant id %q: want 12 hex digits", a.Variant.ID)
	}
	// Load-time values do not change the variant.
	c := Resolve(cfg.Merge(Config{"mtu": "9000", "cluster-id": "0"}), kernel("6.1.0"), "")
	if c.Variant.ID != a.Variant.ID {
		t.Errorf("mtu changed the variant: %s vs %s", c.Variant.ID, a.Variant.ID)
	}
	// Byte order does.
	d := Resolve(cfg, kernel("6.1.0"), BigEndian)
	if d.Variant.ID == a.Variant.ID {
		t.Errorf("big-endian variant shares id %s", d.Variant.ID)
	}
}

func TestMasqueradeOffIsNotIPTables(t *testing.T) {
	r := Resolve(Config{"kube-proxy-replacement": "true", "enable-bpf-masquerade": "true", "enable-ipv4-masquerade": "false"}, kernel("6.1.0"), "")
	for _, s := range r.Status {
		if s.Key == "Masquerading" && s.Value != "Disabled" {
			t.Errorf("Masquerading: %q, want Disabled", s.Value)
		}
	}
	for _, p := range r.Problems {
		if strings.Contains(p.Message, "iptables") {
			t.Errorf("problem speaks of iptables: %+v", p)
		}
	}
	if d := r.Decision("bpf-masquerade-ipv4"); strings.Contains(d.Reason, "iptables") {
		t.Errorf("reason speaks of iptables: %+v", d)
	}
}

// A failed masquerade (no native-routing CIDR) must not make BPF
// masquerading say masquerading is off: the follow-up names the failure.
func TestFollowUpsDoNotContradict(t *testing.T) {
	r := Resolve(Config{"routing-mode": "native", "kube-proxy-replacement": "true", "enable-bpf-masquerade": "true"}, kernel("6.1.0"), "")
	d := r.Decision("bpf-masquerade-ipv4")
	if strings.Contains(d.Reason, "=false") || !strings.Contains(d.Reason, "failed") {
		t.Errorf("bpf-masquerade-ipv4: %+v", d)
	}
}

func TestTCXFollowsOption(t *testing.T) {
	attach := func(cfg Config) string {
		for _, s := range Resolve(cfg, kernel("6.12.0"), "").Status {
			if s.Key == "Attach Mode" {
				return s.Value
			}
		}
		return ""
	}
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{}, "TCX"},
		{Config{"enable-tcx": "false"}, "Legacy TC"},
		{Config{"cilium-version": "1.15"}, "Legacy TC"},
	} {
		if got := attach(tc.cfg); got != tc.want {
			t.Errorf("%v: Attach Mode %q, want %q", tc.cfg, got, tc.want)
		}
	}
}

func TestHostRoutingReasonNamesKernel(t *testing.T) {
	r := Resolve(Config{"kube-proxy-replacement": "true", "enable-bpf-masquerade": "true"}, kernel("5.4.0"), "")
	d := r.Decision("host-routing")
	if d.State != Downgraded || !strings.Contains(d.Reason, "requires kernel 5.10 or newer") || !strings.Contains(d.Reason, "legacy host routing") {
		t.Fatalf("host routing on 5.4: %+v", d)
	}
}

func TestProbedCapabilitiesWin(t *testing.T) {
	k := kernel("4.18.0")
	k.Probed = map[Capability]bool{CapRedirectPeer: true, CapRedirectNeigh: true}
	r := Resolve(Config{"kube-proxy-replacement": "true", "enable-bpf-masquerade": "true"}, k, "")
	if !r.On("host-routing") {
		t.Fatalf("probed 4.18 with redirect helpers: host routing %+v", r.Decision("host-routing"))
	}
}

func TestParseVersion(t *testing.T) {
	for in, want := range map[string]string{"4.19.232": "4.19.232", "5.10": "5.10.0", "4.18.0-305.el8.x86_64": "4.18.0"} {
		v, err := ParseVersion(in)
		if err != nil || v.String() != want {
			t.Errorf("ParseVersion(%q) = %v, %v; want %s", in, v, err, want)
		}
	}
	for _, bad := range []string{"", "510", "5.100", "1.0", "10.1", "5.x", "05.10", "5.10.1.2", "-1.2"} {
		if _, err := ParseVersion(bad); err == nil {
			t.Errorf("ParseVersion(%q): want error", bad)
		}
	}
}

func TestSocketLBBackportBranches(t *testing.T) {
	for v, want := range map[string]bool{"4.19.56": false, "4.19.57": true, "5.1.15": false, "5.1.16": true, "5.2.0": true, "5.0.0": false, "4.20.0": false} {
		if got := versionHas(MustVersion(v), CapSocketLBUDP); got != want {
			t.Errorf("%s: got %v want %v", v, got, want)
		}
	}
}

func TestSuggest(t *testing.T) {
	for in, want := range map[string]string{"enable-bpf-masqurade": "enable-bpf-masquerade", "tunel": "tunnel", "kube-proxy-replacment": "kube-proxy-replacement", "zzz": ""} {
		if got := Suggest(in); got != want {
			t.Errorf("Suggest(%q) = %q, want %q", in, got, want)
		}
	}
}

// RHEL 8's 4.18 has the helpers eBPF host routing needs; a plain 4.18 not.
func TestDistroKernelClaims(t *testing.T) {
	d, ok := LookupDistro("rhel8")
	if !ok {
		t.Fatal("no rhel8")
	}
	cfg := Config{"routing-mode": "native", "ipv4-native-routing-cidr": "10.0.0.0/8", "kube-proxy-replacement": "true", "enable-bpf-masquerade": "true"}
	if r := Resolve(cfg, d.Kernel(), ""); !r.On("host-routing") {
		t.Errorf("rhel8: host routing %+v", r.Decision("host-routing"))
	}
	r := Resolve(cfg, kernel("4.18.0"), "")
	if r.On("host-routing") {
		t.Errorf("plain 4.18: host routing on")
	}
	for _, c := range d.Claims {
		if c.Source == "" || !KnownCapability(c.Cap) {
			t.Errorf("rhel8 claim %+v: unknown capability or no source", c)
		}
	}
	if _, how := d.Kernel().Has(CapRedirectPeer); !strings.Contains(how, "cilium/cilium#39789") {
		t.Errorf("claim source not reported: %q", how)
	}
}

// A Resolver shares the work between nodes that differ only in per-node
// values, and gives each node its own values and value problems.
func TestResolverShares(t *testing.T) {
	var rs Resolver
	base := Config{"routing-mode": "tunnel", "kube-proxy-replacement": "true", "cluster-name": "c"}
	a := rs.Resolve(base.Merge(Config{"mtu": "1400", "cluster-id": "3"}), kernel("6.1.0"), "")
	b := rs.Resolve(base.Merge(Config{"mtu": "1000"}), kernel("6.1.0"), "")
	c := rs.Resolve(base.Merge(Config{"mtu": "1400", "enable-bandwidth-manager": "true"}), kernel("6.1.0"), "")
	if len(rs.shared) != 2 {
		t.Errorf("%d shared resolutions, want 2", len(rs.shared))
	}
	value := func(r *Resolution, v string) string {
		for _, x := range r.Values {
			if x.Var == v {
				return x.Value
			}
		}
		return ""
	}
	if value(a, "cfg_mtu") != "1400" || value(a, "cfg_cluster_id") != "3" || value(b, "cfg_mtu") != "1000" || value(b, "cfg_cluster_id") != "0" {
		t.Errorf("values: a %+v b %+v", a.Values, b.Values)
	}
	var bErrs []string
	for _, p := range b.Problems {
		bErrs = append(bErrs, p.Rule)
	}
	if len(a.Problems) != 0 || !slices.Equal(bErrs, []string{"invalid-value"}) {
		t.Errorf("problems: a %+v b %+v", a.Problems, b.Problems)
	}
	if !c.On("bandwidth-manager") || a.On("bandwidth-manager") {
		t.Errorf("configurations that differ in a feature shared a resolution")
	}
	// Sharing gives what resolving alone gives.
	if diff := cmp.Diff(Resolve(base.Merge(Config{"mtu": "1000"}), kernel("6.1.0"), ""), b, cmpopts.IgnoreUnexported(Resolution{})); diff != "" {
		t.Errorf("shared resolution differs (-alone +shared):\n%s", diff)
	}
}

// Up to 1.14 an old kernel turns BIG TCP off before the agent checks the
// routing; from 1.15 the routing check comes first and is fatal.
func TestBigTCPOrderFollowsRelease(t *testing.T) {
	cfg := Config{"routing-mode": "tunnel", "enable-ipv6": "true", "enable-ipv6-big-tcp": "true"}
	old := Resolve(cfg.Merge(Config{"cilium-version": "1.14"}), kernel("5.10.0"), "")
	if d := old.Decision("ipv6-big-tcp"); d.State != Downgraded {
		t.Errorf("1.14 on 5.10: %+v", d)
	}
	cur := Resolve(cfg.Merge(Config{"cilium-version": "1.15"}), kernel("5.10.0"), "")
	if d := cur.Decision("ipv6-big-tcp"); d.State != Failed {
		t.Errorf("1.15 on 5.10: %+v", d)
	}
}
