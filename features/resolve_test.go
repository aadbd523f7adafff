package features

import (
	"maps"
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

// Kernels without global data get objects whose node values are compiled
// in: one variant per value set, nothing left to set at load, no warning.
func TestStaticConfigBefore52(t *testing.T) {
	cfg := Config{"tunnel": "vxlan", "mtu": "1450"}
	old := Resolve(cfg, kernel("4.19.232"), "")
	defines := map[string]string{}
	for _, d := range old.Variant.Defines {
		defines[d.Name] = d.Value
	}
	if defines[StaticConfigDefine] != "1" || defines["MTU"] != "1450" || defines["TUNNEL_PORT"] != "8472" {
		t.Errorf("4.19 variant defines %v, want %s, MTU=1450, TUNNEL_PORT=8472", defines, StaticConfigDefine)
	}
	if len(old.Values) != 0 {
		t.Errorf("4.19 node keeps load-time values %v", old.Values)
	}
	for _, p := range old.Problems {
		if p.Rule == "datapath-unloadable" {
			t.Errorf("4.19 node still warned: %s", p.Message)
		}
	}
	other := Resolve(cfg.Merge(Config{"mtu": "9000"}), kernel("4.19.232"), "")
	if other.Variant.ID == old.Variant.ID {
		t.Error("two MTUs on 4.19 share a variant; their values are compiled in")
	}
	lts := Resolve(cfg, kernel("5.10.0"), "")
	for _, d := range lts.Variant.Defines {
		if d.Name == StaticConfigDefine || d.Name == "MTU" {
			t.Errorf("5.10 variant has %s", d.Name)
		}
	}
	if len(lts.Values) == 0 {
		t.Error("5.10 node has no load-time values")
	}
	if again := Resolve(cfg.Merge(Config{"mtu": "9000"}), kernel("5.10.0"), ""); again.Variant.ID != lts.Variant.ID {
		t.Error("two MTUs on 5.10 got different variants")
	}
}

// The helper table answers for what the datapath calls and refuses what it
// does not know.
func TestSince(t *testing.T) {
	for what, want := range map[string]string{"helper:fib_lookup": "4.18", "helper:redirect_peer": "5.10", "map:LRUHash": "4.10", "prog:SchedCLS": "4.1"} {
		v, ok := Since(what)
		if !ok || !strings.HasPrefix(v.String(), want) {
			t.Errorf("Since(%q) = %v, %v; want %s", what, v, ok, want)
		}
	}
	if _, ok := Since("helper:no_such_helper"); ok {
		t.Error("Since knows a helper that does not exist")
	}
}

// A probe that contradicts the table is a mismatch naming the capability,
// the kernel and the table's claim; agreement is silent.
func TestCompareProbe(t *testing.T) {
	v := MustVersion("6.1.192")
	agree := map[Capability]bool{CapTCX: false, CapRedirectPeer: true, CapRingBuf: true}
	if got := CompareProbe("6.1.0-57-amd64", v, "Linux version 6.1.0-57-amd64 ... Debian 6.1.192-3", agree); len(got) != 0 {
		t.Errorf("agreeing probe: %v", got)
	}
	got := CompareProbe("6.1.0-57-amd64", v, "Debian", map[Capability]bool{CapTCX: true, CapRedirectPeer: true})
	if len(got) != 1 || got[0].Capability != CapTCX || got[0].Table || !got[0].Probed || got[0].Exception != "" {
		t.Fatalf("mismatch: %+v", got)
	}
	want := "attach:tcx: kernel 6.1.0-57-amd64 (6.1.192) has it, the table says it lacks it (documented minimum 6.6)"
	if got[0].String() != want {
		t.Errorf("String() = %q, want %q", got[0].String(), want)
	}
	saved := exceptions
	t.Cleanup(func() { exceptions = saved })
	exceptions = []Exception{{Capability: CapTCX, Distribution: "Debian", Series: V(6, 1, 0), Has: true, Reason: "backported"}}
	got = CompareProbe("6.1.0-57-amd64", v, "Debian", map[Capability]bool{CapTCX: true})
	if len(got) != 1 || got[0].Exception != "backported" {
		t.Errorf("documented exception: %+v", got)
	}
	if got := CompareProbe("6.1.0-57-amd64", v, "Ubuntu", map[Capability]bool{CapTCX: true}); len(got) != 1 || got[0].Exception != "" {
		t.Errorf("another distribution took Debian's exception: %+v", got)
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

// explain's IPv6 line names what the datapath does with IPv6: the host
// firewall only where it is on, never load balancing or NAT.
func TestIPv6StatusSaysWhatItGets(t *testing.T) {
	for _, fw := range []string{"false", "true"} {
		cfg := Config{"enable-ipv6": "true", "enable-host-firewall": fw, "routing-mode": "native", "kube-proxy-replacement": "true"}
		var got string
		for _, s := range Resolve(cfg, kernel("6.12.0"), "").Status {
			if s.Key == "IPv6" {
				got = s.Value
			}
		}
		if !strings.HasPrefix(got, "Network policy") || !strings.Contains(got, "no load balancing, NAT or masquerading") {
			t.Errorf("host firewall %s: IPv6 line %q", fw, got)
		}
		if hf := strings.Contains(got, "host firewall"); hf != (fw == "true") {
			t.Errorf("host firewall %s: IPv6 line %q mentions the host firewall: %v", fw, got, hf)
		}
	}
}

// TestEgressGatewayHasOverlayDevice: Cilium creates the overlay device for
// the egress gateway in native routing too (pkg/egressgateway asks
// pkg/datapath/tunnel with NewEnabler(true)), so pod traffic can reach its
// gateway node; the variant then has HAVE_ENCAP and the node the device's
// protocol and port, as in tunnel routing.
func TestEgressGatewayHasOverlayDevice(t *testing.T) {
	native := Config{"routing-mode": "native", "ipv4-native-routing-cidr": "10.0.0.0/8", "kube-proxy-replacement": "true",
		"enable-bpf-masquerade": "true", "enable-l7-proxy": "false"}
	with := func(extra Config) Config {
		c := Config{}
		maps.Copy(c, native)
		maps.Copy(c, extra)
		return c
	}
	for _, tc := range []struct {
		name     string
		cfg      Config
		device   bool
		protocol string // the load-time feature, when device
		port     string
	}{
		{"native", native, false, "", ""},
		{"native-egress-gateway", with(Config{"enable-egress-gateway": "true"}), true, "tunnel-vxlan", "8472"},
		{"native-egress-gateway-geneve", with(Config{"enable-egress-gateway": "true", "tunnel-protocol": "geneve"}), true, "tunnel-geneve", "6081"},
		{"native-egress-gateway-1.14", with(Config{"cilium-version": "1.14", "enable-ipv4-egress-gateway": "true"}), true, "tunnel-vxlan", "8472"},
		{"tunnel", Config{"routing-mode": "tunnel", "kube-proxy-replacement": "true"}, true, "tunnel-vxlan", "8472"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := Resolve(tc.cfg, kernel("6.1.0"), "")
			for _, p := range r.Problems {
				if p.Severity == diag.Error {
					t.Fatalf("problem: %+v", p)
				}
			}
			if got := r.On("tunnel-device"); got != tc.device {
				t.Errorf("tunnel-device on: %v, want %v", got, tc.device)
			}
			hasEncap := slices.ContainsFunc(r.Variant.Defines, func(d Define) bool { return d.Name == "HAVE_ENCAP" })
			if hasEncap != tc.device {
				t.Errorf("HAVE_ENCAP in the variant: %v, want %v (%v)", hasEncap, tc.device, r.Variant.Defines)
			}
			port := ""
			for _, v := range r.Values {
				if v.Var == "cfg_tunnel_port" {
					port = v.Value
				}
			}
			if port != tc.port {
				t.Errorf("cfg_tunnel_port %q, want %q", port, tc.port)
			}
			for _, f := range []string{"tunnel-vxlan", "tunnel-geneve"} {
				if got := r.On(f); got != (f == tc.protocol) {
					t.Errorf("%s on: %v", f, got)
				}
			}
			if tc.device && r.On("egress-gateway") && !r.On("tunnel") {
				for _, s := range r.Status {
					if s.Key == "Egress Gateway" && !strings.Contains(s.Value, "overlay device") {
						t.Errorf("status %q does not say the egress gateway uses the overlay device", s.Value)
					}
				}
			}
		})
	}
}
